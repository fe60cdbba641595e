"""task.py: flag parsing, the config it builds, and one-line errors without tracebacks."""

import dataclasses
import os
import subprocess
import sys

import pytest

import task
from tests.conftest import write_mnist_dir
from training import RunConfig

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run_main(*flags):
    with pytest.raises(SystemExit) as info:
        task.main(task.parse_flags(["task.py", *flags]))
    return info.value.code


def test_the_original_command_line_parses():
    args = task.parse_flags(["task.py", "--tasks", "id", "dog", "--task-time", "2000"])
    assert args.tasks == ["id", "dog"] and args.task_time == 2000


def test_every_flag_reaches_the_config(tmp_path):
    flags = ["--tasks", "inv", "ref", "--task-time", "7", "--max-steps", "9", "--batch", "3",
             "--learning-rate", "0.5", "--dropout", "0.5", "--optimizer", "adam",
             "--network", "fc", "fc", "--conv-filters", "4", "--fc-units", "6", "--norm",
             "batch", "--input-style", "channelplex", "--test-frequency", "2", "--test-examples", "50",
             "--train-summary-frequency", "5", "--seed", "11", "--mnist-source", "tfds",
             "--data-dir", "d", "--tfds-dir", "t", "--data-dog-dir", "g", "--dog-source", "tfds",
             "--dog-breeds", "a", "b", "--dog-test-fraction", "0.2", "--cache-dir", "c",
             "--mnist-train", "all", "--dog-decode", "antialiased",
             "--log-dir", "l", "--schedule", "episodes", "--criterion", "0.8",
             "--epoch-size", "500", "--max-epochs", "3", "--init", "he", "--task-signal",
             "--task-signal-scale", "2", "--shapes-size", "32", "40", "--shapes-train", "100",
             "--shapes-test", "50", "--shapes-seed", "3", "--checkpoint-every", "7",
             "--nondeterministic", "--head", "per-task",
             "--run-name", "r", "--gpu"]
    # The training modes exclude episodes and one another: two more command lines.
    joint = ["--tasks", "id", "inv", "--mode", "joint", "--loss-weighting", "fixed",
             "--loss-weights", "1", "0.5", "--pcgrad"]
    mitigated = ["--tasks", "id", "inv", "--ewc-lambda", "5", "--replay-size", "100"]
    defaults = RunConfig()
    changed = set()
    for line in (flags, joint, mitigated):
        config = task.config_from_flags(task.parse_flags(["task.py", *line]))
        changed |= {f.name for f in dataclasses.fields(RunConfig)
                    if getattr(config, f.name) != getattr(defaults, f.name)}
    assert changed == {f.name for f in dataclasses.fields(RunConfig)}


def test_the_shapes_preset_sets_sizes_and_flags_override_it():
    paper = task.config_from_flags(task.parse_flags(["task.py", "--shapes-preset", "paper"]))
    assert (paper.shapes_height, paper.shapes_width, paper.shapes_train, paper.shapes_test) \
        == (120, 160, 45000, 5000)
    mixed = task.config_from_flags(task.parse_flags(
        ["task.py", "--shapes-preset", "paper", "--shapes-train", "900"]))
    assert (mixed.shapes_height, mixed.shapes_train) == (120, 900)


@pytest.mark.parametrize("flags, message", [
    (["--tasks", "id", "bogus"], "unknown task 'bogus' in --tasks; known:"),
    (["--schedule", "bogus"], "unknown --schedule 'bogus'; use one of: switch, episodes"),
    (["--criterion", "1.5"], "--criterion is an accuracy in (0, 1]"),
    (["--network", "conv:x", "fc"], "unknown layer 'conv:x'"),
    (["--tasks", "id", "shapes-colour-red"], "cannot share a run"),
    (["--tasks", "shapes-colour-red", "--schedule", "episodes", "--epoch-size", "10"],
     "--epoch-size 10 is too small"),
    (["--network", "conv", "bogus"], "unknown layer 'bogus' in --network conv bogus; use conv"),
    (["--data-dir", "/nonexistent"], "--data-dir /nonexistent is not a directory; point it"),
    (["--max-steps", "0"], "--max-steps must be a positive integer"),
    (["--tasks", "id", "dog"], "the dog task needs dog images: give --data-dog-dir"),
    (["--seed", "100000000000000000000"], "--seed must lie between 0 and 4294967295"),
    (["--shapes-seed", "-1"], "--shapes-seed must lie between 0 and 4294967295"),
    (["--batch", "1000000"], "--batch 1000000 with --network conv fc (--conv-filters 64, "
                             "--fc-units 500) needs at least"),
    (["--network", "fc", "fc", "--fc-units", "100000000"], "GiB, more than this machine's"),
])
def test_bad_input_is_one_line_naming_the_fix(flags, message, tmp_path):
    code = _run_main(*flags, "--log-dir", str(tmp_path))
    assert code.startswith("task.py: error: ") and message in code and "\n" not in code
    assert os.listdir(tmp_path) == []  # Nothing was written.


def test_a_log_dir_that_is_a_file_is_named_as_such(tmp_path):
    (tmp_path / "log").write_text("")
    code = _run_main("--log-dir", str(tmp_path / "log"), "--max-steps", "1")
    assert code == f"task.py: error: --log-dir {tmp_path / 'log'} is a file, not a folder; " \
                   "choose a folder (nothing was written)"
    assert (tmp_path / "log").read_text() == ""


def _task_py(*flags, timeout=600):
    return subprocess.run([sys.executable, "task.py", *flags], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def test_tensorflows_start_up_lines_stay_out_of_the_one_line_error():
    result = _task_py("--tasks", "bogus")
    assert result.returncode == 1
    assert result.stderr.strip().startswith("task.py: error: unknown task 'bogus'")
    assert len(result.stderr.strip().splitlines()) == 1


def test_ctrl_c_while_tensorflow_loads_is_one_line_without_a_traceback(tmp_path):
    # A stand-in TensorFlow whose import is interrupted, as Ctrl-C during start-up would.
    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow" / "__init__.py").write_text("raise KeyboardInterrupt\n")
    result = subprocess.run([sys.executable, "task.py", "--tasks", "id"], cwd=REPO,
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert result.returncode == 130
    assert result.stderr == "task.py: interrupted while starting; nothing was written\n"


def test_help_lists_the_flags_and_exits_zero():
    result = _task_py("--tasks", "id", "dog", "--task-time", "2000", "--help")
    assert result.returncode == 0
    for flag in ("--tasks", "--task-time", "--network", "--input-style", "--norm", "--gpu"):
        assert flag in result.stdout


def test_a_truncated_idx_file_ends_in_one_line_and_no_traceback(tmp_path):
    write_mnist_dir(tmp_path, gzipped=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:1000])
    result = _task_py("--data-dir", str(tmp_path), "--log-dir", str(tmp_path / "log"))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("task.py: error:")]
    assert len(errors) == 1 and "truncated" in errors[0] and "replace it" in errors[0]
    assert not (tmp_path / "log").exists()


def test_a_bad_flag_value_is_one_line():
    result = _task_py("--max-steps", "many")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("task.py: error: argument")
    assert "see --help" in result.stderr and "usage:" not in result.stderr
