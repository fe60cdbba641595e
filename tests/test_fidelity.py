"""The tools that run the original task.py and compare it with this project."""

import io
import json
import math
import os

import numpy as np
import pytest

from errors import UserError
from experiments.stats import holds_zero
from fidelity import compare as C
from fidelity import run_original, tf1_mnist
from tests.conftest import write_mnist_dir
from tests.run_fixtures import write_original_run, write_run


def test_tf1_reader_holds_out_the_first_5000_and_scales_as_tf1(tmp_path):
    arrays = write_mnist_dir(tmp_path, n_train=5010, n_test=7)
    data = tf1_mnist.read_data_sets(str(tmp_path), one_hot=True)
    assert data.train.num_examples == 10 and data.validation.num_examples == 5000
    train = arrays["train-images-idx3-ubyte"]
    np.testing.assert_array_equal(data.train.images,
                                  np.multiply(train[5000:].reshape(10, 784).astype(np.float32),
                                              1.0 / 255.0))
    np.testing.assert_array_equal(data.train.labels.argmax(1),
                                  arrays["train-labels-idx1-ubyte"][5000:])
    assert data.test.images.shape == (7, 784) and data.test.labels.shape == (7, 10)


def test_tf1_reader_without_a_validation_split_keeps_every_training_image(tmp_path):
    """How the patched original reads Fashion-MNIST: all of it, as this project's fashion task."""
    write_mnist_dir(tmp_path, n_train=12, n_test=7)
    data = tf1_mnist.read_data_sets(str(tmp_path), one_hot=True, validation_size=0)
    assert data.train.num_examples == 12 and data.validation.images.shape == (0, 784)


def test_the_originals_patches_name_what_each_changes():
    """Every patch applies once to the original (checked when it runs, on a copy the project
    does not hold); the features it gains are flags that change nothing unless given."""
    sources = "".join(old for old, _ in run_original.PATCHES)
    assert "--fc-units" not in sources and "--data-fashion-dir" not in sources
    added = "".join(new for _, new in run_original.PATCHES)
    assert "default=500" in added and "default=None" in added
    assert "if 'fashion' in FLAGS.tasks else None" in added
    assert {"fc_units", "data_fashion_dir"} <= set(C.SHARED_SETTINGS)


def test_tf1_next_batch_shuffles_each_epoch_and_joins_a_batch_across_its_end(tmp_path):
    write_mnist_dir(tmp_path, n_train=5010, n_test=7)
    train = tf1_mnist.read_data_sets(str(tmp_path)).train
    np.random.seed(0)
    rows = [train.next_batch(4)[0] for _ in range(5)]  # 20 rows: two epochs of 10.
    first_epoch = np.concatenate(rows)[:10]
    second_epoch = np.concatenate(rows)[10:20]
    key = lambda a: sorted(map(bytes, a))  # noqa: E731
    assert key(first_epoch) == key(train.images) == key(second_epoch)  # Each row once an epoch.
    assert not np.array_equal(first_epoch, second_epoch)  # Reshuffled at the epoch's end.


def test_run_original_refuses_a_file_the_patches_do_not_fit(tmp_path):
    path = tmp_path / "task.py"
    path.write_text("import tensorflow as tf\nprint('not the original')\n")
    with pytest.raises(SystemExit, match="is not the original task.py"):
        run_original.patched_source(str(path))


def test_shared_flags_are_checked_and_the_original_runs_one_step_more():
    flags = ["--tasks", "id", "inv", "--task-time", "200", "--max-steps", "800"]
    args = C.parse_shared(flags)
    assert args.tasks == ["id", "inv"] and args.max_steps == 800
    command = C.original_command("/o/task.py", flags, 800, "/logs/0")
    assert command[command.index("--max-steps") + 1] == "801"
    assert command[-2:] == ["--log-dir", "/logs/0"] and "/o/task.py" in command
    with pytest.raises(UserError, match="only flags both tools share"):
        C.parse_shared(flags + ["--ewc-lambda", "1"])
    with pytest.raises(UserError, match="give --tasks and --max-steps"):
        C.parse_shared(["--tasks", "id"])


