"""A blog claim in each form it is measured in: this project's MNIST and fashion forms and
the original code's runs at the fashion form's settings, set beside what the blog says,
part by part, each form with its setting, command and chart."""

import dataclasses
import os
import re
from typing import Callable

from experiments.stats import Measure
from experiments.studies.base import (Section, Table, draw, folder, not_measured, rel, short,
                                      verdict)
from rundir import read_json_object

# The forms a blog claim is measured in: a column heading, and the folder under results/ that
# holds an experiment's runs in that form. This project's MNIST form (`inv` standing in for the
# dogs) and its fashion form (Fashion-MNIST, a second domain), and the original code's runs at
# the fashion form's settings (fidelity.original_sweep: LOG_DIR/<setting>/<i>/).
BLOG_FORMS = (("this project, MNIST form", "{experiment}"),
              ("this project, fashion form", "{experiment}-fashion"),
              ("the original, fashion form", "original/{experiment}-fashion"))
FORM_NAMES = ("mnist", "fashion", "fashion")  # The grid's form each folder holds.
COMPARISON_RULE = ("A part holds when the difference it names is in the claimed direction "
                   "by more than two standard errors (over seeds); \"no more\" or \"no "
                   "better\" holds when it is not above by more than two.")


def tables(experiment: str, train: str) -> tuple[Table, ...]:
    """The folders of a blog experiment's forms, each table keeping `train`'s train lines."""
    return tuple(Table(name.format(experiment=experiment), train, experiment, form)
                 for (_, name), form in zip(BLOG_FORMS, FORM_NAMES))


def form_runs(results: str, name: str) -> tuple[dict[str, list], list]:
    """One form's complete runs of an experiment, loaded, by setting (NAME-sSEED, or the
    original's SETTING/<i>), and the same runs as its chart draws them. The original's runs
    get the setting's config that fidelity.original_sweep wrote beside them (setting.json),
    since its logs name only their tasks, style, optimizer, network and task time; its
    chart draws them as their logs name them."""
    runs = folder(results, name)
    pattern = "*" if name.startswith("original/") else "*-s*"
    groups, charted = {}, []
    for label, keys in runs.by_setting(pattern).items():
        loaded = [runs.run(key) for key in keys]
        charted += loaded
        written = read_json_object(os.path.join(runs.path, label, "setting.json"))
        if name.startswith("original/") and written is not None:
            loaded = [dataclasses.replace(run, config={**written, **run.config})
                      for run in loaded]
        groups[label] = loaded
    return groups, charted


def _cell(figures: str, ok: bool) -> str:
    return f"{figures}: {'yes' if ok else 'no'}"


def _forms_table(columns: dict[str, list[tuple[str, str, bool]]], blog: list[str]) -> str:
    """The parts of a claim (rows): what the blog says of each (`blog`, in the parts' order),
    and how each form measures it (columns): figures and whether the part holds; "—" where
    a form has no such part."""
    parts = list(dict.fromkeys(short(what) for rows in columns.values() for what, _, _ in rows))
    cells = {form: {short(what): _cell(figures, ok) for what, figures, ok in rows}
             for form, rows in columns.items()}
    return ("| part | the blog | " + " | ".join(columns) + " |\n|---|---|"
            + "---|" * len(columns) + "\n"
            + "\n".join(f"| {part} | {said} | " + " | ".join(cells[form].get(part, "—")
                                                             for form in columns) + " |"
                         for part, said in zip(parts, blog)))


def _where_they_part(columns: dict[str, list[tuple[str, str, bool]]]) -> str:
    """For each part that does not hold in this project's fashion form, whether it holds in
    the original at the same settings: where the blog, the original and this project part."""
    project, original = columns.get(BLOG_FORMS[1][0]), columns.get(BLOG_FORMS[2][0])
    if project is None:
        return ""
    failing = [short(what) for what, _, ok in project if not ok]
    if not failing:
        return ("Every part measured in this project's fashion form holds, as the blog says"
                + (" and as the original's runs show" if original and all(
                    ok for _, _, ok in original) else "") + ".")
    if original is None:
        return (f"Not holding in the fashion form: {'; '.join(failing)}. The original has not "
                "been run at these settings yet, so whether the blog, the original code or "
                "this project is at odds is open.")
    held = {short(what): ok for what, _, ok in original}
    lines = []
    for part in failing:
        if part not in held:
            lines.append(f"- {part}: not measured in the original")
        elif held[part]:
            lines.append(f"- {part}: holds in the original but not here, a fidelity defect "
                         "to find")
        else:
            lines.append(f"- {part}: does not hold in the original either: the original code "
                         "and this project agree, and the blog's reading is at odds with both")
    return "Where they part (the fashion form):\n\n" + "\n".join(lines)


