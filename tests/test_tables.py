"""Result tables: runs converted into one tidy, byte-reproducible table a folder, read back as
the report reads them, and the command that converts them."""

import csv
import gzip
import json
import os
import shutil

import pytest

from experiments import tables
from experiments.__main__ import main
from experiments.studies import STUDIES, base, tables as study_tables
from experiments.studies.blog import switching
from experiments.tabulate import tabulate
from tests.run_fixtures import write_episodic_run, write_original_run, write_run

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _complete(path) -> str:
    with open(os.path.join(path, "summary.json"), "w") as f:
        json.dump({"status": "completed", "final_test_accuracy_all": 0.5}, f)
    return str(path)


def _runs(folder, seeds=2, **settings):
    return [_complete(write_run(os.path.join(folder, f"00-tt-s{seed}"), seed=seed,
                                **settings)) for seed in range(seeds)]


def _records(run):
    return tables.held(run, "all")


def test_a_tabulated_run_reads_back_as_its_raw_log_in_what_the_table_keeps(tmp_path):
    folder = tmp_path / "switching"
    [path, _] = _runs(folder, task_time=100, max_steps=400, test_frequency=50)
    raw = tables.load_raw(path)
    done = tabulate(str(folder), "period-ends")
    assert done.added == ["00-tt-s0", "00-tt-s1"] and done.runs == 2
    assert sorted(os.listdir(path)) == ["config.json", "summary.json"]  # Raw log removed.
    back = tables.ResultsFolder(str(folder)).run("00-tt-s0")
    assert back.path == path and back.config == raw.config
    assert _records(back)[0] == _records(raw)[0]  # Every evaluation, the mean over tasks too.
    # The train lines of each period's last 100 steps: the report's training accuracy.
    assert [r["step"] for r in back.trains] == [s for end in (100, 200, 300, 400)
                                                for s in range(end - 91, end, 10)]
    assert _records(back)[1] == tables.held(raw, "period-ends")[1]


def test_a_table_is_byte_for_byte_the_same_from_the_same_runs(tmp_path):
    for copy in ("a", "b"):
        _runs(tmp_path / copy / "x", task_time=100, max_steps=200, test_frequency=50)
        tabulate(str(tmp_path / copy / "x"), "all")
    data = (tmp_path / "a" / "x" / "runs.csv.gz").read_bytes()
    assert data == (tmp_path / "b" / "x" / "runs.csv.gz").read_bytes()
    assert data[4:8] == b"\0\0\0\0"  # gzip's time stamp.
    tabulate(str(tmp_path / "a" / "x"), "all")  # Nothing raw left: the same table again.
    assert (tmp_path / "a" / "x" / "runs.csv.gz").read_bytes() == data


def test_a_table_is_one_row_per_run_task_and_step_in_plain_csv(tmp_path):
    folder = tmp_path / "optimizer"
    _runs(folder, seeds=1, task_time=100, max_steps=200, test_frequency=100)
    tabulate(str(folder), "none")
    with gzip.open(folder / "runs.csv.gz", "rt") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["run", "setting", "seed", "task", "step", "test_accuracy",
                             "train_accuracy"]
    assert [(r["run"], r["setting"], r["seed"], r["task"], r["step"]) for r in rows] == [
        ("00-tt-s0", "00-tt", "0", task, str(step)) for step in (0, 100, 200)
        for task in ("id", "inv")]
    assert all(0 <= float(r["test_accuracy"]) <= 1 and r["train_accuracy"] == "" for r in rows)


