"""A Ray sweep's storage: pushes that only ever name whole checkpoints, pulls that resume,
and the progress read from it (no cluster needed)."""

import io
import json
import os

import pytest

from errors import UserError
from experiments import sweep
from experiments.progress import SweepProgress
from experiments.storage import RunSync, Storage, StoredRuns
from tests.conftest import write_mnist_dir
from training import run_experiment


def _config(tmp_path, name="run", **changes):
    data = tmp_path / "mnist"
    if not data.exists():
        write_mnist_dir(data, n_train=40, n_test=20)
    return sweep.RunConfig(**{**dict(tasks=("id", "inv"), task_time=5, max_steps=30, batch=4,
                                      test_frequency=10, checkpoint_every=10,
                                      data_dir=str(data), mnist_train="all",
                                      log_dir=str(tmp_path / "scratch"), run_name=name),
                              **changes})


def test_pushes_name_only_whole_checkpoints_and_the_summary_comes_last(tmp_path):
    storage = Storage(str(tmp_path / "store"))
    config = _config(tmp_path)
    sync = RunSync(storage, "run", os.path.join(config.log_dir, "run"))
    written, seen = [], []
    write = storage.write_bytes

    def recording(name, relative, content):
        written.append(relative)
        write(name, relative, content)

    storage.write_bytes = recording

    def pushed():
        sync.push()
        # What the storage names at this moment is all there, and the log reaches it.
        state = storage.read_json("run", "checkpoint/state.json")
        files = os.listdir(storage.path("run", "checkpoint"))
        assert any(f.startswith(state["prefix"] + ".data") for f in files)
        assert f"{state['prefix']}.index" in files
        assert len(storage.read_bytes("run", "metrics.jsonl")) >= state["metrics_bytes"]
        seen.append(state["step"])

    run_experiment(config, progress_stream=io.StringIO(), on_checkpoint=pushed)
    sync.push()
    assert seen == [10, 20]
    assert written[-1] == "summary.json" and written.count("summary.json") == 1
    first = written.index("checkpoint/state.json")
    assert written.index("checkpoint/step-10.state.json") < first
    assert written.index("metrics.jsonl") < first
    assert ".lock" not in written
    assert storage.status("run") == "completed"
    # The storage keeps the checkpoints the run keeps, no more.
    local = sorted(os.listdir(os.path.join(config.log_dir, "run", "checkpoint")))
    assert sorted(os.listdir(storage.path("run", "checkpoint"))) == local
    # A push with nothing changed writes nothing.
    written.clear()
    sync.push()
    assert written == []


def test_a_run_pulled_from_its_checkpoint_resumes_to_the_uninterrupted_log(tmp_path):
    storage = Storage(str(tmp_path / "store"))
    whole = run_experiment(_config(tmp_path, log_dir=str(tmp_path / "whole")),
                           progress_stream=io.StringIO())
    cut = _config(tmp_path)
    sync = RunSync(storage, "run", os.path.join(cut.log_dir, "run"))
    run_experiment(cut, progress_stream=io.StringIO(), on_checkpoint=sync.push)
    # Its last push was at its checkpoint at step 20: as if its node was lost after it.
    assert storage.status("run") == "checkpoint"
    storage.pull("run", str(tmp_path / "elsewhere"))
    again = run_experiment(_config(tmp_path, log_dir=str(tmp_path / "elsewhere")),
                           progress_stream=io.StringIO(), resume=True)
    with open(os.path.join(again, "summary.json")) as f:
        assert json.load(f)["resumed_from_steps"] == [20]

    def records(run_dir):
        with open(os.path.join(run_dir, "metrics.jsonl")) as f:
            return [{k: v for k, v in json.loads(line).items() if k != "wall_time"}
                    for line in f]

    assert records(again) == records(whole)


def test_status_of_runs_in_the_storage_and_a_bad_storage(tmp_path):
    storage = Storage(f"file://{tmp_path}/store")  # A URI, through pyarrow's file systems.
    assert storage.status("none") is None
    storage.write_bytes("started", "metrics.jsonl", b"")
    assert storage.status("started") == "started"
    storage.write_bytes("half", "checkpoint/state.json", b"{}")
    assert storage.status("half") == "checkpoint"
    storage.write_bytes("done", "summary.json", json.dumps({"status": "completed"}).encode())
    assert storage.status("done") == "completed"
    storage.remove("half")
    assert storage.status("half") is None
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match="cannot be written"):
        Storage(str(tmp_path / "file" / "store"))


def test_a_storage_that_cannot_be_reached_is_one_line_before_any_run(tmp_path):
    """pyarrow raises OSError where it cannot reach the storage: resolving an S3 bucket's
    region offline, or here, without network, HDFS without its Java libraries."""
    from experiments.__main__ import main

    uri = "hdfs://127.0.0.1:1/sweeps"
    with pytest.raises(SystemExit, match=rf"^python -m experiments: error: --storage {uri} "
                                         r"cannot be reached \(.+\); check its address"):
        main(["run", "optimizer", "--quick", "--ray-address", "local", "--storage", uri,
              "--log-dir", str(tmp_path / "log")])
    assert not (tmp_path / "log").exists()


