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


def run_ray(specs: list[RunSpec], address: str, threads: int,
            report: Callable[[RunSpec, dict], None],
            tick: Callable[[], None] = lambda: None) -> dict[str, dict]:
    """Runs every spec as a Ray task (asking for a GPU when the run uses one); `tick` is
    called about every second while they run."""
    import ray

    connect(address)
    try:
        remote = ray.remote(_run_remotely)
        pending = {}
        for spec in specs:
            task = remote.options(num_cpus=threads, num_gpus=1 if spec.config.gpu else 0,
                                  max_retries=0)
            pending[task.remote(dataclasses.asdict(spec.config), threads)] = spec
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
