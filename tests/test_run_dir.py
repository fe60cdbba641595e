"""A run directory's owner and its repairs: the lock, a resume that falls back to the older
checkpoint, a cut log refused untouched, a restart in place, every resume recorded."""

import glob
import io
import json
import os
import subprocess
import sys

import pytest

from errors import UserError
from tests.conftest import write_mnist_dir
from training import config_from_run_dir, run_experiment, smoke_config
from rundir import RunDirLock

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "mnist"
    write_mnist_dir(path, n_train=200, n_test=40)
    return str(path)


def _run(mnist, log_dir, **changes) -> str:
    """A finished 30-step run with checkpoints at steps 10 and 20."""
    settings = dict(data_dir=mnist, log_dir=str(log_dir), run_name="run", max_steps=30,
                    batch=8, task_time=10, test_frequency=10, checkpoint_every=10)
    return run_experiment(smoke_config(**{**settings, **changes}),
                          progress_stream=io.StringIO())


def _unfinish(run_dir: str) -> None:
    os.remove(os.path.join(run_dir, "summary.json"))  # As if killed before the end.


def _lines(run_dir: str) -> list[dict]:
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [{k: v for k, v in json.loads(line).items() if k != "wall_time"} for line in f]


def _files(run_dir: str) -> dict:
    found = {}
    for root, _, names in os.walk(run_dir):
        for name in names:
            with open(os.path.join(root, name), "rb") as f:
                found[os.path.relpath(os.path.join(root, name), run_dir)] = f.read()
    return found


def _resume(run_dir: str, **kwargs) -> str:
    return run_experiment(config_from_run_dir(run_dir), resume=True,
                          progress_stream=io.StringIO(), **kwargs)