def test_an_episodic_runs_table_keeps_its_episodes_and_trials(tmp_path):
    lines = [(0, 1, 0, False, (0, 0), (0.5, 0.5)), (100, 1, 1, True, (100, 0), (0.9, 0.5)),
             (200, 2, 1, True, (150, 50), (0.8, 0.95))]
    path = _complete(write_episodic_run(str(tmp_path / "paper" / "colour-b0-r0-s0"),
                                        ("a", "b"), lines))
    raw = tables.load_raw(path)
    tabulate(str(tmp_path / "paper"), "none")
    back = tables.ResultsFolder(str(tmp_path / "paper")).run("colour-b0-r0-s0")
    assert [(r["episode"], r["trials"]) for r in back.tests] == [
        (1, {"a": 0, "b": 0}), (1, {"a": 100, "b": 0}), (2, {"a": 150, "b": 50})]
    assert _records(back)[0] == _records(raw)[0] and back.periods() == raw.periods()


def _original(folder, setting, i, curves, train=None):
    return write_original_run(str(folder / setting / str(i) / "t_id_inv" / "combined"
                                  / "GradientDescent" / "n_conv_fc" / "tt100"
                                  / "2026-12-07 10:00:00"), curves, train=train)


def test_the_originals_logs_go_into_the_table_with_the_config_they_give(tmp_path):
    folder = tmp_path / "original" / "switching-fashion"
    curves = {"id": {0: 0.1, 100: 0.9, 200: 0.5}, "inv": {0: 0.1, 100: 0.2, 200: 0.9}}
    _original(folder, "00-tt", 0, curves, train={s: 0.9 for s in range(9, 200, 10)})
    _original(folder, "00-tt", 1, {t: {0: 0.1, 100: 0.5} for t in curves})  # Still running.
    (folder / "00-tt" / "setting.json").write_text(json.dumps({"max_steps": 200}))
    raw = tables.load_raw(str(folder / "00-tt" / "0" / "t_id_inv" / "combined"
                              / "GradientDescent" / "n_conv_fc" / "tt100" / "2026-12-07 10:00:00"))
    done = tabulate(str(folder), "period-ends")
    assert done.added == ["00-tt/0"] and done.unfinished == ["00-tt/1"]
    assert sorted(os.listdir(folder / "00-tt" / "0")) == ["config.json"]  # Its tree removed.
    assert os.path.isdir(folder / "00-tt" / "1" / "t_id_inv")  # Left to finish.
    runs = tables.ResultsFolder(str(folder))
    back = runs.run("00-tt/0")
    assert back.config == raw.config and back.config["max_steps"] == 200
    assert _records(back) == tables.held(raw, "period-ends")
    assert runs.keys() == ["00-tt/0", "00-tt/1"]  # The running one read from its log.


def test_a_partial_sweep_adds_its_finished_runs_and_is_left_as_it_was(tmp_path):
    sweep = tmp_path / "runs" / "switching-mnist"
    done_runs = _runs(sweep, task_time=100, max_steps=200, test_frequency=50)
    write_run(str(sweep / "01-alone-s0"), tasks=("id",), task_time=100, max_steps=200)
    before = sorted(os.listdir(done_runs[0]))
    done = tabulate(str(tmp_path / "results" / "switching"), "period-ends", source=str(sweep))
    assert done.added == ["00-tt-s0", "00-tt-s1"] and done.unfinished == ["01-alone-s0"]
    assert sorted(os.listdir(done_runs[0])) == before  # The sweep's folder untouched.
    target = tmp_path / "results" / "switching"
    assert sorted(os.listdir(target / "00-tt-s0")) == ["config.json", "summary.json"]
    assert tables.ResultsFolder(str(target)).keys() == ["00-tt-s0", "00-tt-s1"]
    shutil.rmtree(target / "00-tt-s1")  # A run taken out: its rows go at the next conversion.
    assert tabulate(str(target), "period-ends").dropped == ["00-tt-s1"]
    assert set(tables.read_table(str(target))) == {"00-tt-s0"}


def test_a_tabulated_run_without_its_rows_is_an_error_that_says_what_to_do(tmp_path):
    folder = tmp_path / "x"
    _runs(folder, seeds=1, task_time=100, max_steps=200)
    tabulate(str(folder), "none")
    os.remove(folder / "runs.csv.gz")
    with pytest.raises(Exception, match="has neither its raw log .* nor rows in .*runs.csv.gz; "
                                        "restore the table"):
        tables.ResultsFolder(str(folder)).run("00-tt-s0")


