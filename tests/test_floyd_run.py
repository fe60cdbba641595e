"""floyd-run.sh: submits to floyd, to a Ray cluster or runs locally; --dry-run only prints."""

import os
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _stub(directory, name):
    """A stand-in command that records its arguments, one per line."""
    path = directory / name
    path.write_text(f'#!/bin/sh\nfor a in "$@"; do echo "$a"; done > "{directory}/{name}.args"\n')
    path.chmod(0o755)
    return directory / f"{name}.args"


def _launch(tmp_path, *args, **env):
    environment = {"PATH": f"{tmp_path}:/usr/bin:/bin", "HOME": str(tmp_path), **env}
    return subprocess.run([os.path.join(REPO, "floyd-run.sh"), *args], capture_output=True,
                          text=True, env=environment, timeout=60)


def test_floyd_submits_as_the_original(tmp_path):
    recorded = _stub(tmp_path, "floyd")
    result = _launch(tmp_path, "--", "--tasks", "id", "dog", "--task-time", "500")
    assert result.returncode == 0, result.stderr
    args = recorded.read_text().splitlines()
    assert args[:3] == ["run", "--tensorboard", "--gpu"]
    assert "davidmack/datasets/dogbreeds/1:/data-dog" in args
    command = args[-1]
    assert "pipenv sync" in command
    assert ("task.py --log-dir /output --data-dog-dir /data-dog --gpu --tasks id dog "
            "--task-time 500") in command


def test_floyd_runs_an_experiment(tmp_path):
    recorded = _stub(tmp_path, "floyd")
    assert _launch(tmp_path, "--experiment", "switching", "--", "--seeds", "3").returncode == 0
    assert ("-m experiments run switching --log-dir /output --data-dog-dir /data-dog --gpu "
            "--seeds 3") in recorded.read_text()


def test_ray_job_submit_when_ray_address_is_set(tmp_path):
    recorded = _stub(tmp_path, "ray")
    result = _launch(tmp_path, RAY_ADDRESS="http://head:8265", DOG_DIR="/data/dogs")
    assert result.returncode == 0, result.stderr
    args = recorded.read_text().splitlines()
    assert args[:4] == ["job", "submit", "--address", "http://head:8265"]
    assert args[args.index("--entrypoint-num-gpus") + 1] == "1"
    entrypoint = args[args.index("--") + 1:]
    assert entrypoint[:2] == ["python", "task.py"] and "--gpu" in entrypoint
    assert entrypoint[entrypoint.index("--data-dog-dir") + 1] == "/data/dogs"
    assert entrypoint[-9:] == ["--tasks", "id", "dog", "--task-time", "2000", "--max-steps",
                               "30000", "--input-style", "combined"]


def test_locally_with_gpu_and_dry_run_prints_without_running(tmp_path):
    recorded = _stub(tmp_path, "floyd")
    result = _launch(tmp_path, "--dry-run", "--", "--tasks", "id", "inv")
    assert result.returncode == 0
    assert "floyd run --tensorboard --gpu" in result.stdout
    assert not recorded.exists()  # Printed, not run.
    os.remove(tmp_path / "floyd")
    local = _launch(tmp_path, "--dry-run", "--", "--tasks", "id", "inv")
    assert "task.py --log-dir log --gpu --tasks id inv" in local.stdout


@pytest.mark.parametrize("args", [["--bogus"], ["--experiment"]])
def test_bad_options_are_refused(tmp_path, args):
    result = _launch(tmp_path, *args)
    assert result.returncode != 0 and result.stderr.strip()