def test_compare_gives_each_sides_spread_and_welchs_t():
    original = {200: np.array([[0.9, 0.1], [0.8, 0.3], [0.7, 0.2]])}
    project = {200: np.array([[0.9, 0.2], [0.9, 0.2]]), 300: np.zeros((2, 2))}
    rows = C.compare(("id", "inv"), original, project, task_time=200)
    assert [(r["step"], r["task"]) for r in rows] == [(200, "id"), (200, "inv")]
    first = rows[0]
    assert first["original"] == pytest.approx({"mean": 0.8, "sd": 0.1, "min": 0.7, "max": 0.9,
                                               "n": 3})
    assert first["project"]["sd"] == 0 and first["difference"] == pytest.approx(0.1)
    assert first["t"] == pytest.approx(0.1 / math.sqrt(0.01 / 3))
    assert rows[1]["difference"] == pytest.approx(0.0) and rows[1]["t"] == pytest.approx(0.0)
    assert first["period_end"]
    out = io.StringIO()
    C.print_table(rows, out)
    assert "original (3 runs)" in out.getvalue()
    assert "The interval holds 0 (no difference shown) in 1 of 2 rows" in out.getvalue()
    rows[1]["difference"], rows[1]["t"] = -1e-17, -1e-17  # Zero with rounding noise's sign.
    out = io.StringIO()
    C.print_table(rows, out)
    assert " +0.000  +0.00 [" in out.getvalue()
    assert "-0.000 " not in out.getvalue() and "-0.00 " not in out.getvalue()


def test_equivalence_needs_the_differences_interval_inside_the_margin_not_only_a_small_t():
    rng = np.random.default_rng(0)
    tight = rng.normal(0.9, 0.002, (10, 1))
    wide = rng.normal(0.9, 0.1, (10, 1))
    [same] = C.compare(("id",), {100: tight}, {100: tight + 0.001}, task_time=None)
    [unknown] = C.compare(("id",), {100: wide}, {100: wide[::-1] + 0.001}, task_time=None)
    assert same["equivalent"] and abs(same["t"]) < 2
    # No difference shown, and no sameness either: the interval holds 0 but passes the margin.
    assert abs(unknown["t"]) < 2 and holds_zero(unknown["interval"])
    assert not unknown["equivalent"]
    low, high = unknown["interval"]
    assert low < -C.MARGIN or high > C.MARGIN
    again = C.compare(("id",), {100: wide}, {100: wide[::-1] + 0.001}, task_time=None)
    assert again[0]["interval"] == [low, high]  # Seeded: a table is made again the same.


def test_accuracies_read_both_tools_logs_at_the_steps_all_runs_tested(tmp_path):
    curves = {"id": {0: 0.1, 100: 0.5, 200: 0.9}, "inv": {0: 0.1, 100: 0.2, 200: 0.3}}
    original = [write_original_run(tmp_path / "o" / str(i), curves) for i in range(2)]
    tasks, table = C.accuracies(original)
    assert tasks == ("id", "inv") and sorted(table) == [0, 100, 200]
    np.testing.assert_allclose(table[100], [[0.5, 0.2], [0.5, 0.2]], rtol=1e-6)
    project = [write_run(tmp_path / "p" / f"seed{i}", seed=i, task_time=100, max_steps=200,
                         test_frequency=100) for i in range(2)]
    assert C._complete(project[0], 200) and not C._complete(project[0], 300)
    tasks, table = C.accuracies(project)
    assert tasks == ("id", "inv") and sorted(table) == [0, 100, 200]
    assert table[200].shape == (2, 2)


def test_compare_ends_with_one_line_on_a_missing_original_or_unshared_flags(tmp_path, capsys):
    out = ["--out", str(tmp_path / "out")]
    assert C.main([str(tmp_path / "absent.py"), *out, "--", "--tasks", "id", "--max-steps",
                   "10"]) == 1
    assert capsys.readouterr().err.strip() == (
        f"fidelity.compare: error: {tmp_path / 'absent.py'} is not a file; give a copy of the "
        "original task.py")
    (tmp_path / "task.py").write_text("")
    assert C.main([str(tmp_path / "task.py"), *out, "--", "--tasks", "id", "--max-steps", "10",
                   "--seed", "3"]) == 1
    assert "only flags both tools share" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # Nothing was run.


