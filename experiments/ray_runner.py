"""Runs a sweep's runs as Ray tasks on an existing cluster, or on a Ray instance started here.

Each task runs in a scratch directory on its node and returns the run directory's
files, which the driver writes under the sweep's log directory: the results
gather in one place whether or not the cluster shares a file system.
"""

import dataclasses
import os
import tempfile
from typing import Callable

import runtime
from errors import UserError
from experiments.sweep import REPO_DIR, RunSpec, execute

# What a remote node needs of the repository: the code and the bundled MNIST.
_EXCLUDES = [".venv", ".git", "log", "runs", "**/__pycache__", ".pytest_cache"]


def _run_remotely(config_json: dict, threads: int) -> tuple[dict, dict[str, bytes]]:
    import ray

    # TensorFlow's threads: the CPUs Ray gave this task on its node.
    threads = int(ray.get_runtime_context().get_assigned_resources().get("CPU", threads)) \
        or threads
    with tempfile.TemporaryDirectory() as scratch:
        result = execute({**config_json, "log_dir": scratch}, threads)
        run_dir = os.path.join(scratch, config_json["run_name"])
        files = {}
        for root, _, names in os.walk(run_dir):
            for name in names:
                path = os.path.join(root, name)
                with open(path, "rb") as f:
                    files[os.path.relpath(path, run_dir)] = f.read()
    return result, files


def _write_files(run_dir: str, files: dict[str, bytes]) -> None:
    for relative, content in files.items():
        path = os.path.join(run_dir, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(content)


def connect(address: str) -> None:
    """Joins the cluster at `address`, or starts a Ray instance here for 'local'."""
    import ray

    if address == "local":
        ray.init(num_cpus=runtime.usable_cpus(), include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": REPO_DIR}})
    else:
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
            tick: Callable[[], None] = lambda: None) -> dict[str, dict]:
    """Runs every spec as a Ray task asking for `cpus` CPUs (and a GPU when the run uses
    one), its TensorFlow threads as many as the CPUs it is given; an error at once if no
    node can take it. `tick` is called about every second while they run."""
    import ray

    connect(address)
    try:
        check_feasible(ray.nodes(), cpus, int(any(spec.config.gpu for spec in specs)))
        remote = ray.remote(_run_remotely)
        pending = {}
        for spec in specs:
            task = remote.options(num_cpus=cpus, num_gpus=1 if spec.config.gpu else 0,
                                  max_retries=0)
            pending[task.remote(dataclasses.asdict(spec.config), cpus)] = spec
        results = {}
        while pending:
            tick()
            done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            if not done:
                continue
            spec = pending.pop(done[0])
            try:
                result, files = ray.get(done[0])
                _write_files(spec.run_dir, files)
            except Exception as e:  # The task's worker died, or the cluster went away.
                result = {"status": "failed", "error": f"Ray task failed: {type(e).__name__}: {e}"}
            results[spec.name] = result
            report(spec, result)
        return results
    finally:
        ray.shutdown()
