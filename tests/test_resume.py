"""Runs that survive: kill and resume, determinism, the divergence guard, the log on resume."""

import errno
import glob
import io
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import training.loop
from errors import RunDiverged, UserError
from tests import method_cases
from tests.conftest import write_mnist_dir
from training import config_from_run_dir, run_experiment, smoke_config
from rundir import latest_state
from training.run_log import RunLog

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _lines(run_dir):
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def _without_times(records):
    return [{k: v for k, v in r.items() if k != "wall_time"} for r in records]


def _events(run_dir):
    """Every TensorBoard scalar of the run: (writer, tag, step, value), in order."""
    import tensorflow as tf

    scalars = []
    for path in glob.glob(os.path.join(run_dir, "*", "events.out.tfevents.*")):
        writer = os.path.basename(os.path.dirname(path))
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                scalars.append((writer, value.tag, event.step,
                                float(tf.make_ndarray(value.tensor))))
    return sorted(scalars)


def _state(step: int) -> dict:
    """What a checkpoint's state holds, at the least."""
    return {"step": step, "metrics_bytes": 0, "train_time_s": 0.0, "eval_time_s": 0.0,
            "wall_time_s": 0.0}


def _summary(run_dir):
    with open(os.path.join(run_dir, "summary.json")) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "mnist"
    write_mnist_dir(path, n_train=200, n_test=40)
    return str(path)


def _flags(mnist, log_dir, name, max_steps=600):
    return [*method_cases.RESUME_SETTINGS, "--max-steps", str(max_steps),
            "--test-frequency", "20", "--checkpoint-every", "60",
            "--data-dir", mnist, "--mnist-train", "all", "--log-dir", str(log_dir),
            "--run-name", name]


def _start(flags):
    """The run, its output to a file: a pipe nobody reads while the test waits would fill
    and block the run's next write (TensorFlow's log lines can pass 64 KiB)."""
    log_dir = flags[flags.index("--log-dir") + 1]
    output = open(os.path.join(log_dir, "output.txt"), "w")
    process = subprocess.Popen([sys.executable, "task.py", *flags], cwd=REPO, stdout=output,
                               stderr=subprocess.STDOUT, text=True)
    output.close()  # The child keeps its own copy.
    return process


def _output(process) -> str:
    """What a run started by _start printed, once it has ended (it ends by itself or by the
    test's signal)."""
    process.wait()
    with open(os.path.join(process.args[process.args.index("--log-dir") + 1],
                           "output.txt")) as f:
        return f.read()


def _wait_for_step(run_dir, beyond, process, limit=600):
    """Waits for the event: the run has logged a line past `beyond` and a checkpoint exists.
    The limit only catches a hung run: such a run takes about 15 s here, so it allows a
    machine forty times slower."""
    path = os.path.join(run_dir, "metrics.jsonl")
    deadline = time.monotonic() + limit
    while True:
        assert process.poll() is None, "the run ended before it could be stopped"
        assert time.monotonic() < deadline, f"the run logged nothing past step {beyond} in {limit} s"
        if os.path.exists(path) and latest_state(run_dir) is not None:
            with open(path) as f:
                steps = [json.loads(line)["step"] for line in f if line.endswith("\n")]
            if steps and steps[-1] > beyond:
                return
        time.sleep(0.02)


