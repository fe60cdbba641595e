"""A sweep's live progress: what it reads of a running run, and what it shows."""

import io
import json
import os

from experiments.progress import SweepProgress, run_state
from experiments.sweep import RunSpec
from rundir import RunDirLock
from training.config import RunConfig


def _metrics(run_dir, lines, tail=""):
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, "metrics.jsonl"), "w") as f:
        f.writelines(json.dumps(line) + "\n" for line in lines)
        f.write(tail)


def test_a_runs_state_is_its_last_step_and_latest_test_and_a_cut_line_is_skipped(tmp_path):
    run_dir = str(tmp_path / "run")
    assert run_state(run_dir) is None
    _metrics(run_dir, [{"step": 0, "kind": "test", "test_accuracy": {"id": 0.1}},
                       {"step": 9, "kind": "train", "train_accuracy": 0.5}],
             tail='{"step": 19, "kind": "tr')
    assert run_state(run_dir) == {"step": 9, "test_accuracy": {"id": 0.1}}
    _metrics(run_dir, [{"step": 9, "kind": "train", "train_accuracy": 0.5}])
    assert run_state(run_dir) == {"step": 9, "test_accuracy": None}


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def _specs(tmp_path, count=3, max_steps=100):
    return [RunSpec(f"run-s{seed}", RunConfig(tasks=("id", "inv"), max_steps=max_steps,
                                              seed=seed, log_dir=str(tmp_path),
                                              run_name=f"run-s{seed}"))
            for seed in range(count)]


def test_the_block_counts_runs_and_steps_shows_each_running_run_and_the_time_left(tmp_path):
    specs = _specs(tmp_path)
    clock, out = Clock(), io.StringIO()
    progress = SweepProgress(specs, out, interactive=False, clock=clock)
    progress.ended(specs[0], {"status": "completed"}, "[1/3] run-s0: accuracy 0.900")
    _metrics(specs[1].run_dir, [{"step": 40, "kind": "test",
                                 "test_accuracy": {"id": 0.9, "inv": 0.8}},
                                {"step": 49, "kind": "train", "train_accuracy": 0.9}])
    _metrics(specs[2].run_dir, [{"step": 30, "kind": "train"}])  # Left by a dead worker.
    lock = RunDirLock(specs[1].run_dir)  # Its worker, alive.
    clock.now += 10
    try:
        assert progress.lines() == [
            "sweep: 1 of 3 done, 1 running, 0 failed; 50% of the steps; about 10 s left "
            "(elapsed 10 s)",
            "  run-s1: step 49 of 100; test id 0.900 inv 0.800"]
    finally:
        lock.release()
    assert out.getvalue() == "[1/3] run-s0: accuracy 0.900\n"  # Plain: no block yet.


def test_plain_progress_is_printed_every_interval_and_a_terminals_block_redrawn(tmp_path):
    specs = _specs(tmp_path, count=2)
    clock, out = Clock(), io.StringIO()
    progress = SweepProgress(specs, out, interactive=False, interval=60, clock=clock)
    clock.now += 59
    progress.tick()
    assert out.getvalue() == ""
    clock.now += 1
    progress.tick()
    assert out.getvalue() == ("progress: sweep: 0 of 2 done, 0 running, 0 failed; 0% of the "
                              "steps; time left not known yet (elapsed 1 min 00 s)\n")
    terminal = io.StringIO()
    progress = SweepProgress(specs, terminal, interactive=True, clock=clock)
    progress.tick()
    assert terminal.getvalue() == ""
    clock.now += 2
    progress.tick()
    progress.ended(specs[0], {"status": "failed", "error": "x"}, "[1/2] run-s0: FAILED: x")
    progress.close()
    # The one-line block, erased for the run's line, drawn again below it, erased at the end.
    assert terminal.getvalue() == (
        "sweep: 0 of 2 done, 0 running, 0 failed; 0% of the steps; time left not known yet "
        "(elapsed 2 s)\n\x1b[1F\x1b[J[1/2] run-s0: FAILED: x\n"
        "sweep: 0 of 2 done, 0 running, 1 failed; 50% of the steps; about 2 s left "
        "(elapsed 2 s)\n\x1b[1F\x1b[J")


def test_a_resumed_runs_earlier_steps_are_not_counted_as_this_sweeps_work(tmp_path):
    import dataclasses

    [spec] = _specs(tmp_path, count=1, max_steps=1000)
    spec = dataclasses.replace(spec, resume=True)
    _metrics(spec.run_dir, [{"step": 800, "kind": "train"}])
    clock = Clock()
    progress = SweepProgress([spec], io.StringIO(), interactive=False, clock=clock)
    _metrics(spec.run_dir, [{"step": 900, "kind": "train"}])
    lock = RunDirLock(spec.run_dir)
    clock.now += 50
    try:
        # 100 steps in 50 s here; 100 left: about 50 s, not the 6 s that 900 steps would say.
        assert progress.lines()[0] == ("sweep: 0 of 1 done, 1 running, 0 failed; 90% of the "
                                       "steps; about 50 s left (elapsed 50 s)")
    finally:
        lock.release()


def test_progress_writes_to_the_standard_streams_as_they_are_when_it_starts(tmp_path, monkeypatch):
    """Not as they were when the module was imported: a stream captured then (by a test
    run earlier in the same process) may be closed by now."""
    from training.progress import Progress
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    assert SweepProgress(_specs(tmp_path), interactive=False).stream is out
    assert Progress(10).stream is err
