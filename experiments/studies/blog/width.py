"""The blog's claim 7: narrower networks (`fc fc`, by first-layer width) forget more."""

import math

from experiments.grid import Experiment, pair
from experiments.stats import Measure, greater, trend
from experiments.studies.blog import forms
from experiments.studies.blog.measures import pair_note, points, scale_note, seeds


def _width(form):
    return [dict(tasks=pair(form), task_time=2000, max_steps=30000, network=("fc", "fc"),
                 fc_units=units) for units in (50, 100, 200, 500, 1000, 2000)]


EXPERIMENTS = {
    "width": Experiment("fc fc with first-layer widths 50 to 2,000", "width", _width),
}
TABLES = forms.tables("width", "none")


def _parts(groups: dict[str, list]):
    if len(groups) < 2:
        return None
    from plots.metrics import accuracy_matrix, forgetting

    def forgot(run):
        acc, trained, _ = accuracy_matrix(run)
        return forgetting(acc, trained)

    ordered = sorted(groups.values(), key=lambda runs: runs[0].config["fc_units"])
    by_width = [(runs[0].config["fc_units"], Measure([forgot(r) for r in runs]))
                for runs in ordered]
    narrow_wide = greater(by_width[0][1], by_width[-1][1])
    slope, slope_se = trend([(math.log2(w), value) for w, m in by_width
                              for value in m.values])
    parts = [(f"the narrowest ({by_width[0][0]}) forgets more than the widest "
              f"({by_width[-1][0]})", points(*narrow_wide[:2]), narrow_wide[2]),
             ("forgetting falls as the width grows (least-squares slope over every run, "
              "per doubling of the width)", points(slope, slope_se) + " per doubling",
              slope < -2 * slope_se)]
    setting = (f"{pair_note(ordered[0])}, `--network fc fc`, first-layer widths " + ", ".join(
        f"{w:,} ({100 * m.mean:z.1f} ± {100 * m.se:z.1f})" for w, m in by_width)
        + f" (forgetting: each task's best earlier accuracy less its final, averaged; "
        f"{seeds(ordered[0])} each); {scale_note(ordered[0][0], 2000, 30000)}.")
    largest = max(by_width, key=lambda item: item[1].mean)
    why = (f"Why not: by this measure every width forgets little (at most "
           f"{100 * largest[1].mean:z.1f} points, at {largest[0]:,}), within the runs' spread"
           + (f": `{ordered[0][0].tasks[0]}` and `{ordered[0][0].tasks[-1]}` share the digits, "
              "and after many alternations each ends near its best; a pair that shares less "
              "(the dog or fashion form) is where width could matter."
              if ordered[0][0].tasks[-1] == "inv" else "."))
    return parts, setting, why


CLAIM = forms.Claim(
    title="7. Width", experiment="width", chart="width", parts=_parts,
    text="Narrower networks (`fc fc`, first-layer width) forget more.", blog=("yes",) * 2,
    mnist_command=".venv/bin/python -m experiments run width --scale 0.2 --seeds 3 "
                  "--test-frequency 200 --log-dir results/width")
sections = CLAIM.sections
