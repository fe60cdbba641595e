"""A sweep's live progress: runs done, running (each with its step and latest test accuracies),
failed, and an estimate of the time left.

On a terminal it is one block, redrawn in place every few seconds, below the lines
that report each run as it ends; elsewhere (a log file) it is printed as plain lines
every minute. A running run is read from its own directory, the end of its
metrics.jsonl, while its worker holds it (rundir.RunDirLock); a Ray sweep's runs are
read from its storage (experiments.storage.StoredRuns), which also tells which were
started again on another node and which wait to be, their node lost.
"""

import json
import os
import sys
import time
from typing import Callable, TextIO

from rundir import run_dir_owner

TAIL_BYTES = 256 * 1024  # How much of a metrics.jsonl's end is read for its latest lines.


def run_state(run_dir: str) -> dict | None:
    """A run's latest step and its latest test accuracies (None before its first test), from
    the end of its metrics.jsonl; None if it has none yet."""
    try:
        with open(os.path.join(run_dir, "metrics.jsonl"), "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - TAIL_BYTES))
            return state_from_lines(f.read().splitlines())
    except OSError:
        return None


def state_from_lines(lines: list[bytes]) -> dict | None:
    """run_state from the last lines of a metrics.jsonl; a line cut short (being written)
    is skipped."""
    step, accuracies = None, None
    for line in reversed(lines):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if step is None:
            step = record.get("step")
        if record.get("kind") == "test":
            accuracies = record.get("test_accuracy")
            break
    return None if step is None else {"step": step, "test_accuracy": accuracies}


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, minutes = seconds // 3600, seconds // 60 % 60
    return f"{hours} h {minutes:02d} min" if hours else (
        f"{minutes} min {seconds % 60:02d} s" if minutes else f"{seconds} s")


class LocalRuns:
    """What the progress reads of runs whose directories are on this machine (or on a
    shared file system): a run is under way while a live process holds its directory."""

    def running(self, spec) -> bool:
        return run_dir_owner(spec.run_dir) is not None

    def state(self, spec) -> dict | None:
        return run_state(spec.run_dir)

    def lost(self, spec) -> bool:
        return False

    def retried(self, spec) -> int:
        return 0


class SweepProgress:
    """Follows a sweep's runs (RunSpecs), read through `runs` (LocalRuns, or a Ray sweep's
    storage.StoredRuns); `ended` reports a run's end with its line, `tick` redraws or
    prints the progress when due, `close` ends the display."""

    def __init__(self, specs: list, stream: TextIO | None = None,
                 interactive: bool | None = None, interval: float | None = None,
                 clock: Callable[[], float] = time.monotonic, runs=None):
        self.specs = list(specs)
        self.runs = runs or LocalRuns()
        # sys.stdout as it is now, not as it was when this module was imported (a test's
        # captured stream, closed since).
        self.stream, self.clock = stream or sys.stdout, clock
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.interval = interval or (2.0 if self.interactive else 60.0)
        self.results: dict[str, dict] = {}
        self.start = self.last = clock()
        self.drawn = 0  # Lines of the block on the terminal now.
        self.retried: dict[str, bool] = {}  # Whether each ended run was started again.
        # Work is counted in steps when every run has a step budget, else in runs; a
        # resumed run's steps before this sweep are not this sweep's work.
        self.by_steps = all(spec.config.max_steps for spec in self.specs)
        self.before = {spec.name: (self.runs.state(spec) or {}).get("step") or 0
                       for spec in self.specs if spec.resume}

    def _running(self) -> list[tuple]:
        """(spec, its state) of each run not ended that is under way."""
        return [(spec, self.runs.state(spec)) for spec in self.specs
                if spec.name not in self.results and self.runs.running(spec)]

    def lines(self) -> list[str]:
        """The progress block: a summary line, then a line for each run under way."""
        elapsed = self.clock() - self.start
        running = self._running()
        completed = sum(r["status"] == "completed" for r in self.results.values())
        failed = len(self.results) - completed
        total = len(self.specs)
        if self.by_steps:
            budget = sum(spec.config.max_steps for spec in self.specs)
            finished = sum(spec.config.max_steps for spec in self.specs
                           if spec.name in self.results)
            under_way = sum(min((state or {}).get("step") or 0, spec.config.max_steps)
                            for spec, state in running)
            done = finished + under_way
            work = f"{done / budget:.0%} of the steps"
            done_here = done - sum(self.before.values())
            left = budget - done
        else:
            done, budget, left = len(self.results), total, total - len(self.results)
            work, done_here = f"{done} of {total} runs", done
        eta = (f"about {_duration(left * elapsed / done_here)} left" if done_here > 0 and left
               else "time left not known yet" if left else "nothing left")
        # Each run's (lost, times started again), asked once: a Ray sweep reads the storage.
        starts = {spec.name: (self.runs.lost(spec), self.runs.retried(spec))
                  for spec, _ in running}
        retried = sum(self.retried.values()) + sum(bool(again) for _, again in starts.values())
        lost = sum(gone for gone, _ in starts.values())
        head = (f"sweep: {completed} of {total} done, {len(running) - lost} running, "
                f"{failed} failed" + (f", {retried} retried" if retried else "")
                + (f", {lost} lost with a node (waiting to start again)" if lost else "")
                + f"; {work}; {eta} (elapsed {_duration(elapsed)})")
        body = []
        for spec, state in running:
            gone, again = starts[spec.name]
            if gone:
                body.append(f"  {spec.name}: its node was lost; waiting to start again from "
                            "its latest checkpoint" + (f" (its last push: step {state['step']:,})"
                                                       if state else ""))
                continue
            if state is None:
                body.append(f"  {spec.name}: starting")
                continue
            steps = (f"step {state['step']:,} of {spec.config.max_steps:,}"
                     if spec.config.max_steps else f"step {state['step']:,}")
            tests = state["test_accuracy"] or {}
            shown = " ".join(f"{task} {value:.3f}" for task, value in tests.items())
            body.append(f"  {spec.name}: {steps}" + (f"; test {shown}" if shown else "")
                        + (f" (started again {again} time(s))" if again else ""))
        return [head, *body]

    def _erase(self) -> None:
        if self.interactive and self.drawn:
            self.stream.write(f"\x1b[{self.drawn}F\x1b[J")
            self.drawn = 0

    def _show(self) -> None:
        block = self.lines()
        if self.interactive:
            self._erase()
            self.stream.write("".join(line + "\n" for line in block))
            self.drawn = len(block)
        else:
            self.stream.write("".join(f"progress: {line}\n" for line in block))
        self.stream.flush()
        self.last = self.clock()

    def ended(self, spec, result: dict, line: str) -> None:
        """A run ended: its line above the block (which is redrawn)."""
        self.results[spec.name] = result
        self.retried[spec.name] = bool(self.runs.retried(spec))
        self._erase()
        self.stream.write(line + "\n")
        self.stream.flush()
        if self.interactive:
            self._show()

    def tick(self) -> None:
        """Shows the progress if it is due."""
        if self.clock() - self.last >= self.interval:
            self._show()

    def close(self) -> None:
        """Takes the block away (a terminal's); the sweep's last lines follow."""
        self._erase()
        self.stream.flush()
