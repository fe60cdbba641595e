"""Runs a sweep's runs as Ray tasks on an existing cluster, or on a Ray instance started here.

With a storage (`--storage`: a shared path or an object store URI, experiments.storage),
each run works in a scratch folder on its node and copies its directory to the storage
at every checkpoint and at its end; a run whose worker or node is lost is started again
by Ray on another node (up to `retries` times), where it copies its directory back and
resumes from its latest checkpoint; the driver copies each completed run from the
storage into the sweep's log directory. Without a storage, each run returns its
directory's files when it ends, and a run started again after its node was lost starts
from step 0.
"""

import dataclasses
import os
import socket
import tempfile
import urllib.parse
from typing import Callable

import runtime
from errors import UserError
from experiments.storage import Storage
from experiments.sweep import (REPO_DIR, RunSpec, execute, refuse_other_settings,
                               set_aside_incomplete)
from rundir import CONFIG_FILE, is_complete, latest_state

# How long a cluster's address is given to answer a connection before the sweep stops.
CONNECT_TIMEOUT_S = 10.0
# What a remote node needs of the repository: the code and the bundled MNIST.
_EXCLUDES = [".venv", ".git", "log", "runs", "results", "**/__pycache__", ".pytest_cache"]


def _threads(threads: int) -> int:
    """TensorFlow's threads in a Ray task: the CPUs Ray gave it on its node."""
    import ray

    return int(ray.get_runtime_context().get_assigned_resources().get("CPU", threads)) \
        or threads


def _run_remotely(config_json: dict, threads: int) -> tuple[dict, dict[str, bytes]]:
    with tempfile.TemporaryDirectory() as scratch:
        result = execute({**config_json, "log_dir": scratch}, _threads(threads))
        run_dir = os.path.join(scratch, config_json["run_name"])
        files = {}
        for root, _, names in os.walk(run_dir):
            for name in names:
                path = os.path.join(root, name)
                with open(path, "rb") as f:
                    files[os.path.relpath(path, run_dir)] = f.read()
    return result, files


def _run_in_storage(config_json: dict, threads: int, storage_uri: str) -> dict:
    """Runs one run with its directory in the storage: resumed from the storage's latest
    checkpoint when there is one, started afresh otherwise, pushed at every checkpoint."""
    import ray

    from experiments.storage import RunSync

    storage, name = Storage(storage_uri), config_json["run_name"]
    status = storage.status(name)
    if status == "completed":  # Its earlier attempt ended after its last push.
        summary = storage.read_json(name, "summary.json")
        return {"status": "completed", "seconds": 0.0,
                "accuracy": summary["final_test_accuracy_all"]}
    if status == "started":  # Stopped before its first checkpoint: nothing to resume.
        storage.remove(name)
    with tempfile.TemporaryDirectory() as scratch:
        resume = status == "checkpoint"
        run_dir = os.path.join(scratch, name)
        sync = RunSync(storage, name, run_dir)
        if resume:
            storage.pull(name, scratch)
            sync.pulled()
        step = (latest_state(run_dir) or {}).get("step", 0) if resume else 0
        storage.add_attempt(name, ray.get_runtime_context().get_node_id(), step)
        result = execute({**config_json, "log_dir": scratch}, _threads(threads), resume,
                         on_checkpoint=sync.push)
        if os.path.isdir(run_dir):
            sync.push()  # Its end: the summary, completed or failed, last.
    return {**result, "resumed_from": step} if resume else result