def _block(title: str, form: str, measured, command: str, chart: str, report_dir: str) -> str:
    """One form's part of a claim: its setting, command, figures, parts and chart."""
    parts, setting, why, *details = measured
    failing = not all(ok for _, _, ok in parts)
    return (f"### {form[0].upper()}{form[1:]}\n\n{setting}\n\n```sh\n{command}\n```"
            + "".join(f"\n\n{text}" for text in details)
            + "\n\n" + "\n".join(f"- {what}: {figures}: {'yes' if ok else 'no'}"
                                 for what, figures, ok in parts)
            + (f"\n\n{why}" if why and failing else "")
            + f"\n\n![{title}, {form}]({rel(chart, report_dir)})")


@dataclasses.dataclass(frozen=True)
class Claim:
    """A blog claim: its title and words, the experiment that tests it, the command that
    made its MNIST form's runs (the other forms' are at the blog's scale), what the blog
    says of each part, the chart of each form's runs, and `parts(groups)`, which gives one
    form's (parts, the setting in words, what was found where a part fails[, tables of its
    figures]) from its runs by setting, or None when they are too few."""

    title: str
    text: str
    experiment: str
    mnist_command: str
    blog: tuple[str, ...]
    chart: str
    parts: Callable

    def sections(self, results: str, report_dir: str) -> list[Section]:
        return blog_claim(self, results, report_dir)


def blog_claim(claim: Claim, results: str, report_dir: str,
               extra: dict[str, dict] | None = None) -> list[Section]:
    """A blog claim in each form measured. The parts table sets what the blog says of each
    part beside every form; the verdict is the fashion form's where measured, else the
    MNIST form's; each form's setting, command and chart follow. `extra`: groups of runs a
    form takes from elsewhere (the MNIST form's single-task runs, claims 1 and 2's)."""
    title, experiment, blog = claim.title, claim.experiment, claim.blog
    commands = blog_commands(experiment, claim.mnist_command)
    columns, blocks, charts = {}, [], []
    for form, name in BLOG_FORMS:
        name = name.format(experiment=experiment)
        groups, charted = form_runs(results, name)
        if groups and extra and form in extra:
            groups = {**groups, **extra[form]}
            charted = charted + [run for runs in extra[form].values() for run in runs]
        measured = claim.parts(groups) if groups else None
        if measured is None or form not in commands:
            continue
        columns[form] = measured[0]
        chart = os.path.join(results, name, f"{experiment}.png")
        charts.append((chart, draw(claim.chart, charted)))
        original = form == BLOG_FORMS[2][0]
        counts = Measure([len(runs) for runs in groups.values()])
        command = re.sub(r"--runs \d+" if original else r"--seeds \d+",
                         f"--{'runs' if original else 'seeds'} {max(counts.values)}",
                         commands[form])
        blocks.append(_block(title, form, measured, command, chart, report_dir))
    if not columns:
        return [not_measured(title, claim.text, "\n".join(commands.values()))]
    # A form measured in part (runs still missing) shows its column but gives no verdict.
    whole = [form for form in columns if len(columns[form]) == len(blog)] or list(columns)
    primary = next(form for form in (BLOG_FORMS[1][0], BLOG_FORMS[0][0], BLOG_FORMS[2][0])
                   if form in whole)
    body = (_forms_table(columns, blog) + "\n\n" + COMPARISON_RULE + " The verdict is the "
            + ("fashion form's" if primary == BLOG_FORMS[1][0] else
               "MNIST form's" if primary == BLOG_FORMS[0][0] else "original's")
            + " (a form without a column, or with a part left out, is not measured "
            "whole yet).\n\n"
            + ((_where_they_part(columns) + "\n\n") if BLOG_FORMS[1][0] in columns else "")
            + "\n\n".join(blocks))
    return [Section(title, body, claim.text, verdict([ok for _, _, ok in columns[primary]]),
                    charts=charts,
                    not_holding=[short(what) for what, _, ok in columns[primary] if not ok])]


def blog_commands(experiment: str, mnist: str) -> dict[str, str]:
    """The commands that make a blog experiment's runs in each form: the MNIST form's as it
    was run (`mnist`), the fashion form's and the original's at the blog's scale."""
    fashion = "--data-fashion-dir ../shared/datasets/fashion-mnist --test-frequency 500"
    return {BLOG_FORMS[0][0]: mnist,
            BLOG_FORMS[1][0]: f".venv/bin/python -m experiments run {experiment} --form fashion "
                              f"--seeds 3 {fashion} --log-dir results/{experiment}-fashion",
            BLOG_FORMS[2][0]: f".venv/bin/python -m fidelity.original_sweep PATH/TO/task.py "
                              f"{experiment} --form fashion --runs 3 {fashion} "
                              f"--log-dir results/original/{experiment}-fashion"}
