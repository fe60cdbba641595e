"""A one-line progress display: step, active task, latest accuracies, speed and time left."""

import sys
import time
from typing import TextIO


class Progress:
    """Redraws one line on a terminal; elsewhere (logs, CI) prints a line per evaluation."""

    def __init__(self, total_steps: int, stream: TextIO | None = None, unit: str = "steps"):
        self.total = total_steps
        self.unit = unit
        self.stream = stream or sys.stderr  # As it is now, not as it was at import.
        self.interactive = self.stream.isatty()
        self.start = time.monotonic()
        self.accuracies: dict[str, float] = {}
        self._last_draw = 0.0

    def update(self, step: int, active_task: str, accuracies: dict[str, float] | None = None):
        """Reports progress at `step` (of the unit counted); `accuracies` (task -> test
        accuracy) after an evaluation."""
        if accuracies is not None:
            self.accuracies = accuracies
        now = time.monotonic()
        if self.interactive and (accuracies is not None or now - self._last_draw > 0.2):
            self._last_draw = now
            self.stream.write("\r" + self._line(step, active_task, now) + "\x1b[K")
            self.stream.flush()
        elif not self.interactive and accuracies is not None:
            self.stream.write(self._line(step, active_task, now) + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()

    def _line(self, step: int, active_task: str, now: float) -> str:
        elapsed = now - self.start
        fraction = step / self.total if self.total else 1.0
        width = 20
        filled = int(width * fraction)
        bar = "#" * filled + "." * (width - filled)
        left = elapsed * (1 - fraction) / fraction if fraction > 0 else float("nan")
        accuracies = " ".join(f"{name}={acc:.3f}" for name, acc in self.accuracies.items())
        rate = f"{step / elapsed if elapsed else 0:.1f} steps/s " if self.unit == "steps" else ""
        return (f"[{bar}] {step}/{self.total} {self.unit} task={active_task} {accuracies} "
                f"{rate}elapsed {_clock(elapsed)} left {_clock(left)}")


def _clock(seconds: float) -> str:
    if seconds != seconds:  # NaN: not known yet.
        return "?"
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
