"""python -m plots: every chart from generated logs, the original's logs, and bad input."""

import json
import os
import re

import pytest

from errors import UserError
from plots.__main__ import main
from plots.runlog import group_by_settings, load_run, load_runs
from tests.conftest import run_python
from tests.run_fixtures import write_original_run, write_run

PNG_MAGIC = b"\x89PNG"


def _chart(tmp_path, *args, out="chart.png"):
    path = str(tmp_path / out)
    assert main([*args, "--out", path]) == 0
    with open(path, "rb") as f:
        return f.read()


def test_tasks_chart_in_three_formats(tmp_path):
    run = write_run(tmp_path / "run")
    assert _chart(tmp_path, "tasks", run).startswith(PNG_MAGIC)
    assert b"<svg" in _chart(tmp_path, "tasks", run, out="chart.svg")
    assert _chart(tmp_path, "tasks", run, out="chart.pdf").startswith(b"%PDF")


def test_tasks_chart_draws_seeds_of_one_setting_but_refuses_different_settings(tmp_path):
    seeds = [write_run(tmp_path / f"s{seed}", seed=seed) for seed in range(3)]
    assert _chart(tmp_path, "tasks", *seeds).startswith(PNG_MAGIC)
    other = write_run(tmp_path / "adam", optimizer="adam")
    with pytest.raises(SystemExit, match="differ in optimizer; use `compare`"):
        main(["tasks", seeds[0], other, "--out", str(tmp_path / "x.png")])


def test_versus_single_chart(tmp_path):
    runs = [write_run(tmp_path / "switch"), write_run(tmp_path / "alone", tasks=("id",))]
    assert _chart(tmp_path, "versus-single", *runs).startswith(PNG_MAGIC)


def test_compare_chart_reads_a_log_directory_and_groups_seeds(tmp_path):
    for optimizer in ("sgd", "adam"):
        for seed in range(2):
            write_run(tmp_path / "log" / f"{optimizer}{seed}", optimizer=optimizer, seed=seed)
    write_run(tmp_path / "log" / "sgd0.incomplete-20260101-000000")
    runs = load_runs([str(tmp_path / "log")])
    assert len(runs) == 4 and len(group_by_settings(runs)) == 2
    assert _chart(tmp_path, "compare", str(tmp_path / "log")).startswith(PNG_MAGIC)
    assert _chart(tmp_path, "compare", str(tmp_path / "log"), "--task", "inv").startswith(PNG_MAGIC)


