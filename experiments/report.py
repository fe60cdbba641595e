"""The results report, docs/results.md, assembled from the studies' sections.

`python -m experiments report` writes it and draws its charts beside the results; a test
checks that the committed report is what the committed results give. Every figure in it is
computed by a study (experiments/studies/) from the results under results/: each folder's
table (runs.csv.gz) and its runs' config.json and summary.json, or a run's raw log where it
still has one. What is written by hand is in the studies: the claims, the commands that ran
them, the rule each verdict follows and the reasons offered where a claim is not reproduced.
"""

import os
import re
from typing import Callable

from errors import UserError
from experiments.studies import STUDIES
from experiments.studies.base import (NOT_MEASURED, NOT_REPRODUCED, NOT_TESTABLE, PARTLY,
                                      REPRODUCED, Section)


def summary(claims: list[Section]) -> str:
    """The table of every claim's verdict and the parts of it that do not hold."""
    return "\n".join(["| claim | verdict | what does not hold |", "|---|---|---|"]
                     + [f"| {s.title} | {s.verdict} | {'; '.join(s.not_holding) or '—'} |"
                        for s in claims])


def build(results: str, report_dir: str) -> tuple[str, list[tuple[str, Callable]]]:
    """The report's markdown and the charts it shows (path, a function drawing it)."""
    sections = [section for study in STUDIES for section in study.sections(results, report_dir)]
    claims = [s for s in sections if s.claim]
    lines = ["# Results", "",
             "Made by `python -m experiments report` from the run logs under `results/`; "
             "do not edit by hand. Accuracies are test accuracies in percent, mean ± "
             "standard error over seeds with their number n, unless a table says "
             "otherwise. A claim's verdict follows the rule its section states: "
             f"*{REPRODUCED}* (every part holds), *{PARTLY}* (some do), "
             f"*{NOT_REPRODUCED}* (none), *{NOT_TESTABLE}* (its data cannot be had on "
             f"this machine) or *{NOT_MEASURED}*.", "", summary(claims)]
    for section in sections:
        lines += ["", f"## {section.title}", ""]
        if section.claim:
            lines += [f"**Claim** ({section.source}): {section.claim}", "",
                      f"**Verdict: {section.verdict}.**", ""]
        lines.append(section.body)
    charts = [chart for section in sections for chart in section.charts]
    return "\n".join(lines) + "\n", charts


def measured(text: str) -> list[str]:
    """The claims whose verdict a report's summary table gives from measurements."""
    rows = re.findall(r"^\| (.+?) \| (.+?) \| .* \|$", text, re.MULTILINE)
    return [title for title, verdict in rows
            if verdict in (REPRODUCED, PARTLY, NOT_REPRODUCED)]


def write(results: str, out: str, draw: bool = True) -> list[str]:
    """Writes the report to `out` and, with `draw`, its charts; returns the charts' paths.
    An error before the work if `out` cannot be written; an error, `out` left as it was,
    if the logs measure no claim (a mistyped --results) or not every claim that the report
    already there shows measured."""
    from output import check_writable, write_text
    from plots.style import save

    check_writable(out, "--out")  # Before the work of reading every log.
    text, charts = build(results, os.path.dirname(os.path.abspath(out)))
    if not measured(text):
        raise UserError(f"{results} holds no run logs that the report reads (one folder an "
                        "experiment, as results/ has); point --results at the folder of run "
                        f"logs ({out} was not changed)")
    try:
        with open(out) as f:
            lost = [claim for claim in measured(f.read()) if claim not in measured(text)]
    except (OSError, UnicodeDecodeError):
        lost = []
    if lost:
        raise UserError(f"the logs in {results} do not measure {'; '.join(lost)}, which {out} "
                        "shows measured; point --results at the folder that holds their logs, "
                        f"or remove {out} first to write it without them ({out} was not "
                        "changed)")
    write_text(out, text, "--out")
    if draw:
        for path, make in charts:
            try:
                save(make(), path)
            except OSError as e:
                raise UserError(f"cannot write the chart {path} ({e.strerror or e}); {out} is "
                                "written: make its folder writable, or give --no-charts") \
                    from None
    return [path for path, _ in charts]