def _resume(run_dir):
    return subprocess.run([sys.executable, "task.py", "--resume", run_dir], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def uninterrupted(mnist, tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("whole")
    whole = subprocess.run([sys.executable, "task.py", *_flags(mnist, log_dir, "whole")],
                           cwd=REPO, capture_output=True, text=True, timeout=300)
    assert whole.returncode == 0, whole.stderr
    return str(log_dir / "whole")


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_run_resumes_to_the_same_log_as_an_uninterrupted_one(mnist, uninterrupted,
                                                                       tmp_path, how):
    run_dir = str(tmp_path / "stopped")
    process = _start(_flags(mnist, tmp_path, "stopped"))
    _wait_for_step(run_dir, 130, process)  # Past the checkpoint at 120: killed between two.
    process.send_signal(how)
    stderr = _output(process)
    if how == signal.SIGTERM:
        assert process.returncode == 128 + signal.SIGTERM
        assert "checkpointed; resume with --resume" in stderr
        assert _summary(run_dir)["status"] == "interrupted"
    else:
        assert process.returncode == -signal.SIGKILL
    stopped_at = latest_state(run_dir)["step"]
    assert 0 < stopped_at < 600

    resumed = _resume(run_dir)
    assert resumed.returncode == 0, resumed.stderr
    expected = _lines(uninterrupted)
    got = _lines(run_dir)
    assert [(r["step"], r["kind"]) for r in got] == [(r["step"], r["kind"]) for r in expected]
    assert _without_times(got) == _without_times(expected)  # Same accuracies and losses.
    # TensorBoard's events are cut back too: each step once, as in the uninterrupted run.
    assert _events(run_dir) == _events(uninterrupted)
    summary = _summary(run_dir)
    assert summary["status"] == "completed" and summary["resumed_from_steps"] == [stopped_at]
    assert summary["final_test_accuracy"] == _summary(uninterrupted)["final_test_accuracy"]


@pytest.mark.parametrize("extra", [
    pytest.param([flag for case in group for flag in case.flags],
                 id="+".join(case.label for case in group))
    for group in method_cases.resume_groups(method_cases.RESUME_SETTINGS)])
def test_a_killed_run_with_training_methods_resumes_to_the_same_log(mnist, tmp_path, extra):
    """Every training method's state comes back (each method's example and variants, as
    its declarations give them, packed into few runs: tests/method_cases.py): EWC's
    consolidated tasks, L2's anchor, SI's and MAS's importances, the replay mix of a
    period under way, the joint stream and the learned loss weights, LwF's copy (and,
    in van de Ven's form, the tasks counted so far), a rehearsal period's set, A-GEM's
    and GEM's memories (GEM's prepared for a dense network's one pass made again), the
    classes seen: the resumed log is the uninterrupted one."""
    whole = subprocess.run([sys.executable, "task.py", *_flags(mnist, tmp_path, "whole", 200),
                            *extra], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert whole.returncode == 0, whole.stderr
    run_dir = str(tmp_path / "stopped")
    process = _start([*_flags(mnist, tmp_path, "stopped", 200), *extra])
    _wait_for_step(run_dir, 130, process)  # Checkpoint 120 lies inside the third period.
    process.send_signal(signal.SIGKILL)
    _output(process)
    assert latest_state(run_dir)["step"] in (120, 180)
    resumed = _resume(run_dir)
    assert resumed.returncode == 0, resumed.stderr
    expected = _lines(str(tmp_path / "whole"))
    assert _without_times(_lines(run_dir)) == _without_times(expected)
    assert _summary(run_dir)["final_test_accuracy"] == _summary(
        str(tmp_path / "whole"))["final_test_accuracy"]


def test_the_same_seed_gives_the_same_numbers(mnist, tmp_path):
    config = smoke_config(data_dir=mnist, log_dir=str(tmp_path), max_steps=60, batch=8,
                          test_frequency=20)
    first = run_experiment(config, progress_stream=io.StringIO())
    second = run_experiment(config, progress_stream=io.StringIO())
    assert first != second
    assert _without_times(_lines(first)) == _without_times(_lines(second))
    other_seed = run_experiment(config.__class__(**{**config.to_json(), "seed": 1}),
                                progress_stream=io.StringIO())
    assert _without_times(_lines(other_seed)) != _without_times(_lines(first))


def test_a_nan_loss_stops_the_run_as_diverged_keeping_the_last_checkpoint(mnist, tmp_path,
                                                                          monkeypatch):
    real_steps = training.loop.train_steps
    done = []

    def failing_steps(model, optimizer, batches, count, objective):
        losses, accuracies = real_steps(model, optimizer, batches, count, objective)
        steps = np.arange(len(done), len(done) + int(count))
        done.extend(steps)
        return np.where(steps >= 45, np.nan, losses.numpy()), accuracies

    monkeypatch.setattr(training.loop, "train_steps", failing_steps)
    config = smoke_config(data_dir=mnist, log_dir=str(tmp_path), run_name="run", max_steps=100,
                          batch=8, test_frequency=10, checkpoint_every=20)
    with pytest.raises(RunDiverged, match="NaN or infinite at step 45.*step 40"):
        run_experiment(config, progress_stream=io.StringIO())
    run_dir = str(tmp_path / "run")
    summary = _summary(run_dir)
    assert summary["status"] == "diverged" and summary["diverged_at_step"] == 45
    assert latest_state(run_dir)["step"] == 40
    assert all(np.isfinite(r["loss"]) for r in _lines(run_dir) if r["kind"] == "train")


def test_a_diverging_learning_rate_ends_with_one_line(mnist, tmp_path):
    result = subprocess.run(
        [sys.executable, "task.py", "--tasks", "id", "--network", "fc", "fc", "--max-steps",
         "50", "--learning-rate", "1e20", "--batch", "8", "--data-dir", mnist, "--mnist-train",
         "all", "--log-dir", str(tmp_path), "--run-name", "run"], cwd=REPO, capture_output=True, text=True,
        timeout=300)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(
        "task.py: error: the loss became NaN or infinite at step")
    assert _summary(str(tmp_path / "run"))["status"] == "diverged"


def test_resume_needs_a_checkpoint_and_a_run_directory(mnist, tmp_path):
    with pytest.raises(UserError, match="cannot read its config.json"):
        config_from_run_dir(str(tmp_path / "nothing"))
    config = smoke_config(data_dir=mnist, log_dir=str(tmp_path), run_name="short",
                          max_steps=20, batch=8, checkpoint_every=0)
    run_dir = run_experiment(config, progress_stream=io.StringIO())
    with pytest.raises(UserError, match="has completed; there is nothing to resume"):
        run_experiment(config_from_run_dir(run_dir), resume=True)
    os.remove(os.path.join(run_dir, "summary.json"))  # As if killed before the end.
    with pytest.raises(UserError, match="no checkpoint to resume from"):
        run_experiment(config_from_run_dir(run_dir), resume=True)


def test_a_run_whose_task_meant_something_else_is_not_resumed(mnist, tmp_path):
    config = smoke_config(data_dir=mnist, log_dir=str(tmp_path), run_name="old",
                          tasks=("id", "inv"),
                          max_steps=20, batch=8, checkpoint_every=10)
    run_dir = run_experiment(config, progress_stream=io.StringIO())
    config_from_run_dir(run_dir)  # Its tasks mean what they meant: resumable.
    path = os.path.join(run_dir, "config.json")
    with open(path) as f:
        saved = json.load(f)
    saved["task_descriptions"]["inv"] = "MNIST with inverted intensities, 1 - x"
    with open(path, "w") as f:
        json.dump(saved, f)
    with pytest.raises(UserError, match="task 'inv' meant 'MNIST with inverted intensities.*"
                                        "resume it with the code that made it"):
        config_from_run_dir(run_dir)


class _FullDisk:
    """A file whose disk fills after `room` more bytes: a write then stores what fits and
    the next raises ENOSPC, as a real one does."""

    def __init__(self, file, room: int):
        self.file, self.room = file, room

    def write(self, data) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        written = self.file.write(data[:self.room])
        self.room -= written
        return written

    def __getattr__(self, name):
        return getattr(self.file, name)


def test_a_full_disk_is_one_line_naming_the_fix_and_leaves_no_torn_line(tmp_path):
    record = {"step": 0, "kind": "train", "active_task": "id", "train_accuracy": 0.5,
              "loss": 1.0}
    with pytest.raises(UserError) as raised:
        with RunLog(str(tmp_path), ["id"], {"tasks": ["id"]}) as log:
            log.write(record, last_checkpoint=None)
            whole = log.metrics_bytes()
            log._metrics = _FullDisk(log._metrics, room=10)
            log.write({**record, "step": 9}, last_checkpoint=None)
    # Closing the log (which flushed the same line again) added no second error.
    assert str(raised.value) == (f"cannot write the run log in {tmp_path} (No space left on "
                                 f"device); free space or fix permissions, then --restart "
                                 f"{tmp_path} (it had no checkpoint yet)")
    with open(tmp_path / "metrics.jsonl", "rb") as f:
        assert len(f.read()) == whole  # The 10 bytes that fitted are cut off again.
    log = RunLog(str(tmp_path), ["id"], {"tasks": ["id"]})
    log._metrics = _FullDisk(log._metrics, room=0)
    with pytest.raises(UserError, match=rf"then --resume {tmp_path} \(it goes on from its "
                                        r"checkpoint at step 20\)$"):
        log.write(record, last_checkpoint=20)
    log.close()


def test_a_hand_edited_config_with_a_wrong_type_is_one_line_naming_the_value(tmp_path):
    from training.config import RunConfig

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    saved = {**json.loads(json.dumps(smoke_config().to_json())), "learning_rate": "0.1",
             "dropout": None}
    with open(run_dir / "config.json", "w") as f:
        json.dump(saved, f)
    with pytest.raises(UserError, match=r"its config.json holds a value of the wrong type "
                                        r"\(learning_rate='0.1', dropout=None\); mend it"):
        config_from_run_dir(str(run_dir))
    saved.update(learning_rate=0.1, dropout=1)  # An int where a float goes is a float's value.
    with open(run_dir / "config.json", "w") as f:
        json.dump(saved, f)
    assert isinstance(config_from_run_dir(str(run_dir)), RunConfig)


def test_settings_flags_given_with_resume_are_refused_not_ignored(tmp_path):
    result = subprocess.run([sys.executable, "task.py", "--resume", str(tmp_path), "--max-steps",
                             "5", "--scenario", "class"], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 1
    assert result.stderr == ("task.py: error: --resume takes the run's own settings from its "
                             "config.json; drop --scenario --max-steps (other settings make a "
                             "new run)\n")


def _episodic_flags(log_dir, name, cache_dir):
    return ["--schedule", "episodes", "--tasks", "shapes-colour-red", "shapes-colour-blue",
            "shapes-shape-square", "--network", "conv3:4", "fc:16", "fc", "--init", "he",
            "--task-signal", "--optimizer", "adam", "--learning-rate", "0.001", "--batch", "10",
            "--epoch-size", "1000", "--max-epochs", "2", "--criterion", "1.0",
            "--test-frequency", "40", "--shapes-size", "24", "24", "--shapes-train", "300",
            "--shapes-test", "60", "--cache-dir", str(cache_dir), "--log-dir", str(log_dir),
            "--run-name", name]


@pytest.fixture(scope="module")
def uninterrupted_episodes(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("episodes")
    whole = subprocess.run(
        [sys.executable, "task.py", *_episodic_flags(log_dir, "whole", log_dir / "cache")],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert whole.returncode == 0, whole.stderr
    return str(log_dir / "whole")


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_episodic_run_resumes_to_the_same_log(uninterrupted_episodes, tmp_path, how):
    run_dir = str(tmp_path / "stopped")
    process = _start(_episodic_flags(tmp_path, "stopped", tmp_path / "cache"))
    _wait_for_step(run_dir, 130, process)  # Inside epoch 2 (100 steps an epoch).
    process.send_signal(how)
    _output(process)
    assert process.returncode == (128 + how if how == signal.SIGTERM else -how)
    stopped_at = latest_state(run_dir)["step"]
    if how == signal.SIGKILL:
        assert stopped_at % 100 == 0  # The last epoch end.
    resumed = _resume(run_dir)
    assert resumed.returncode == 0, resumed.stderr
    assert _without_times(_lines(run_dir)) == _without_times(_lines(uninterrupted_episodes))
    summary, expected = _summary(run_dir), _summary(uninterrupted_episodes)
    assert summary["episodes"] == expected["episodes"]
    assert summary["resumed_from_steps"] == [stopped_at]


def test_a_checkpoint_that_does_not_fit_the_run_is_one_clear_error(tmp_path):
    """A checkpoint written by another version of the code (here: another network) is
    refused with the fix, not a TensorFlow traceback."""
    import tensorflow as tf

    from models import build_model
    from training.checkpoint import Checkpointer
    from training.steps import make_optimizer

    def checkpointer(network):
        model = build_model(network, input_shape=(28, 28, 3), conv_filters=4, fc_units=8)
        optimizer = make_optimizer("sgd", 0.1)
        optimizer.build(model.trainable_variables)
        stream = iter(tf.data.Dataset.range(10))
        return Checkpointer(str(tmp_path), model, optimizer, [stream])

    checkpointer(("conv", "fc")).save(_state(5))
    with pytest.raises(UserError, match="does not fit this run's model.*start the run afresh"):
        checkpointer(("fc", "fc")).restore(lambda state, arrays: None)


def test_the_latest_checkpoint_and_the_one_before_are_kept(tmp_path):
    import tensorflow as tf

    from models import build_model
    from training.checkpoint import Checkpointer
    from training.steps import make_optimizer

    def checkpointer():
        model = build_model(("fc", "fc"), input_shape=(28, 28, 3), fc_units=8)
        optimizer = make_optimizer("sgd", 0.1)
        optimizer.build(model.trainable_variables)
        return Checkpointer(str(tmp_path), model, optimizer, [iter(tf.data.Dataset.range(3))])

    def kept():
        paths = glob.glob(str(tmp_path / "checkpoint" / "step-*"))
        return sorted({os.path.basename(p).split(".")[0] for p in paths})

    first = checkpointer()
    for step in (1, 2, 3):
        first.save(_state(step))
    assert kept() == ["step-2", "step-3"]
    resumed = checkpointer()  # A resumed run keeps what it restored from, then moves on.
    assert resumed.restore(lambda state, arrays: None)["step"] == 3
    resumed.save(_state(4))
    assert kept() == ["step-3", "step-4"]
    # What a save killed midway leaves (seen after SIGKILL during a save: the resumed
    # run's next checkpoint raised IsADirectoryError on it) goes at the next save.
    leftover = tmp_path / "checkpoint" / "step-5_temp"
    leftover.mkdir()
    (leftover / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"half")
    (tmp_path / "checkpoint" / "step-2.index").write_bytes(b"lone")
    resumed.save(_state(6))
    assert kept() == ["step-4", "step-6"]