def test_task_time_chart(tmp_path):
    runs = [write_run(tmp_path / f"tt{tt}", task_time=tt, max_steps=4 * tt, test_frequency=tt // 4)
            for tt in (100, 200)]
    assert _chart(tmp_path, "task-time", *runs).startswith(PNG_MAGIC)


def test_width_chart(tmp_path):
    runs = [write_run(tmp_path / f"w{units}-{seed}", network=["fc", "fc"], fc_units=units,
                      seed=seed) for units in (50, 100, 200) for seed in range(2)]
    assert _chart(tmp_path, "width", *runs).startswith(PNG_MAGIC)
    with pytest.raises(SystemExit, match="at least two widths"):
        main(["width", runs[0], "--out", str(tmp_path / "w.png")])


def test_metrics_prints_a_table_and_writes_json(tmp_path, capsys):
    run = write_run(tmp_path / "run")
    assert main(["metrics", run, "--json", str(tmp_path / "m.json")]) == 0
    printed = capsys.readouterr().out
    assert "forget" in printed and "BWT" in printed and "run" in printed
    with open(tmp_path / "m.json") as f:
        (result,) = json.load(f)
    assert set(result) >= {"accuracy_matrix", "average_accuracy", "forgetting",
                           "backward_transfer", "forward_transfer", "switches"}
    assert len(result["accuracy_matrix"]) == 4 and len(result["switches"]) == 3


def test_the_original_tools_logs_read_as_a_run(tmp_path):
    path = tmp_path / "log" / "t_id_inv" / "combined" / "sgd" / "n_conv_fc" / "tt100" / "2018"
    curves = {"id": {0: 0.1, 50: 0.8, 100: 0.9, 150: 0.6, 200: 0.5},
              "inv": {0: 0.1, 50: 0.1, 100: 0.1, 150: 0.7, 200: 0.9}}
    write_original_run(path, curves, train={10: 0.5, 20: 0.6})
    (run,) = load_runs([str(tmp_path / "log")])
    assert run.tasks == ("id", "inv") and run.task_time == 100
    assert run.config["optimizer"] == "sgd" and run.config["input_style"] == "combined"
    assert run.config["network"] == ["conv", "fc"]
    assert [r["step"] for r in run.tests] == [0, 50, 100, 150, 200]
    assert run.tests[1]["test_accuracy"] == {"id": pytest.approx(0.8), "inv": pytest.approx(0.1)}
    assert [r["train_accuracy"] for r in run.trains] == [pytest.approx(0.5), pytest.approx(0.6)]
    assert _chart(tmp_path, "tasks", str(path)).startswith(PNG_MAGIC)
    assert main(["metrics", str(path)]) == 0


def test_the_charts_load_neither_tensorflow_nor_the_trainer(tmp_path):
    runs = [write_run(tmp_path / "run"), write_original_run(
        tmp_path / "t_id_inv" / "tt100", {"id": {0: 0.1, 100: 0.8}, "inv": {0: 0.1, 100: 0.2}})]
    loaded = ("print(json.dumps(sorted(name for name in sys.modules\n"
              "                        if name.split('.')[0] in ('tensorflow', 'training'))))")
    result = run_python(
        "import json, pkgutil, sys, plots\n"
        "for module in pkgutil.iter_modules(plots.__path__):\n"
        "    __import__(f'plots.{module.name}')\n"
        "from plots.__main__ import main\n"
        f"for run in {runs!r}:\n"
        "    main(['tasks', run, '--out', run + '.png'])\n" + loaded)
    assert result.returncode == 0, result.stderr
    # RunConfig's defaults (TensorFlow-free) fill in the settings a run older than them
    # lacks: the run config, with the training methods' declarations it is made of, is the
    # one part of training/ that reading a run of this tool needs.
    config = run_python("import json, sys, training.config\n" + loaded)
    modules = json.loads(result.stdout.splitlines()[-1])
    assert modules == json.loads(config.stdout.splitlines()[-1])
    assert "training.config" in modules and "training.loop" not in modules
    assert not any(name.startswith("tensorflow") for name in modules)
    assert all(os.path.getsize(run + ".png") for run in runs)


def test_a_directory_that_is_no_run_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="holds no runs"):
        main(["tasks", str(tmp_path / "empty"), "--out", str(tmp_path / "x.png")])
    with pytest.raises(SystemExit, match="is not a directory"):
        main(["metrics", str(tmp_path / "absent")])


def test_an_empty_log_is_a_clear_error(tmp_path):
    run = write_run(tmp_path / "run")
    open(os.path.join(run, "metrics.jsonl"), "w").close()
    with pytest.raises(UserError, match="no test records yet"):
        load_run(run)


def test_a_torn_last_line_is_tolerated_but_a_damaged_middle_is_not(tmp_path, capsys):
    run = write_run(tmp_path / "run")
    path = os.path.join(run, "metrics.jsonl")
    with open(path) as f:
        complete = f.read()
    with open(path, "a") as f:
        f.write('{"step": 400, "kind": "te')
    assert len(load_run(run).tests) == 9
    assert "torn last line" in capsys.readouterr().err
    lines = complete.splitlines()
    lines[3] = lines[3][:10]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    with pytest.raises(UserError, match="line 4 is not JSON"):
        load_run(run)