def test_without_the_original_the_table_is_made_from_the_runs_already_there(tmp_path, capsys):
    out = tmp_path / "out"
    for i in range(2):
        write_original_run(out / "original" / str(i),
                           {"id": {0: 0.1, 100: 0.6 + i / 10, 200: 0.9},
                            "inv": {0: 0.1, 100: 0.1, 200: 0.5}})
        write_run(out / "project" / f"seed{i}", seed=i, task_time=100, max_steps=200,
                  test_frequency=100)
    flags = ["--tasks", "id", "inv", "--task-time", "100", "--max-steps", "200"]
    assert C.main(["--runs", "2", "--out", str(out), "--json", str(tmp_path / "t.json"),
                   "--", *flags]) == 0
    printed = capsys.readouterr().out
    assert "original 1/2: kept" in printed and "original (2 runs)" in printed
    assert "  100*       id   0.650 ±0.071 [0.600-0.700]" in printed
    with open(tmp_path / "t.json") as f:
        assert len(json.load(f)["rows"]) == 6  # Three steps, two tasks.
    assert C.main(["--runs", "3", "--out", str(out), "--", *flags]) == 1
    assert "original/2 holds no complete run; give the original task.py" in \
        capsys.readouterr().err


def test_the_original_sweep_gives_each_setting_the_originals_flags_or_names_what_it_lacks(
        tmp_path):
    from experiments import registry, sweep
    from fidelity import original_sweep

    specs = sweep.expand(registry.get_experiment("switching"), "fashion", seeds=2,
                         log_dir=str(tmp_path), is_quick=False,
                         overrides={"data_fashion_dir": "/f"},
                         replacements={"test_frequency": 500})
    settings = original_sweep.plan("/o/task.py", specs, 3, str(tmp_path))
    assert len(settings) == 3 and all(len(runs) == 3 for runs in settings.values())
    switching = settings[specs[0].point]
    command = switching[os.path.join(str(tmp_path), specs[0].point, "0")]
    flags = command[command.index("--") + 1:]
    assert flags[flags.index("--tasks") + 1:flags.index("--tasks") + 3] == ["id", "fashion"]
    assert flags[flags.index("--max-steps") + 1] == "30001"  # Tests at its last step.
    assert flags[flags.index("--test-frequency") + 1] == "500"
    assert flags[flags.index("--data-fashion-dir") + 1] == "/f"
    assert flags[-2:] == ["--log-dir", os.path.join(str(tmp_path), specs[0].point, "0")]
    width = sweep.expand(registry.get_experiment("width"), "mnist", seeds=1,
                         log_dir=str(tmp_path), is_quick=False)
    flags = original_sweep.original_flags(width[0].config)
    assert flags[flags.index("--fc-units") + 1] == "50"
    mitigation = sweep.expand(registry.get_experiment("mitigation"), "mnist", seeds=1,
                              log_dir=str(tmp_path), is_quick=False)
    with pytest.raises(UserError, match="the original has no --ewc-lambda"):
        original_sweep.plan("/o/task.py", mitigation, 1, str(tmp_path))
    quick = sweep.expand(registry.get_experiment("optimizer"), "mnist", seeds=1,
                         log_dir=str(tmp_path), is_quick=True)
    with pytest.raises(UserError, match="the original has no --test-examples"):
        original_sweep.plan("/o/task.py", quick, 1, str(tmp_path))


def test_the_original_runs_of_a_setting_read_with_its_config(tmp_path):
    """What the original's logs do not name (fc fc's width) comes from the setting.json that
    the sweep writes beside them."""
    from experiments.studies.blog.forms import form_runs
    from fidelity import original_sweep
    from training.config import RunConfig

    setting = tmp_path / "original" / "width-fashion" / "00-fc-units-50"
    original_sweep.write_setting(str(setting), RunConfig(network=("fc", "fc"), fc_units=50,
                                                         tasks=("id", "fashion")))
    write_original_run(str(setting / "0" / "t_id_fashion" / "combined" / "GradientDescent"
                           / "n_fc_fc" / "tt2000" / "2026-12-07 10:00:00"),
                       {"id": {0: 0.1, 500: 0.9}, "fashion": {0: 0.1, 500: 0.2}})
    [runs] = form_runs(str(tmp_path), "original/width-fashion")[0].values()
    assert runs[0].config["fc_units"] == 50 and runs[0].config["source"] == "original task.py"
    assert runs[0].task_time == 2000 and runs[0].tasks == ("id", "fashion")