def test_a_run_directory_has_one_writer_and_a_dead_owners_lock_is_no_obstacle(mnist, tmp_path):
    run_dir = _run(mnist, tmp_path)
    _unfinish(run_dir)
    held = RunDirLock(run_dir)
    try:
        before = _files(run_dir)
        result = subprocess.run([sys.executable, "task.py", "--resume", run_dir], cwd=REPO,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 1
        assert result.stderr == (f"task.py: error: {run_dir} is in use by another process (pid "
                                 f"{os.getpid()}); wait for it to end or stop it, then try "
                                 "again (nothing was changed)\n")
        assert _files(run_dir) == before
    finally:
        held.release()
    assert not os.path.exists(os.path.join(run_dir, ".lock"))
    # A lock file left by a process killed with -9 holds no lock: the resume goes on.
    with open(os.path.join(run_dir, ".lock"), "w") as f:
        f.write("999999\n")
    _resume(run_dir)


def test_a_resume_whose_latest_checkpoint_cannot_be_read_goes_on_from_the_one_before(
        mnist, tmp_path, caplog):
    whole = _run(mnist, tmp_path / "whole")
    run_dir = _run(mnist, tmp_path)
    _unfinish(run_dir)
    (latest,) = glob.glob(os.path.join(run_dir, "checkpoint", "step-20.data-*"))
    os.remove(latest)
    _resume(run_dir)
    assert "the latest checkpoint cannot be read (step 20:" in caplog.text
    assert "going on from the one before it, at step 10" in caplog.text
    assert _lines(run_dir) == _lines(whole)
    with open(os.path.join(run_dir, "summary.json")) as f:
        assert json.load(f)["resumed_from_steps"] == [10]


def test_no_readable_checkpoint_is_one_line_naming_restart(mnist, tmp_path):
    run_dir = _run(mnist, tmp_path)
    _unfinish(run_dir)
    for data in glob.glob(os.path.join(run_dir, "checkpoint", "step-*.data-*")):
        os.remove(data)
    before = _files(run_dir)
    with pytest.raises(UserError, match=r"no checkpoint in .* can be read \(step 20: .*; step "
                                        r"10: .*\); start the run afresh with --restart"):
        _resume(run_dir)
    assert _files(run_dir) == before


def test_a_damaged_state_or_summary_file_is_one_line_and_leaves_the_run_as_it_was(mnist,
                                                                                 tmp_path):
    run_dir = _run(mnist, tmp_path)
    _unfinish(run_dir)
    state_path = os.path.join(run_dir, "checkpoint", "state.json")
    with open(state_path) as f:
        state = f.read()
    without_time = {k: v for k, v in json.loads(state).items() if k != "train_time_s"}
    for damaged in ("{}", "[]", '{"step": "10", "prefix": "step-10", "metrics_bytes": 5}',
                    json.dumps(without_time)):
        with open(state_path, "w") as f:
            f.write(damaged)
        before = _files(run_dir)
        with pytest.raises(UserError, match="lacks a valid .*the checkpoint is damaged"):
            _resume(run_dir)
        assert _files(run_dir) == before
    with open(state_path, "w") as f:
        f.write(state)
    with open(os.path.join(run_dir, "summary.json"), "w") as f:
        f.write("[]")  # Not a summary: the run is taken as unfinished, and resumes.
    _resume(run_dir)
    with open(os.path.join(run_dir, "summary.json")) as f:
        assert json.load(f)["status"] == "completed"


def test_a_log_cut_shorter_than_its_checkpoint_says_is_refused_and_left_as_it_is(mnist,
                                                                                 tmp_path):
    run_dir = _run(mnist, tmp_path)
    _unfinish(run_dir)
    path = os.path.join(run_dir, "metrics.jsonl")
    for damage in (b"", b'{"step": 0, "kind": "test"}\n'):
        with open(path, "wb") as f:
            f.write(damage)
        before = _files(run_dir)
        with pytest.raises(UserError, match="metrics.jsonl holds .* bytes where its checkpoint "
                                            "at step 20 recorded .*it was cut or changed"):
            _resume(run_dir)
        assert _files(run_dir) == before


def test_a_run_stopped_before_its_first_checkpoint_restarts_in_place(mnist, tmp_path):
    whole = _run(mnist, tmp_path / "whole", checkpoint_every=0)
    run_dir = _run(mnist, tmp_path, checkpoint_every=0)
    _unfinish(run_dir)
    with open(os.path.join(run_dir, "notes.txt"), "w") as f:
        f.write("mine")  # Not the run's: a restart leaves it.
    with pytest.raises(UserError, match="no checkpoint to resume from .*start it afresh in "
                                        "place with --restart"):
        _resume(run_dir)
    result = subprocess.run([sys.executable, "task.py", "--restart", run_dir], cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert _lines(run_dir) == _lines(whole)
    assert not os.path.exists(os.path.join(run_dir, "checkpoint"))
    with open(os.path.join(run_dir, "notes.txt")) as f:
        assert f.read() == "mine"
    with pytest.raises(UserError, match="has completed; there is nothing to restart"):
        run_experiment(config_from_run_dir(run_dir), restart=True)


def test_every_resume_is_listed_even_one_that_reached_no_checkpoint(mnist, tmp_path):
    run_dir = _run(mnist, tmp_path, checkpoint_every=20)
    for _ in range(2):  # The first resume ends before any checkpoint: the second starts there too.
        _unfinish(run_dir)
        _resume(run_dir)
    with open(os.path.join(run_dir, "summary.json")) as f:
        assert json.load(f)["resumed_from_steps"] == [20, 20]


def test_a_full_disk_at_a_checkpoint_says_what_is_intact_and_how_to_go_on(tmp_path,
                                                                          monkeypatch):
    import errno

    import tensorflow as tf

    import training.checkpoint
    from models import build_model
    from training.checkpoint import Checkpointer
    from training.steps import make_optimizer

    model = build_model(("fc", "fc"), input_shape=(28, 28, 3), fc_units=8)
    optimizer = make_optimizer("sgd", 0.1)
    optimizer.build(model.trainable_variables)
    checkpointer = Checkpointer(str(tmp_path), model, optimizer, [iter(tf.data.Dataset.range(3))])
    write = training.checkpoint.write_json_atomic

    def full(path, obj):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(training.checkpoint, "write_json_atomic", full)
    with pytest.raises(UserError, match=r"\(No space left on device\); no checkpoint had been "
                                        rf"taken: free space .*then --restart {tmp_path}$"):
        checkpointer.save({"step": 10, "metrics_bytes": 0})
    monkeypatch.setattr(training.checkpoint, "write_json_atomic", write)
    checkpointer.save({"step": 10, "metrics_bytes": 0})
    monkeypatch.setattr(training.checkpoint, "write_json_atomic", full)
    with pytest.raises(UserError, match=r"the checkpoint at step 10 is intact: free space .*"
                                        rf"then --resume {tmp_path}$"):
        checkpointer.save({"step": 20, "metrics_bytes": 0})


def test_out_of_memory_in_training_is_one_line_and_the_summary_says_failed(mnist, tmp_path,
                                                                          monkeypatch):
    import tensorflow as tf

    import training.loop

    def exhausted(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")

    monkeypatch.setattr(training.loop, "train_steps", exhausted)
    with pytest.raises(UserError, match=r"^TensorFlow ran out of memory \(OOM when allocating "
                                        r"tensor\); lower --batch"):
        _run(mnist, tmp_path)
    with open(tmp_path / "run" / "summary.json") as f:
        assert json.load(f) == {"status": "failed",
                                "error": "out of memory: OOM when allocating tensor"}


def test_the_memory_floor_counts_weights_and_activations():
    from models.memory import memory_floor

    fc = memory_floor(("fc", "fc"), input_shape=(28, 28, 3), batch=1, fc_units=500)
    weights = 2352 * 500 + 500 + 500 * 10 + 10
    assert fc == 4 * (4 * weights + 2 * (2352 + 1000 + 20))
    assert memory_floor(("fc", "fc"), input_shape=(28, 28, 3), batch=101, fc_units=500) == \
        fc + 4 * 2 * 100 * (2352 + 1020)


def test_ctrl_c_after_the_run_directory_is_made_says_how_to_start_it_again(mnist, tmp_path,
                                                                          monkeypatch):
    import training.runner
    from errors import RunInterrupted

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training.runner, "Run", interrupted)
    with pytest.raises(RunInterrupted, match=r"interrupted while starting, before the run's "
                                             r"first step; start it again with --restart .*run$"):
        _run(mnist, tmp_path)
    with open(tmp_path / "run" / "summary.json") as f:
        assert json.load(f)["status"] == "interrupted"
    assert not os.path.exists(tmp_path / "run" / ".lock")  # Released.


def test_a_cut_latest_checkpoint_falls_back_to_the_one_before(mnist, tmp_path, caplog):
    """A .data file cut short makes reading raise IndexError, not TensorFlow's errors."""
    whole = _run(mnist, tmp_path / "whole")
    run_dir = _run(mnist, tmp_path)
    _unfinish(run_dir)
    (latest,) = glob.glob(os.path.join(run_dir, "checkpoint", "step-20.data-*"))
    os.truncate(latest, os.path.getsize(latest) // 2)
    _resume(run_dir)
    assert "going on from the one before it, at step 10" in caplog.text
    assert _lines(run_dir) == _lines(whole)


def _episodic_run(log_dir) -> str:
    """A finished episodic run: two tasks, two 60-step epochs each, a checkpoint (with its
    .npz of the epoch's mix) at every epoch's end."""
    config = smoke_config(
        schedule="episodes", tasks=("shapes-colour-red", "shapes-colour-blue"),
        network=("fc:8", "fc"), task_signal=True, optimizer="adam", learning_rate=0.001,
        batch=10, epoch_size=600, max_epochs=2, criterion=1.0, test_frequency=1000,
        shapes_height=16, shapes_width=16, shapes_train=100, shapes_test=20,
        cache_dir=str(log_dir / "cache"), log_dir=str(log_dir), run_name="run")
    return run_experiment(config, progress_stream=io.StringIO())


@pytest.mark.parametrize("damage", ["missing", "cut"])
def test_an_episodic_run_whose_latest_arrays_are_damaged_goes_on_from_the_one_before(
        tmp_path, caplog, damage):
    whole = _episodic_run(tmp_path / "whole")
    run_dir = _episodic_run(tmp_path)
    _unfinish(run_dir)
    with open(os.path.join(run_dir, "checkpoint", "state.json")) as f:
        latest = json.load(f)
    assert latest["arrays"]
    arrays = os.path.join(run_dir, "checkpoint", f"{latest['prefix']}.arrays.npz")
    if damage == "missing":
        os.remove(arrays)
    else:
        os.truncate(arrays, os.path.getsize(arrays) // 2)
    _resume(run_dir)
    assert "going on from the one before it" in caplog.text
    assert _lines(run_dir) == _lines(whole)


def _append(path: str, text: str) -> None:
    with open(path, "a") as f:
        f.write(text)


def _insert_line(path: str, line: str) -> None:
    """Puts `line` first in a JSON-lines file, and the checkpoints' lengths of it to match."""
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(line + "\n" + text)
    for state_path in glob.glob(os.path.join(os.path.dirname(path), "checkpoint", "*state.json")):
        with open(state_path) as f:
            state = json.load(f)
        state["metrics_bytes"] += len(line) + 1
        with open(state_path, "w") as f:
            json.dump(state, f)


@pytest.mark.parametrize("line", ['{"kind": "train"}', "[1, 2]", '{"step": 0, "kind": "test"}',
                                  '{"step": 0, "kind": "train", "loss": "x"}'])
def test_a_log_line_that_is_json_but_not_a_record_is_refused_before_anything_changes(
        mnist, tmp_path, line):
    run_dir = _run(mnist, tmp_path)
    _unfinish(run_dir)
    _insert_line(os.path.join(run_dir, "metrics.jsonl"), line)
    before = _files(run_dir)
    with pytest.raises(UserError, match=r"metrics.jsonl line 1 is not a record of this run "
                                        r"\(.*\); put back the run's own metrics.jsonl"):
        _resume(run_dir)
    assert _files(run_dir) == before


def test_a_torn_last_line_of_resumes_is_dropped_and_the_file_written_whole(mnist, tmp_path):
    run_dir = _run(mnist, tmp_path)
    _unfinish(run_dir)
    _append(os.path.join(run_dir, "resumes.jsonl"), '{"step": 10}\n{"st')
    _resume(run_dir)
    with open(os.path.join(run_dir, "resumes.jsonl")) as f:
        assert f.read() == '{"step": 10}\n{"step": 20}\n'
    with open(os.path.join(run_dir, "summary.json")) as f:
        assert json.load(f)["resumed_from_steps"] == [10, 20]
    _unfinish(run_dir)
    _append(os.path.join(run_dir, "resumes.jsonl"), 'oops\n{"step": 20}\n')
    before = _files(run_dir)
    with pytest.raises(UserError, match=r"resumes.jsonl line 3 is damaged.*mend or delete"):
        _resume(run_dir)
    assert _files(run_dir) == before


def test_a_file_in_place_of_a_tensorboard_folder_is_refused_before_anything_changes(
        mnist, tmp_path):
    import shutil

    run_dir = _run(mnist, tmp_path)
    _unfinish(run_dir)
    shutil.rmtree(os.path.join(run_dir, "test"))
    with open(os.path.join(run_dir, "test"), "w") as f:
        f.write("not a folder")
    before = _files(run_dir)
    with pytest.raises(UserError, match=r"run/test is not a folder, where the run keeps "
                                        r"TensorBoard events; move it away"):
        _resume(run_dir)
    assert _files(run_dir) == before


def test_a_tensorboard_folder_that_cannot_be_written_is_refused_before_anything_changes(
        mnist, tmp_path, monkeypatch):
    run_dir = _run(mnist, tmp_path)
    _unfinish(run_dir)
    train = os.path.join(run_dir, "train")
    access = os.access  # chmod does not bind root, who runs CI: the check is told instead.
    monkeypatch.setattr(os, "access", lambda path, mode: path != train and access(path, mode))
    before = _files(run_dir)
    with pytest.raises(UserError, match=r"run/train cannot be written; fix its permissions"):
        _resume(run_dir)
    assert _files(run_dir) == before


def test_a_failure_while_the_log_is_rewritten_is_one_line_that_says_to_resume_again(
        mnist, tmp_path, monkeypatch):
    """Not an AttributeError from closing writers that were never made."""
    import tensorflow as tf

    whole = _run(mnist, tmp_path / "whole")
    run_dir = _run(mnist, tmp_path)
    _unfinish(run_dir)
    make_writer = tf.summary.create_file_writer

    def denied(directory):
        if directory.endswith("test"):
            raise tf.errors.PermissionDeniedError(None, None, f"{directory}: Permission denied")
        return make_writer(directory)

    monkeypatch.setattr(tf.summary, "create_file_writer", denied)
    with pytest.raises(UserError, match=r"cannot rewrite the run log in .*Permission denied.*"
                                        r"then --resume .* again \(it goes on from the same"):
        _resume(run_dir)
    monkeypatch.setattr(tf.summary, "create_file_writer", make_writer)
    _resume(run_dir)
    assert _lines(run_dir) == _lines(whole)


def _no_space(*args, **kwargs):
    import errno

    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_at_the_start_removes_the_run_directory_so_the_command_can_run_again(
        mnist, tmp_path, monkeypatch):
    import rundir

    class FullLock:  # The lock's pid cannot be written.
        def __init__(self, file):
            self.file = file

        def flush(self):
            _no_space()

        def __getattr__(self, name):
            return getattr(self.file, name)

    def open_full(path, *args, **kwargs):
        file = open(path, *args, **kwargs)
        return FullLock(file) if path.endswith(".lock") else file

    monkeypatch.setattr(rundir, "open", open_full, raising=False)
    with pytest.raises(UserError, match=r"^cannot take hold of .*run \(No space left on device\)"
                                        r"; free space, then try again"):
        _run(mnist, tmp_path)
    assert os.listdir(tmp_path) == []
    monkeypatch.undo()
    monkeypatch.setattr(os, "fsync", _no_space)  # config.json cannot be written.
    with pytest.raises(UserError, match=r"^cannot start the run's log in .*run \(No space left "
                                        r"on device\); free space .*run the same command again"):
        _run(mnist, tmp_path)
    assert os.listdir(tmp_path) == []  # No folder, no config.json.tmp.
    monkeypatch.undo()
    _run(mnist, tmp_path)


def test_a_full_disk_as_a_restart_writes_config_json_keeps_the_old_one(mnist, tmp_path,
                                                                        monkeypatch):
    run_dir = _run(mnist, tmp_path, checkpoint_every=0)
    _unfinish(run_dir)
    with open(os.path.join(run_dir, "config.json")) as f:
        config = f.read()
    monkeypatch.setattr(os, "fsync", _no_space)
    with pytest.raises(UserError, match=r"\(No space left on device\); free space .*then "
                                        r"--restart .*run again$"):
        run_experiment(config_from_run_dir(run_dir), restart=True, progress_stream=io.StringIO())
    with open(os.path.join(run_dir, "config.json")) as f:
        assert f.read() == config
    assert not os.path.exists(os.path.join(run_dir, "config.json.tmp"))