@pytest.mark.parametrize("line, problem", [
    ('[1, 2]', "not a JSON object"),
    ('{"step": "40", "kind": "test", "active_task": "id"}', 'its step is "40", not a whole'),
    ('{"step": 40, "kind": "tset", "active_task": "id"}', 'its kind is "tset", not "train"'),
    ('{"step": 40, "kind": "test", "active_task": "id", "test_accuracy": [0.5]}',
     "no test_accuracy numbers by task"),
    ('{"step": 49, "kind": "train", "active_task": "id", "train_accuracy": null}',
     "no train_accuracy number"),
])
def test_a_line_that_is_json_but_no_record_is_a_clear_error(tmp_path, line, problem):
    run = write_run(tmp_path / "run")
    with open(os.path.join(run, "metrics.jsonl")) as f:
        lines = f.read().splitlines()
    lines[3] = line
    with open(os.path.join(run, "metrics.jsonl"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with pytest.raises(SystemExit, match=rf"^python -m plots: error: .*metrics.jsonl line 4 is "
                                         rf"no record \({re.escape(problem)}.*\); the file is "
                                         r"damaged: mend or remove that line$"):
        main(["metrics", run])


def test_a_json_path_that_cannot_be_written_is_refused_before_the_work(tmp_path, capsys):
    run = write_run(tmp_path / "run")
    (tmp_path / "file").write_text("")
    for out, cause in [(tmp_path, "is a folder; name a file"),
                       (tmp_path / "absent" / "m.json", r"\(No such file or directory\)"),
                       (tmp_path / "file" / "m.json", r"\(Not a directory\)")]:
        with pytest.raises(SystemExit, match=rf"^python -m plots: error: .*--json {out}.*{cause}"
                                             r".*\(nothing was written\)$"):
            main(["metrics", run, "--json", str(out)])
    assert capsys.readouterr().out == ""  # No metrics printed: refused before the work.
    assert sorted(os.listdir(tmp_path)) == ["file", "run"]


def test_a_write_that_fails_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    import errno

    import output

    path = tmp_path / "m.json"
    path.write_text("before")

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(output.os, "replace", full)
    with pytest.raises(UserError, match=rf"cannot write --json {path} \(No space left on "
                                        rf"device\); free space or choose another path "
                                        rf"\({path} is as it was\)"):
        output.write_text(str(path), "after", "--json")
    assert path.read_text() == "before" and os.listdir(tmp_path) == ["m.json"]


def test_bad_output_names_are_refused(tmp_path):
    run = write_run(tmp_path / "run")
    with pytest.raises(SystemExit, match="name a .png, .svg or .pdf"):
        main(["tasks", run, "--out", str(tmp_path / "chart.gif")])
    with pytest.raises(SystemExit, match="choose a writable path"):
        main(["tasks", run, "--out", str(tmp_path / "no" / "such" / "dir.png")])


@pytest.mark.parametrize("tolerance", ["nan", "inf", "-0.1"])
def test_a_tolerance_that_is_no_accuracy_difference_is_one_line(tmp_path, capsys, tolerance):
    run = write_run(tmp_path / "run")
    with pytest.raises(SystemExit) as info:
        main(["metrics", run, "--tolerance", tolerance])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --tolerance: {tolerance!r} is not an accuracy difference" in err
    assert len(err.strip().splitlines()) == 1


def test_help_lists_the_charts(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for chart in ("tasks", "versus-single", "compare", "task-time", "width", "metrics"):
        assert chart in out


def test_a_run_made_before_a_setting_existed_groups_with_runs_at_its_default(tmp_path):
    """Runs whose config.json predates a setting (here `kernels`) ran as its default says,
    so that a sweep resumed across such a change still draws one setting."""
    old = write_run(tmp_path / "old", seed=0)
    new = write_run(tmp_path / "new", seed=1, kernels="fast", l2_lambda=0.0)
    other = write_run(tmp_path / "other", seed=2, kernels="plain")
    runs = load_runs([old, new, other])
    assert runs[0].config["kernels"] == "fast"
    groups = group_by_settings(runs)
    assert sorted(len(group) for group in groups) == [1, 2]