def _write_files(run_dir: str, files: dict[str, bytes]) -> None:
    for relative, content in files.items():
        path = os.path.join(run_dir, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(content)


def check_answers(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """An error, within `timeout_s`, if nothing accepts a TCP connection at a host:port
    `address` (ray://host:port too): Ray itself would retry its GCS for many minutes.
    Other addresses (`auto`) are left to Ray."""
    parts = urllib.parse.urlsplit(address if "://" in address else f"//{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:  # A port that is not a number: Ray's own error names it.
        return
    if not host or port is None:
        return
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as e:
        why = "no answer" if isinstance(e, TimeoutError) else (e.strerror or str(e))
        raise UserError(f"cannot reach the Ray cluster at {address}: a connection to {host}:"
                        f"{port} got {why} within {timeout_s:g} s; start one with `ray start "
                        "--head` and give the address it prints, or use --ray-address local "
                        "(nothing was run)") from None


def connect(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Joins the cluster at `address` (an error within `timeout_s` if nothing answers
    there), or starts a Ray instance here for 'local'."""
    import ray

    if address == "local":
        ray.init(num_cpus=runtime.usable_cpus(), include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": REPO_DIR}})
    else:
        check_answers(address, timeout_s)
        try:
            ray.init(address=address, log_to_driver=False,
                     runtime_env={"working_dir": REPO_DIR, "excludes": _EXCLUDES})
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise UserError(f"cannot reach the Ray cluster at {address} ({e}); start one with "
                            "`ray start --head`, or use --ray-address local") from None


def check_feasible(nodes: list[dict], cpus: int, gpus: int) -> None:
    """An error, at once, if no live node of the cluster (ray.nodes()) has `cpus` CPUs and
    `gpus` GPUs for a run: Ray itself would wait for one for ever."""
    alive = [node["Resources"] for node in nodes if node.get("Alive")]
    if any(r.get("CPU", 0) >= cpus and r.get("GPU", 0) >= gpus for r in alive):
        return
    largest = max((r.get("CPU", 0) for r in alive), default=0)
    most_gpus = max((r.get("GPU", 0) for r in alive), default=0)
    asks = f"{cpus} CPU(s)" + (f" and {gpus} GPU(s)" if gpus else "")
    has = f"{largest:g} CPU(s)" + (f" and at most {most_gpus:g} GPU(s)" if gpus else "")
    raise UserError(f"no node of the Ray cluster can take a run: each asks for {asks}, and "
                    f"the largest of its {len(alive)} live node(s) has {has}; give "
                    "--cpus-per-run that fits, or add a node that has them")


def run_ray(specs: list[RunSpec], address: str, cpus: int,
            report: Callable[[RunSpec, dict], None],
            tick: Callable[[], None] = lambda: None, storage: Storage | None = None,
            retries: int = 3) -> dict[str, dict]:
    """Runs every spec as a Ray task asking for `cpus` CPUs (and a GPU when the run uses
    one), its TensorFlow threads as many as the CPUs it is given; an error at once if no
    node can take it. A task whose worker or node is lost is started again up to `retries`
    times (from its latest checkpoint in `storage`, if given). `tick` is called about every
    second while they run."""
    import ray

    connect(address)
    try:
        check_feasible(ray.nodes(), cpus, int(any(spec.config.gpu for spec in specs)))
        remote = ray.remote(_run_in_storage if storage else _run_remotely)
        pending = {}
        for spec in specs:
            task = remote.options(num_cpus=cpus, num_gpus=1 if spec.config.gpu else 0,
                                  max_retries=retries, retry_exceptions=False)
            arguments = (dataclasses.asdict(spec.config), cpus) + ((storage.uri,) if storage
                                                                  else ())
            pending[task.remote(*arguments)] = spec
        results = {}
        while pending:
            tick()
            done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            if not done:
                continue
            spec = pending.pop(done[0])
            try:
                if storage:
                    result = ray.get(done[0])
                    if result["status"] == "completed":
                        _gather(storage, spec)
                else:
                    result, files = ray.get(done[0])
                    _write_files(spec.run_dir, files)
            except Exception as e:  # Its retries were used up, or the cluster went away.
                result = {"status": "failed", "error": f"Ray task failed: {type(e).__name__}: {e}"}
            results[spec.name] = result
            report(spec, result)
        return results
    finally:
        ray.shutdown()


def live_nodes() -> set[str] | None:
    """The ids of the cluster's live nodes, or None when this process is not connected."""
    import ray

    if not ray.is_initialized():
        return None
    return {node["NodeID"] for node in ray.nodes() if node["Alive"]}


def _gather(storage: Storage, spec: RunSpec) -> None:
    """Copies a completed run from the storage into the sweep's log directory (unless that
    is the storage)."""
    if storage.is_local_path(spec.config.log_dir):
        return
    if os.path.exists(spec.run_dir) and not is_complete(spec.run_dir):
        set_aside_incomplete(spec)
    storage.pull(spec.name, spec.config.log_dir)


def pending_in_storage(specs: list[RunSpec], storage: Storage
                       ) -> tuple[list[RunSpec], list[RunSpec]]:
    """(completed, to run) of the specs, from the storage alone: a run the storage holds
    completed is done (and copied into the log directory if it is not there yet); one
    with a checkpoint there is marked resume (its task resumes it), the others start. A
    completed or resumable run made with other settings is an error: nothing is touched."""
    statuses = {spec.name: storage.status(spec.name) for spec in specs}
    refuse_other_settings(((spec, storage.read_json(spec.name, CONFIG_FILE)) for spec in specs
                           if statuses[spec.name] in ("completed", "checkpoint")),
                          f"--storage {storage.uri}")
    done, todo = [], []
    for spec in specs:
        status = statuses[spec.name]
        if status == "completed":
            if not is_complete(spec.run_dir):
                _gather(storage, spec)
            done.append(spec)
        else:
            todo.append(dataclasses.replace(spec, resume=status == "checkpoint"))
    return done, todo
