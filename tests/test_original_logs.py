"""The importer of the original task.py's TensorBoard logs, on real logs of the original."""

import glob
import os

import numpy as np
import pytest
import tensorflow as tf

from errors import UserError
from plots.__main__ import main
from plots.original_logs import read_scalars, run_length, settings_from_path
from plots.runlog import find_runs, load_run
from tests.conftest import REPO, run_python
from tests.run_fixtures import write_original_run

ORIGINAL_LOGS = os.path.join(REPO, "..", "shared", "original-logs")
# Only the tests of real logs need them; CI always has them, so there a missing copy fails.
needs_original_logs = pytest.mark.skipif(
    not os.path.isdir(ORIGINAL_LOGS) and not os.environ.get("CI"),
    reason="../shared/original-logs is not beside this clone")


def _events(directory: str) -> dict[str, dict[int, float]]:
    """Every scalar of a folder's event files, read directly: {tag: {step: value}}."""
    scalars = {}
    for path in glob.glob(os.path.join(directory, "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                scalars.setdefault(value.tag, {})[event.step] = value.simple_value
    return scalars


def _run_dir(name: str) -> str:
    (path,) = find_runs(os.path.join(ORIGINAL_LOGS, name))
    return path


@needs_original_logs
@pytest.mark.parametrize("name, tasks, task_time, max_steps", [
    ("t_id", ("id",), 2000, 2000), ("t_id_inv", ("id", "inv"), 200, 800)])
def test_real_logs_of_the_original_read_with_their_events_values(name, tasks, task_time,
                                                                 max_steps):
    path = _run_dir(name)
    run = load_run(path)
    assert run.tasks == tasks and run.task_time == task_time
    assert run.config["max_steps"] == max_steps
    assert {k: run.config[k] for k in ("optimizer", "input_style", "network")} == {
        "optimizer": "sgd", "input_style": "combined", "network": ["conv", "fc"]}
    for i, task in enumerate(tasks):
        (curve,) = _events(os.path.join(path, f"test_task_{i}_{task}")).values()
        assert {r["step"]: r["test_accuracy"][task] for r in run.tests} == curve
    assert {r["step"]: r["test_accuracy_pooled"] for r in run.tests} == \
        _events(os.path.join(path, "test"))["accuracy_1"]
    assert {r["step"]: r["train_accuracy"] for r in run.trains} == \
        _events(os.path.join(path, "train"))["accuracy_1"]
    for r in run.tests:
        assert r["test_accuracy_all"] == pytest.approx(np.mean(list(r["test_accuracy"].values())))


@needs_original_logs
@pytest.mark.parametrize("name", ["t_id", "t_id_inv"])
def test_charts_and_metrics_work_on_real_logs_of_the_original(name, tmp_path, capsys):
    path = _run_dir(name)
    assert main(["tasks", path, "--out", str(tmp_path / "tasks.png")]) == 0
    assert main(["metrics", path, "--json", str(tmp_path / "m.json")]) == 0
    assert "accuracy at the end of each period" in capsys.readouterr().out


@needs_original_logs
def test_the_id_inv_logs_periods_end_where_its_training_did():
    run = load_run(_run_dir("t_id_inv"))
    assert run.periods() == [(0, 200, "id"), (200, 400, "inv"), (400, 600, "id"),
                             (600, 800, "inv")]


def test_the_run_length_is_the_step_its_training_reached():
    assert run_length(700, 790) == 800  # --max-steps 800: the last test below it.
    assert run_length(800, 790) == 800  # --max-steps 801: step 800 tested, trained nothing.
    assert run_length(2000, 1990) == 2000
    assert run_length(24900, 24990) == 25000
    assert run_length(300, None) == 300


def test_folder_names_of_any_setting_read_back():
    path = "/logs/t_id_ref_dog/channelplex/Adam/n_fc_fc/tt5000/2018-03-01 10:00:00.0"
    assert settings_from_path(path) == {"task_time": 5000, "network": ["fc", "fc"],
                                        "input_style": "channelplex", "optimizer": "adam"}
    path = "/logs/t_id/combined/GradientDescent/n_conv_conv_fc/tt2000/x"
    assert settings_from_path(path)["optimizer"] == "sgd"
    assert settings_from_path(path)["network"] == ["conv", "conv", "fc"]


@pytest.mark.parametrize("tag", ["accuracy", "accuracy_1", "accuracy_2"])
def test_any_uniquified_accuracy_tag_reads(tmp_path, tag):
    path = tmp_path / "t_id_ref" / "channelplex" / "Adam" / "n_fc_fc" / "tt100" / "date"
    curves = {"id": {0: 0.1, 100: 0.8, 200: 0.7}, "ref": {0: 0.1, 100: 0.2, 200: 0.9}}
    write_original_run(path, curves, train={10: 0.4, 190: 0.9}, tag=tag)
    run = load_run(str(path))
    assert run.config["optimizer"] == "adam" and run.config["max_steps"] == 200
    assert [r["test_accuracy"]["ref"] for r in run.tests] == pytest.approx([0.1, 0.2, 0.9])
    assert main(["metrics", str(path)]) == 0


def test_two_accuracy_scalars_in_one_folder_are_refused(tmp_path):
    path = tmp_path / "run"
    write_original_run(path, {"id": {0: 0.1, 100: 0.8}}, tag="accuracy_1")
    write_original_run(tmp_path / "other", {"id": {0: 0.2, 100: 0.9}}, tag="accuracy_2")
    for source in glob.glob(str(tmp_path / "other" / "test_task_0_id" / "events.*")):
        os.rename(source, str(path / "test_task_0_id" / "events.out.tfevents.2.host"))
    with pytest.raises(UserError, match="several accuracy scalars"):
        load_run(str(path))


def test_a_torn_last_record_keeps_the_records_before_it(tmp_path):
    write_original_run(tmp_path / "run", {"id": {0: 0.1, 100: 0.8, 200: 0.9}})
    (events,) = glob.glob(str(tmp_path / "run" / "test_task_0_id" / "events.*"))
    with open(events, "rb+") as f:
        f.truncate(os.path.getsize(events) - 3)  # The last record loses its end.
    assert read_scalars(str(tmp_path / "run" / "test_task_0_id")) == pytest.approx(
        {0: 0.1, 100: 0.8})


@pytest.mark.parametrize("crc_matches", [False, True])
def test_a_damaged_record_length_is_not_allocated(tmp_path, capsys, crc_matches):
    """A length of 2**40 once made the reader ask for a terabyte (MemoryError); with its CRC
    recomputed it is still more than the file holds."""
    import struct

    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    write_original_run(tmp_path / "run", {"id": {0: 0.1, 100: 0.8, 200: 0.9}})
    (events,) = glob.glob(str(tmp_path / "run" / "test_task_0_id" / "events.*"))
    with open(events, "rb+") as f:
        offset = 0
        for _ in range(3):  # The file's version record, then steps 0 and 100.
            f.seek(offset)
            offset += 12 + struct.unpack("<Q", f.read(8))[0] + 4
        length = struct.pack("<Q", 2 ** 40)
        f.seek(offset)  # Step 200's record.
        f.write(length + (struct.pack("<I", masked_crc32c(length)) if crc_matches else b""))
    assert read_scalars(str(tmp_path / "run" / "test_task_0_id")) == pytest.approx(
        {0: 0.1, 100: 0.8})
    warned = capsys.readouterr().err
    assert (f"warning: {events}: a damaged record at byte {offset}; reading stops there"
            in warned) != crc_matches


@needs_original_logs
def test_reading_the_originals_logs_loads_no_tensorflow():
    code = ("import sys; from plots.runlog import load_run; from plots.runlog import find_runs; "
            f"load_run(find_runs({_run_dir('t_id_inv')!r})[0]); "
            "print('tensorflow' in sys.modules)")
    result = run_python(code)
    assert result.stdout.strip() == "False" and result.stderr == ""
