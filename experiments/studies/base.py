"""What every study shares: its report sections and verdicts, the results folders it reads
(and what their tables keep), and reading those folders' runs."""

import dataclasses
import os
import re
from typing import Callable

from experiments.tables import TRAIN_LINES, ResultsFolder

REPRODUCED, PARTLY, NOT_REPRODUCED = "reproduced", "partly reproduced", "not reproduced"
NOT_TESTABLE, NOT_MEASURED = "not testable here", "not measured yet"


@dataclasses.dataclass
class Section:
    """One part of the report; a claim's has its verdict, and a chart to draw."""

    title: str
    body: str
    claim: str | None = None
    verdict: str | None = None
    source: str = "the blog"  # Whose claim.
    charts: list[tuple[str, Callable]] = dataclasses.field(default_factory=list)
    not_holding: list[str] = dataclasses.field(default_factory=list)  # Parts, for the summary.


@dataclasses.dataclass(frozen=True)
class Table:
    """A folder under results/ that a study reads, made by `experiment` in `form` (None: not
    a grid of `python -m experiments run`), and which train lines its table keeps
    (tables.TRAIN_LINES: what the study's section and charts read)."""

    folder: str
    train: str = "none"
    experiment: str | None = None
    form: str | None = None

    def __post_init__(self):
        if self.train not in TRAIN_LINES:
            raise ValueError(f"train must be one of {TRAIN_LINES}, not {self.train!r}")


def verdict(passed: list[bool]) -> str:
    return REPRODUCED if all(passed) else PARTLY if any(passed) else NOT_REPRODUCED


def not_measured(title: str, claim: str, command: str) -> Section:
    return Section(title, "Not run at scale yet. The experiment that tests it:\n\n"
                          f"```sh\n{command}\n```", claim, NOT_MEASURED)


def rel(path: str, report_dir: str) -> str:
    """A link from the report to `path`."""
    return os.path.relpath(os.path.abspath(path), report_dir)


def folder(results: str, name: str) -> ResultsFolder:
    """The runs of results/`name`."""
    return ResultsFolder(os.path.join(results, name))


def summaries(results: str, name: str, pattern: str = "*-s*") -> dict[str, list[dict]]:
    """The summary.json of each complete run of results/`name` matching `pattern`, grouped
    by setting."""
    runs = folder(results, name)
    return {label: [runs.summary(key) for key in keys]
            for label, keys in runs.by_setting(pattern).items()}


def code_versions(runs: ResultsFolder, keys: list[str]) -> list[str]:
    """The code versions that made the runs (config.json's `code_version`), sorted."""
    return sorted({str(runs.config(key).get("code_version", "unknown")) for key in keys})


def draw(chart: str, runs: list) -> Callable:
    """A function drawing one of plots' charts of `runs`."""
    def make():
        from plots.charts import CHARTS

        return CHARTS[chart][0](runs)
    return make


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def short(part: str) -> str:
    """A part's name without a closing parenthesis that says how it is measured (one of
    several words: "(2000)" stays)."""
    return re.sub(r" \([^()]* [^()]*\)$", "", part)
