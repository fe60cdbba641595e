"""A sweep on a real multi-node Ray cluster (ray.cluster_utils.Cluster: a head and worker
nodes of one CPU each, as processes on 127.0.0.1) that loses a node mid-run and then
its driver: the storage keeps every run, a lost run resumes from its checkpoint on
another node, and a rerun of the sweep finishes only what was left."""

import dataclasses
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import pytest

from experiments.storage import Storage

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Seconds without any progress (no file of the storage written) after which an awaited
# event fails: only a hung cluster reaches it, however slow the machine.
LIMIT = 900


def _without_times(path):
    with open(path) as f:
        return [{k: v for k, v in json.loads(line).items() if k != "wall_time"} for line in f]


def _written(store):
    """What the storage holds, as (path, size) of each file: it changes as runs progress."""
    files = []
    for root, _, names in os.walk(store):
        for name in names:
            try:
                files.append((os.path.join(root, name), os.path.getsize(os.path.join(root, name))))
            except OSError:
                pass  # Removed as it was listed (a checkpoint replaced).
    return sorted(files)


def _await(what, condition, store, process=None):
    """Waits for an event (`condition()` true); fails if the driver ended first, or if
    nothing was written to the storage for LIMIT seconds."""
    last, deadline = None, None
    while not (value := condition()):
        assert process is None or process.poll() is None, f"the sweep ended before {what}"
        if (now := _written(store)) != last:
            last, deadline = now, time.monotonic() + LIMIT
        assert time.monotonic() < deadline, f"no {what}, and no progress in {LIMIT} s"
        time.sleep(0.05)
    return value


def _dead(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie (its parent, the killed node's raylet, has not reaped it) is dead too.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def _reference(config_json, log_dir):
    """The run uninterrupted, one TensorFlow thread as on a one-CPU node, in a fresh process."""
    from experiments import sweep

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        result = pool.submit(sweep.execute, {**config_json, "log_dir": log_dir}, 1).result()
    assert result["status"] == "completed", result
    return os.path.join(log_dir, config_json["run_name"])


def test_a_sweep_survives_a_lost_node_and_a_killed_driver(tmp_path):
    store, logs = tmp_path / "store", tmp_path / "logs"
    command = [sys.executable, "-m", "experiments", "run", "optimizer", "--quick", "--seeds", "2",
               "--scale", "2", "--checkpoint-every", "50",
               "--storage", str(store), "--log-dir", str(logs)]
    cluster = Cluster(initialize_head=True,
                      head_node_args={"num_cpus": 0, "node_ip_address": "127.0.0.1"})
    try:
        nodes = [cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1") for _ in range(2)]
        command += ["--ray-address", cluster.address]
        storage = Storage(str(store))
        names = ["00-optimizer-sgd-s0", "00-optimizer-sgd-s1", "01-optimizer-adam-s0",
                 "01-optimizer-adam-s1"]
        output = open(tmp_path / "first.txt", "w")
        # Ray replaces a loopback address by the machine's own, where nothing listens: this
        # keeps the driver on 127.0.0.1 with the nodes.
        env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
        driver = subprocess.Popen(command, cwd=REPO, stdout=output, stderr=subprocess.STDOUT,
                                  env=env)

        # A node is lost while its run is mid-way, past a checkpoint.
        def checkpointed():
            return next((name for name in names if storage.status(name) == "checkpoint"), None)

        lost = _await("checkpoint", checkpointed, store, driver)
        [first] = storage.attempts(lost)
        [node] = [node for node in nodes if node.node_id == first["node"]]
        cluster.remove_node(node, allow_graceful=False)
        nodes.remove(node)
        nodes.append(cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1"))
        _await("a second start of the lost run", lambda: len(storage.attempts(lost)) == 2,
               store, driver)

        # Then the driver is killed while some other run is mid-way, past a checkpoint.
        def other_checkpointed():
            return next((name for name in names
                         if name != lost and storage.status(name) == "checkpoint"), None)

        cut = _await("a second checkpointed run", other_checkpointed, store, driver)
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        # The job's tasks end with their driver; wait for each one's worker to go.
        for name in names:
            for attempt in storage.attempts(name):
                _await(f"the end of {name}'s worker", lambda: _dead(attempt["pid"]), store)
        before = {name: storage.read_bytes(name, "summary.json") for name in names
                  if storage.status(name) == "completed"}
        checkpoint_step = storage.read_json(cut, "checkpoint/state.json")["step"]

        with open(tmp_path / "rerun.txt", "w") as output:
            rerun = subprocess.Popen(command, cwd=REPO, stdout=output,
                                     stderr=subprocess.STDOUT, env=env)
            _await("end of the rerun", lambda: rerun.poll() is not None, store)
        printed = (tmp_path / "rerun.txt").read_text()
        assert rerun.returncode == 0, printed
        assert (f"4 runs in {logs}, {len(before)} already complete, {4 - len(before)} to run"
                in printed)
        assert "resumed from checkpoints" in printed
    finally:
        cluster.shutdown()

    for name in names:  # Every run complete, in the storage and in the log directory.
        assert storage.status(name) == "completed"
        with open(logs / name / "summary.json") as f:
            assert json.load(f)["status"] == "completed"
    for name, summary in before.items():  # What was done was not done again.
        assert storage.read_bytes(name, "summary.json") == summary
    # The lost run started again on another node from its checkpoint, not from step 0.
    again = storage.attempts(lost)  # (A third, if the driver was killed before it ended.)
    assert len(again) >= 2 and again[1]["node"] != again[0]["node"]
    assert again[1]["from_step"] > 0
    with open(logs / lost / "summary.json") as f:
        assert json.load(f)["resumed_from_steps"][0] == again[1]["from_step"]
    # The run cut with its driver resumed from its checkpoint in the storage.
    assert storage.attempts(cut)[-1]["from_step"] == checkpoint_step > 0
    total = storage.read_json(lost, "config.json")["max_steps"]
    print(f"\nnode lost: {lost} started again on another node from step "
          f"{again[1]['from_step']} of {total}; driver killed: {len(before)} complete run(s) "
          f"left as they were, {cut} resumed from step {checkpoint_step}")
    # And each interrupted run's log is the uninterrupted run's.
    for name in (lost, cut):
        config = storage.read_json(name, "config.json")
        fields = {field.name for field in dataclasses.fields(_run_config())}
        reference = _reference({k: v for k, v in config.items() if k in fields},
                               str(tmp_path / "reference"))
        assert (_without_times(logs / name / "metrics.jsonl")
                == _without_times(os.path.join(reference, "metrics.jsonl")))


def _run_config():
    from training.config import RunConfig

    return RunConfig