def test_a_claim_from_tables_is_the_claim_from_raw_logs(tmp_path):
    """Claim 3 reads test accuracy at every step, training accuracy at period ends and the
    single-task runs of claims 1 and 2: the tables keep all of it."""
    def accuracy(task, step, active):
        drop = 0.3 / max(step // 2000, 1) * (step % 2000) / 2000
        return 0.97 if task == active else 0.97 - drop

    for seed in range(2):
        _complete(write_run(str(tmp_path / "switching" / f"00-tt-s{seed}"), task_time=2000,
                            max_steps=30000, test_frequency=500, seed=seed, accuracy=accuracy))
        for task, name in (("id", "baseline-mnist"), ("inv", "baseline-inv")):
            _complete(write_run(str(tmp_path / name / f"00-run-s{seed}"), tasks=(task,),
                                task_time=2000, max_steps=24000, test_frequency=500,
                                seed=seed))
    [raw] = switching.sections(str(tmp_path), str(tmp_path))
    assert main(["tabulate", "--results", str(tmp_path), "switching", "baseline-mnist",
                 str(tmp_path / "baseline-inv")]) == 0
    assert not any(name == "metrics.jsonl" for _, _, files in os.walk(tmp_path)
                   for name in files)
    [tabulated] = switching.sections(str(tmp_path), str(tmp_path))
    assert tabulated.body == raw.body and tabulated.verdict == raw.verdict


def test_the_tabulate_command_names_each_folder_and_refuses_one_no_study_reads(tmp_path,
                                                                               capsys):
    _runs(tmp_path / "width", seeds=1, task_time=100, max_steps=200)
    assert main(["tabulate", "--results", str(tmp_path)]) == 0
    assert capsys.readouterr().out == (f"{tmp_path / 'width'}: 1 run in runs.csv.gz; 1 "
                                       "added, their raw logs removed\n")
    with pytest.raises(SystemExit, match="no study reads results/elsewhere; the folders they "
                                         "read: fidelity/id-inv-tt200, .*split-mnist"):
        main(["tabulate", "--results", str(tmp_path), "elsewhere"])
    with pytest.raises(SystemExit, match="--from adds a sweep's runs to one results folder"):
        main(["tabulate", "--results", str(tmp_path), "--from", str(tmp_path)])


def test_every_committed_results_folder_is_one_that_a_study_reads():
    """So that `tabulate` knows which train lines its table keeps."""
    declared = study_tables()
    assert all(isinstance(table, base.Table) for table in declared.values())
    assert all(hasattr(study, name) for study in STUDIES
               for name in ("EXPERIMENTS", "TABLES", "sections"))
    results = os.path.join(REPO, "results")
    folders = []
    for name in sorted(os.listdir(results)):
        inner = ([f"{name}/{n}" for n in sorted(os.listdir(os.path.join(results, name)))]
                 if name in ("original", "fidelity") else [name])
        folders += [f for f in inner if os.path.isdir(os.path.join(results, f))]
    assert folders and set(folders) <= set(declared), set(folders) - set(declared)


def test_a_sweep_that_ends_names_the_command_that_commits_its_runs(capsys):
    from experiments.__main__ import _tabulate_hint

    _tabulate_hint("optimizer", "fashion", "runs/optimizer-fashion")
    _tabulate_hint("optimizer", "mnist", os.path.join("results", "optimizer"))
    _tabulate_hint("mitigation", "mnist", "runs/mitigation-mnist")  # No study reads it yet.
    assert capsys.readouterr().out.splitlines() == [
        "to commit its results as a table: python -m experiments tabulate "
        "results/optimizer-fashion --from runs/optimizer-fashion",
        "to commit its results as a table: python -m experiments tabulate results/optimizer"]