def test_a_storage_lost_after_it_was_opened_is_one_line(tmp_path):
    from experiments.ray_runner import pending_in_storage

    class Unreachable:
        def __getattr__(self, name):
            def call(*args, **kwargs):
                raise OSError("AWS Error NETWORK_CONNECTION during HeadObject operation")
            return call

    storage = Storage(str(tmp_path / "store"))
    storage.fs = Unreachable()
    spec = sweep.RunSpec("run", _config(tmp_path))
    with pytest.raises(UserError, match=r"cannot be reached \(AWS Error NETWORK_CONNECTION "
                                        r"during HeadObject operation\)"):
        pending_in_storage([spec], storage)
    for call in (lambda: storage.pull("run", str(tmp_path)), lambda: storage.remove("run")):
        with pytest.raises(UserError, match="cannot be reached"):
            call()


def test_the_progress_of_a_ray_sweep_is_read_from_its_storage(tmp_path):
    storage = Storage(str(tmp_path / "store"))
    specs = [sweep.RunSpec(name, _config(tmp_path, name=name, max_steps=100))
             for name in ("a", "b", "c")]
    storage.add_attempt("a", "node-1", 0)  # Before this sweep: not counted.
    ticks = iter(range(10 ** 6)).__next__  # A second between questions: each reads afresh.
    runs = StoredRuns(storage, clock=ticks)
    clock = iter(range(0, 1000, 30)).__next__
    out = io.StringIO()
    progress = SweepProgress(specs, out, interactive=False, clock=clock, runs=runs)
    assert progress.lines()[0].startswith("sweep: 0 of 3 done, 0 running, 0 failed;")
    storage.add_attempt("a", "node-1", 0)
    storage.write_bytes("a", "metrics.jsonl", (json.dumps({"step": 50}) + "\n").encode())
    storage.add_attempt("b", "node-2", 0)
    storage.add_attempt("b", "node-3", 40)  # Its node was lost; started again.
    storage.write_bytes("b", "metrics.jsonl", (
        json.dumps({"kind": "test", "step": 40, "test_accuracy": {"id": 0.5}}) + "\n"
        + json.dumps({"kind": "train", "step": 60}) + "\n").encode())
    lines = progress.lines()
    assert lines[0].startswith("sweep: 0 of 3 done, 2 running, 0 failed, 1 retried; "
                               "37% of the steps;")
    assert lines[1:] == ["  a: step 50 of 100",
                         "  b: step 60 of 100; test id 0.500 (started again 1 time(s))"]
    progress.ended(specs[1], {"status": "completed"}, "[1/3] b: accuracy 0.5")
    assert progress.lines()[0].startswith("sweep: 1 of 3 done, 1 running, 0 failed, 1 retried;")


def test_a_run_whose_node_is_gone_shows_as_waiting_to_start_again(tmp_path):
    storage = Storage(str(tmp_path / "store"))
    specs = [sweep.RunSpec(name, _config(tmp_path, name=name, max_steps=100))
             for name in ("a", "b")]
    live, now = {"node-1", "node-2"}, [0.0]
    runs = StoredRuns(storage, alive=lambda: set(live), clock=lambda: now[0])
    progress = SweepProgress(specs, io.StringIO(), interactive=False,
                             clock=iter(range(0, 1000, 30)).__next__, runs=runs)
    for name, node in (("a", "node-1"), ("b", "node-2")):
        storage.add_attempt(name, node, 0)
        storage.write_bytes(name, "metrics.jsonl", (json.dumps({"step": 50}) + "\n").encode())
    assert progress.lines()[0].startswith("sweep: 0 of 2 done, 2 running, 0 failed;")
    live.discard("node-2")
    assert progress.lines()[0].startswith("sweep: 0 of 2 done, 2 running,")  # Asked < 1 s ago.
    now[0] += 1
    reads, attempts = [], storage.attempts
    storage.attempts = lambda name: reads.append(name) or attempts(name)
    lines = progress.lines()
    assert sorted(reads) == ["a", "b"]  # Each run's starts read once for the whole block.
    storage.attempts = attempts
    assert lines[0].startswith("sweep: 0 of 2 done, 1 running, 0 failed, 1 lost with a node "
                               "(waiting to start again);")
    assert lines[2] == ("  b: its node was lost; waiting to start again from its latest "
                        "checkpoint (its last push: step 50)")
    storage.add_attempt("b", "node-3", 50)  # Ray started it again on a live node.
    live.add("node-3")
    now[0] += 1
    assert progress.lines()[0].startswith("sweep: 0 of 2 done, 2 running, 0 failed, "
                                          "1 retried;")
