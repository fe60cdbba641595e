"""The original code, side by side: the original TF1 task.py and this project on the same
work, several runs each (fidelity.compare), every task's test accuracy at every test step."""

import io

from experiments.studies.base import Section, Table, folder

# (folder under results/fidelity/, the flags both were given, the original's runs).
FIDELITY = [
    ("id-inv-tt200", "--tasks id inv --task-time 200 --max-steps 800", 10),
    ("id-ref-inv-channelplex-tt200",
     "--tasks id ref inv --input-style channelplex --task-time 200 --max-steps 1200", 6),
]
EXPERIMENTS = {}
TABLES = tuple(Table(f"fidelity/{name}") for name, _, _ in FIDELITY)


def _numbered(key: str) -> int:
    return int("".join(c for c in key.rsplit("/", 1)[-1] if c.isdigit()) or 0)


def _table(results: str, name: str):
    """fidelity.compare's rows of both sides' runs, and its table as text."""
    from fidelity.compare import accuracy_table, compare, print_table

    runs = folder(results, f"fidelity/{name}")
    original = sorted(runs.keys("original/*"), key=_numbered)
    project = sorted(runs.keys("project/seed*"), key=_numbered)
    tasks, a = accuracy_table([runs.run(key) for key in original])
    _, b = accuracy_table([runs.run(key) for key in project])
    rows = compare(tasks, a, b, runs.config(project[0])["task_time"])
    text = io.StringIO()
    print_table(rows, text)
    return rows, text.getvalue()


def sections(results: str, report_dir: str) -> list[Section]:
    from experiments.stats import MARGIN, holds_zero

    parts = ["The original TF1 `task.py` (Octavian-ai/multiple-tasks; not in this repository) "
             "run under TensorFlow 2's `tf.compat.v1` through `fidelity.run_original`, "
             "unseeded, against this project with seeds 0 to n-1, on the same work "
             "([fidelity](fidelity.md) says how and what was patched). Each "
             "table is made again from the runs of both sides under `results/fidelity/`."]
    for name, flags, runs in FIDELITY:
        if not folder(results, f"fidelity/{name}").found:
            continue
        rows, table = _table(results, name)
        unshown = sum(holds_zero(r["interval"]) for r in rows)
        same = [r for r in rows if r["equivalent"]]
        higher = sum(r["difference"] > 0 for r in rows)
        spread = sum(r["original"]["sd"] > r["project"]["sd"] for r in rows)
        parts.append(
            f"`{flags}`, {rows[0]['original']['n']} runs of the original against "
            f"{rows[0]['project']['n']} seeds (`results/fidelity/{name}/`):\n\n"
            f"```sh\n.venv/bin/python -m fidelity.compare ORIGINAL_TASK_PY --runs {runs} "
            f"--out results/fidelity/{name} \\\n    -- {flags}\n```\n\n```\n{table}```\n\n"
            f"No difference is shown in {unshown} of {len(rows)} rows (the 90% bootstrap "
            f"interval of the difference, project less original, holds zero); the project's "
            f"mean is the higher in {higher} of them, and the original's runs spread the "
            f"wider in {spread}. Not differing is not being the same: the two are shown "
            f"equivalent within ±{100 * MARGIN:g} points (the interval inside the margin, two "
            f"one-sided tests at 5%) in {len(same)} of {len(rows)} rows"
            + (f"; where not, the runs' spread is too wide for {rows[0]['original']['n']} "
               "runs to tell (the widest interval "
               f"{100 * max(r['interval'][1] - r['interval'][0] for r in rows):z.1f} points)"
               if len(same) < len(rows) else "") + ".")
    parts.append(
        "Differences of the original that could play a part, not separated here: it "
        "trains 1% fewer steps (none on its test steps), and it draws its batches from "
        "one stream shared by all tasks.")
    return [Section("The original code, side by side", "\n\n".join(parts))]
