"""Experiments: grid expansion, skipping completed runs, failures, local and Ray sweeps."""

import dataclasses
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import rundir
from errors import UserError
from experiments import grid, registry, sweep
from experiments.studies import paper
from experiments.__main__ import main
from tests.conftest import write_mnist_dir
from training import run_experiment


def test_grid_expands_settings_times_seeds_with_stable_names(tmp_path):
    specs = sweep.expand(registry.get_experiment("optimizer"), "mnist", seeds=2,
                         log_dir=str(tmp_path), is_quick=False)
    assert [s.name for s in specs] == ["00-optimizer-sgd-s0", "00-optimizer-sgd-s1",
                                       "01-optimizer-adam-s0", "01-optimizer-adam-s1"]
    assert [(s.config.optimizer, s.config.seed) for s in specs] == [
        ("sgd", 0), ("sgd", 1), ("adam", 0), ("adam", 1)]
    assert all(s.config.tasks == ("id", "inv") and s.config.max_steps == 30000 for s in specs)
    assert specs[0].run_dir == os.path.join(str(tmp_path), "00-optimizer-sgd-s0")


def test_every_experiment_expands_in_each_form_and_quick_shrinks_it(tmp_path):
    for name, experiment in registry.EXPERIMENTS.items():
        if experiment.quick_points:
            continue  # Its own quick grid: tested below.
        for form in experiment.forms:
            full = sweep.expand(experiment, form, seeds=1, log_dir=str(tmp_path), is_quick=False)
            small = sweep.expand(experiment, form, seeds=1, log_dir=str(tmp_path), is_quick=True)
            assert len(full) == len(small) >= 1
            for big, little in zip(full, small):
                assert little.config.max_steps * 100 <= max(big.config.max_steps, 2000)
                assert little.config.test_examples == 500
            assert any("dog" in s.config.tasks for s in full) == (form == "dog")
    times = [s.config.task_time for s in sweep.expand(registry.get_experiment("task-time"),
                                                      "mnist", seeds=1, log_dir="x",
                                                      is_quick=False)]
    assert times[0] == 2000 and times[-1] == 20 * 2000


def test_evaluation_flags_replace_the_grids_own_and_data_flags_fill_in(tmp_path):
    from experiments.__main__ import REPLACED_SETTINGS, build_parser

    args = build_parser().parse_args(["run", "mitigation", "--quick", "--test-examples", "200",
                                      "--test-frequency", "50"])
    replacements = {key: getattr(args, key) for key in REPLACED_SETTINGS if key in args}
    assert replacements == {"test_examples": 200, "test_frequency": 50}
    specs = sweep.expand(registry.get_experiment("mitigation"), "mnist", seeds=1,
                         log_dir=str(tmp_path), is_quick=True, overrides={"data_dir": "d"},
                         replacements=replacements)
    assert {(s.config.test_examples, s.config.test_frequency, s.config.data_dir)
            for s in specs} == {(200, 50, "d")}
    assert "test_frequency" not in build_parser().parse_args(["run", "mitigation"])


def test_scale_shortens_every_run_and_its_task_time_proportionally(tmp_path):
    specs = sweep.expand(registry.get_experiment("task-time"), "mnist", seeds=1,
                         log_dir=str(tmp_path), is_quick=False, scale=0.25)
    assert [(s.config.task_time, s.config.max_steps) for s in specs] == [
        (500, 2000), (1250, 5000), (2500, 10000), (5000, 20000), (10000, 40000)]
    with pytest.raises(UserError, match="end otherwise"):
        sweep.expand(registry.get_experiment("split-mnist"), "mnist", seeds=1,
                     log_dir=str(tmp_path), is_quick=False, scale=0.5)
    with pytest.raises(UserError, match="--scale must be positive"):
        sweep.expand(registry.get_experiment("width"), "mnist", seeds=1,
                     log_dir=str(tmp_path), is_quick=False, scale=0.0)


def test_unknown_experiment_and_form_are_errors(tmp_path):
    with pytest.raises(UserError, match="unknown experiment 'nope'; known: baseline-mnist"):
        registry.get_experiment("nope")
    with pytest.raises(UserError, match="no dog form"):
        sweep.expand(registry.get_experiment("baseline-mnist"), "dog", seeds=1,
                     log_dir=str(tmp_path), is_quick=True)


def _tiny_specs(tmp_path, names_and_changes):
    data_dir = tmp_path / "mnist"
    if not data_dir.exists():
        write_mnist_dir(data_dir, n_train=40, n_test=20)
    base = dict(tasks=("id", "inv"), task_time=2, max_steps=4, batch=4, test_frequency=2,
                data_dir=str(data_dir), mnist_train="all", log_dir=str(tmp_path / "log"))
    return [sweep.RunSpec(name, sweep.RunConfig(**{**base, **changes, "run_name": name}))
            for name, changes in names_and_changes]


def _completed_as(spec, **made_with) -> None:
    """A completed run in the spec's directory, made with the spec's settings and `made_with`."""
    os.makedirs(spec.run_dir)
    rundir.write_json_atomic(os.path.join(spec.run_dir, "config.json"),
                             {**spec.config.to_json(), **made_with, "code_version": "abc"})
    rundir.write_json_atomic(os.path.join(spec.run_dir, "summary.json"), {"status": "completed"})


def test_completed_runs_are_skipped_and_unfinished_ones_set_aside(tmp_path):
    done, unfinished, fresh = _tiny_specs(tmp_path, [("a", {}), ("b", {}), ("c", {})])
    _completed_as(done, data_dir="elsewhere", log_dir="moved", checkpoint_every=7)
    os.makedirs(unfinished.run_dir)
    complete, todo = sweep.pending([done, unfinished, fresh])
    assert complete == [done] and todo == [unfinished, fresh]
    assert not os.path.exists(unfinished.run_dir)
    assert any(name.startswith("b.incomplete-") for name in os.listdir(tmp_path / "log"))


def test_a_rerun_with_other_settings_refuses_their_runs_and_changes_nothing(tmp_path):
    done, resumable, unfinished = _tiny_specs(tmp_path, [("a", {}), ("b", {}), ("c", {})])
    _completed_as(done, max_steps=2, task_time=1)
    os.makedirs(os.path.join(resumable.run_dir, "checkpoint"))
    rundir.write_json_atomic(os.path.join(resumable.run_dir, "config.json"),
                             {**resumable.config.to_json(), "optimizer": "adam"})
    rundir.write_json_atomic(os.path.join(resumable.run_dir, "checkpoint", "state.json"),
                             {"step": 2, "prefix": "step-2", "metrics_bytes": 10})
    os.makedirs(unfinished.run_dir)
    before = sorted(os.listdir(tmp_path / "log"))
    with pytest.raises(UserError, match=r"^2 run\(s\) in .*log were made with other settings "
                                        r"than this sweep asks, a with task_time 1 \(asked: 2\), "
                                        r"max_steps 2 \(asked: 4\); give the settings they were "
                                        r"made with .* or another --log-dir \(nothing was "
                                        r"changed\)$"):
        sweep.pending([done, resumable, unfinished])
    with pytest.raises(UserError, match="b with optimizer \"adam\" \\(asked: \"sgd\"\\)"):
        sweep.pending([resumable, unfinished])
    assert sorted(os.listdir(tmp_path / "log")) == before  # Nothing set aside.
    _, [on_ray] = sweep.pending([resumable], can_resume=False)  # Restarted: not its run.
    assert not on_ray.resume


def test_a_completed_run_without_a_readable_config_is_not_counted(tmp_path):
    [spec] = _tiny_specs(tmp_path, [("a", {})])
    _completed_as(spec)
    with open(os.path.join(spec.run_dir, "config.json"), "w") as f:
        f.write('{"max_steps": ')
    with pytest.raises(UserError, match="a with no readable config.json"):
        sweep.pending([spec])
    rundir.write_json_atomic(os.path.join(spec.run_dir, "config.json"), {"max_steps": -1})
    with pytest.raises(UserError, match="a with invalid settings in its config.json "
                                        r"\(--max-steps must be a positive integer"):
        sweep.pending([spec])


def test_the_issues_sweep_at_another_scale_in_the_same_folder_is_refused(tmp_path, capsys):
    """`run optimizer --quick --scale 0.5 --log-dir s`, then without --scale: the 150-step
    runs are not the 300-step sweep's."""
    half = sweep.expand(registry.get_experiment("optimizer"), "mnist", seeds=1,
                        log_dir=str(tmp_path), is_quick=True, scale=0.5)
    for spec in half:
        _completed_as(spec)
    args = ["run", "optimizer", "--quick", "--log-dir", str(tmp_path)]
    with pytest.raises(SystemExit, match=r"error: 2 run\(s\) in .* were made with other "
                                         r"settings than this sweep asks, 00-optimizer-sgd-s0 "
                                         r"with task_time 10 \(asked: 20\), max_steps 150 "
                                         r"\(asked: 300\)"):
        main(args)
    assert "already complete" not in capsys.readouterr().out
    assert sweep.pending(half) == (half, [])  # Asked with the settings they were made with.


def test_a_ray_sweep_refuses_runs_its_storage_holds_with_other_settings(tmp_path):
    from experiments.ray_runner import pending_in_storage
    from experiments.storage import Storage

    done, resumable = _tiny_specs(tmp_path, [("a", {}), ("b", {})])
    storage = Storage(str(tmp_path / "store"))
    storage.write_bytes("a", "config.json", json.dumps(done.config.to_json()).encode())
    storage.write_bytes("a", "summary.json", b'{"status": "completed"}')
    storage.write_bytes("b", "config.json", json.dumps(
        {**resumable.config.to_json(), "batch": 8}).encode())
    storage.write_bytes("b", "checkpoint/state.json", b"{}")
    with pytest.raises(UserError, match=r"^1 run\(s\) in --storage .*store were made with "
                                        r"other settings than this sweep asks, b with batch 8 "
                                        r"\(asked: 4\);"):
        pending_in_storage([done, resumable], storage)
    assert not os.path.exists(done.run_dir)  # Nothing gathered.
    assert pending_in_storage([done], storage) == ([done], [])
    assert rundir.is_complete(done.run_dir)


def test_a_killed_run_with_a_checkpoint_is_resumed_not_restarted(tmp_path):
    [spec] = _tiny_specs(tmp_path, [("a", {"max_steps": 40, "checkpoint_every": 20})])
    run_experiment(spec.config, progress_stream=io.StringIO())
    os.remove(os.path.join(spec.run_dir, "summary.json"))  # As if killed after step 20.
    _, [todo] = sweep.pending([spec])
    assert todo.resume and os.path.exists(spec.run_dir)
    results = sweep.run_local([todo], workers=1, report=lambda s, r: None)
    assert results["a"]["status"] == "completed", results
    with open(os.path.join(spec.run_dir, "summary.json")) as f:
        assert json.load(f)["resumed_from_steps"] == [20]
    os.remove(os.path.join(spec.run_dir, "summary.json"))
    _, [on_ray] = sweep.pending([spec], can_resume=False)  # Ray nodes restart instead.
    assert not on_ray.resume and not os.path.exists(spec.run_dir)


def test_a_failed_run_is_reported_and_the_others_complete(tmp_path):
    specs = _tiny_specs(tmp_path, [("good0", {}), ("bad", {"data_dir": str(tmp_path / "none")}),
                                   ("good1", {"seed": 1})])
    reported = []
    results = sweep.run_local(specs, workers=2, report=lambda s, r: reported.append(s.name))
    assert sorted(reported) == ["bad", "good0", "good1"]
    assert results["bad"]["status"] == "failed" and "not a directory" in results["bad"]["error"]
    for name in ("good0", "good1"):
        assert results[name]["status"] == "completed"
        assert rundir.is_complete(os.path.join(tmp_path, "log", name))


def test_a_worker_that_makes_several_runs_gives_each_the_numbers_it_would_have_alone(tmp_path):
    def numbers(spec):
        lines = rundir.read_metrics(spec.run_dir)
        return [(r["step"], r.get("test_accuracy"), r.get("loss")) for r in lines]

    first, other, again = _tiny_specs(tmp_path, [
        ("first", {"network": ("fc:8", "fc")}),
        ("other", {"optimizer": "adam", "ewc_lambda": 5.0, "seed": 3}),
        ("again", {"network": ("fc:8", "fc")})])
    reported = []
    results = sweep.run_local([other, first, again], workers=1,
                              report=lambda s, r: reported.append(s.name), runs_per_process=2)
    assert reported == ["other", "first", "again"]  # Each as it ended.
    assert {r["status"] for r in results.values()} == {"completed"}
    # One process made `other`, then `first`; a fresh one made `again`, the same config.
    assert results["other"]["worker"] == results["first"]["worker"] != results["again"]["worker"]
    assert numbers(first) == numbers(again) and numbers(first) != numbers(other)


def test_runs_are_shared_among_the_workers_when_there_are_too_few_for_whole_chunks(tmp_path):
    specs = _tiny_specs(tmp_path, [(f"run{i}", {"seed": i}) for i in range(4)])
    results = sweep.run_local(specs, workers=2, report=lambda s, r: None, runs_per_process=20)
    workers = [results[f"run{i}"]["worker"] for i in range(4)]
    # Two chunks of two, one for each worker process.
    assert workers[0] == workers[1] != workers[2] == workers[3]


def test_a_two_run_sweep_with_two_workers_end_to_end(tmp_path, monkeypatch, capsys):
    write_mnist_dir(tmp_path / "mnist", n_train=40, n_test=20)
    tiny = grid.Experiment(
        "two optimizers", "compare",
        lambda form: [dict(tasks=("id", "inv"), task_time=2, max_steps=4, batch=4,
                           test_frequency=2, mnist_train="all", optimizer=name)
                      for name in ("sgd", "adam")],
        forms=("mnist",))
    monkeypatch.setitem(registry.EXPERIMENTS, "tiny", tiny)
    args = ["run", "tiny", "--workers", "2", "--data-dir", str(tmp_path / "mnist"),
            "--log-dir", str(tmp_path / "log")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "2 runs" in out and "0 already complete" in out and "2 of 2 runs complete" in out
    assert os.path.getsize(tmp_path / "log" / "tiny.png") > 1000
    assert "optimizer=adam" in out and "avg acc" in out and "FWT init" in out  # By setting.
    with open(tmp_path / "log" / "tiny-metrics.json") as f:
        assert [row["setting"] for row in json.load(f)] == ["optimizer=sgd", "optimizer=adam"]
    assert main(args) == 0  # Again: nothing left to run.
    assert "2 already complete, 0 to run" in capsys.readouterr().out


def test_a_sweep_on_a_local_ray_instance(tmp_path):
    pytest.importorskip("ray")
    from experiments.ray_runner import run_ray

    specs = _tiny_specs(tmp_path, [("r0", {}), ("r1", {"seed": 1})])
    results = run_ray(specs, "local", cpus=1, report=lambda s, r: None)
    for spec in specs:
        assert results[spec.name]["status"] == "completed", results[spec.name]
        assert rundir.is_complete(spec.run_dir)  # Gathered under the driver's log directory.
        assert os.path.isdir(os.path.join(spec.run_dir, "test_task_0_id"))
    config = json.load(open(os.path.join(specs[1].run_dir, "config.json")))
    assert config["seed"] == 1 and config["log_dir"] != str(tmp_path / "log")
    assert dataclasses.asdict(specs[0].config)["log_dir"] == str(tmp_path / "log")
    # A run larger than any node: said at once, not waited for.
    import runtime
    from errors import UserError

    with pytest.raises(UserError, match="no node of the Ray cluster can take a run"):
        run_ray(specs, "local", cpus=runtime.usable_cpus() + 1, report=lambda s, r: None)


def test_a_run_no_node_can_take_is_an_error_at_once_naming_the_largest_node():
    from errors import UserError
    from experiments.ray_runner import check_feasible

    nodes = [{"Alive": True, "Resources": {"CPU": 1.0}},
             {"Alive": True, "Resources": {"CPU": 2.0}},
             {"Alive": False, "Resources": {"CPU": 8.0, "GPU": 1.0}}]
    check_feasible(nodes, 2, 0)
    with pytest.raises(UserError, match=r"each asks for 3 CPU\(s\), and the largest of its 2 "
                                        r"live node\(s\) has 2 CPU\(s\)"):
        check_feasible(nodes, 3, 0)
    with pytest.raises(UserError, match=r"1 CPU\(s\) and 1 GPU\(s\).*at most 0 GPU"):
        check_feasible(nodes, 1, 1)


def test_a_cluster_address_where_nothing_listens_is_an_error_at_once(tmp_path, capsys):
    """Ray would retry its GCS there for many minutes (`--ray-address 127.0.0.1:1`)."""
    import socket

    with socket.socket() as unused:  # A port of this machine that no process listens on.
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    [spec] = _tiny_specs(tmp_path, [("a", {})])
    os.makedirs(spec.run_dir)  # Unfinished: a sweep would set it aside.
    with pytest.raises(SystemExit, match=rf"error: cannot reach the Ray cluster at 127.0.0.1:"
                                         rf"{port}: a connection to 127.0.0.1:{port} got "
                                         r"Connection refused within 10 s; start one with "
                                         r"`ray start --head`"):
        main(["run", "optimizer", "--quick", "--ray-address", f"127.0.0.1:{port}",
              "--log-dir", spec.config.log_dir])
    assert os.listdir(spec.config.log_dir) == ["a"]  # Nothing set aside or run.


def test_connecting_to_a_cluster_is_bounded_by_its_timeout(monkeypatch):
    import ray

    from experiments import ray_runner

    asked = []

    def silent(address, timeout):  # A host that never answers: the timeout ends the wait.
        asked.append((address, timeout))
        raise TimeoutError("timed out")

    monkeypatch.setattr(ray_runner.socket, "create_connection", silent)
    monkeypatch.setattr(ray, "init", lambda **kwargs: pytest.fail("Ray was asked to connect"))
    for address in ("10.1.2.3:6379", "ray://10.1.2.3:10001"):
        with pytest.raises(UserError, match=rf"at {address}: a connection to 10.1.2.3:\d+ got no "
                                            r"answer within 0.25 s"):
            ray_runner.connect(address, timeout_s=0.25)
    assert asked == [(("10.1.2.3", 6379), 0.25), (("10.1.2.3", 10001), 0.25)]


def test_a_cluster_address_that_answers_is_passed_on_to_ray():
    import socket

    from experiments.ray_runner import check_answers

    with socket.create_server(("127.0.0.1", 0)) as listening:
        check_answers(f"127.0.0.1:{listening.getsockname()[1]}", timeout_s=5)
    check_answers("auto")  # Ray finds the address itself.


def test_latin_squares_put_each_task_once_in_each_position_per_block():
    rng = np.random.default_rng(0)
    square = paper.latin_square(10, rng)
    assert all(sorted(row) == list(range(10)) for row in square)
    assert all(sorted(column) == list(range(10)) for column in square.T)
    replications = paper.replications()
    assert len(replications) == 3 * 6 * 10
    for dimension in ("shape", "colour", "texture"):
        for block in range(6):
            orders = [order for d, b, _, order in replications
                      if d == dimension and b == block]
            assert len(orders) == 10
            for position in range(10):
                assert len({order[position] for order in orders}) == 10
            assert all(len(set(order)) == 10 and all(dimension in t for t in order)
                       for order in orders)
    first_blocks = [tuple(o for d, b, _, o in replications if d == "colour" and b == block)
                    for block in range(2)]
    assert first_blocks[0] != first_blocks[1]  # Blocks are shuffled apart.


def test_paper_shapes_expands_to_episodic_runs_and_a_small_quick_grid(tmp_path):
    experiment = registry.get_experiment("paper-shapes")
    full = sweep.expand(experiment, "cpu", seeds=1, log_dir=str(tmp_path), is_quick=False)
    assert len(full) == 180 and len({s.config.seed for s in full}) == 180
    config = full[0].config
    assert config.schedule == "episodes" and config.task_signal and len(config.tasks) == 10
    assert config.network[0] == "conv3:16"
    assert (config.shapes_height, config.shapes_width) == (48, 48)
    assert full[0].name == "shape-b0-r0-s0"  # Named points keep their names, unnumbered.
    paper = sweep.expand(experiment, "paper", seeds=1, log_dir=str(tmp_path), is_quick=False)
    assert (paper[0].config.shapes_height, paper[0].config.shapes_width) == (120, 160)
    assert paper[0].config.shapes_train == 45000 and paper[0].config.task_signal_scale == 1.0
    quick = sweep.expand(experiment, "cpu", seeds=1, log_dir=str(tmp_path), is_quick=True)
    assert len(quick) == 4 and all(len(s.config.tasks) == 4 for s in quick)
    for position in range(4):
        assert len({s.config.tasks[position] for s in quick}) == 4


def test_the_mitigation_experiment_compares_each_mitigation_and_mode(tmp_path):
    experiment = registry.get_experiment("mitigation")
    for form, tasks in (("mnist", ("id", "inv", "perm")), ("dog", ("id", "dog"))):
        specs = sweep.expand(experiment, form, seeds=1, log_dir=str(tmp_path), is_quick=False)
        configs = {spec.point: spec.config for spec in specs}
        assert set(configs) == {"switch", "ewc", "replay", "per-task-heads", "joint",
                                "joint-uncertainty", "joint-pcgrad", "alternate"}
        assert all(c.tasks == tasks and c.max_steps == 2 * len(tasks) * 2000
                   for c in configs.values())
        assert configs["ewc"].ewc_lambda > 0 and configs["replay"].replay_size > 0
        assert configs["joint-pcgrad"].pcgrad and configs["alternate"].mode == "alternate"
        assert configs["joint-uncertainty"].loss_weighting == "uncertainty"
    quick = sweep.expand(experiment, "mnist", seeds=1, log_dir=str(tmp_path), is_quick=True)
    assert {spec.config.max_steps for spec in quick} == {600}


def test_listing_the_experiments_does_not_import_tensorflow():
    """`python -m experiments list` answers in a fraction of a second (importing TensorFlow
    takes five or more here)."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = ("import sys\nfrom experiments.__main__ import main\nmain(['list'])\n"
              "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], cwd=repo, check=True,
                         capture_output=True, text=True).stdout.splitlines()
    assert out[0].startswith("experiment") and any(line.startswith("optimizer") for line in out)
    assert out[-1] == "False"


def test_planning_a_sweep_does_not_import_tensorflow(tmp_path):
    """Expanding a grid into RunConfigs and sorting its runs into done and to-do reads only
    configs and run directories."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = ("import sys\nfrom experiments import registry, sweep\n"
              "specs = sweep.expand(registry.get_experiment('mitigation'), 'mnist', seeds=2, "
              f"log_dir={str(tmp_path)!r}, is_quick=False)\n"
              "done, todo = sweep.pending(specs)\n"
              "print(len(specs), len(todo), 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], cwd=repo, check=True,
                         capture_output=True, text=True).stdout.split()
    assert out == ["16", "16", "False"]


def test_a_run_still_being_written_stops_the_rerun_before_it_touches_anything(tmp_path):
    from rundir import RunDirLock

    [spec] = _tiny_specs(tmp_path, [("a", {})])
    os.makedirs(spec.run_dir)
    held = RunDirLock(spec.run_dir)
    try:
        with pytest.raises(UserError, match=f"{spec.run_dir} by pid {os.getpid()}: an earlier "
                                            "sweep is running"):
            sweep.pending([spec])
        assert os.path.isdir(spec.run_dir)  # Not set aside.
    finally:
        held.release()


def _sweep(log_dir, **popen):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    command = [sys.executable, "-m", "experiments", "run", "baseline-mnist", "--quick",
               "--log-dir", str(log_dir)]
    return subprocess.Popen(command, cwd=repo, **popen)


def _metrics(log_dir):
    import glob

    (path,) = glob.glob(os.path.join(log_dir, "*", "metrics.jsonl"))
    with open(path) as f:
        return [{k: v for k, v in json.loads(line).items() if k != "wall_time"} for line in f]


def test_a_sweep_killed_with_its_workers_resumes_them_to_the_uninterrupted_log(tmp_path):
    """kill -9 of the driver: its worker gets SIGTERM (a parent-death signal), checkpoints
    and stops; the rerun resumes the run from that checkpoint to the uninterrupted log."""
    import glob
    import signal
    import time

    from rundir import latest_state
    from rundir import run_dir_owner

    assert _sweep(tmp_path / "whole", stdout=subprocess.DEVNULL,
                  stderr=subprocess.DEVNULL).wait(timeout=1200) == 0
    with open(tmp_path / "driver.txt", "w") as output:
        driver = _sweep(tmp_path / "killed", stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 1200  # Catches a hang only: the run takes about 40 s here.
    while not (runs := glob.glob(str(tmp_path / "killed" / "*" / "checkpoint"))) or \
            latest_state(os.path.dirname(runs[0])) is None:
        assert driver.poll() is None and time.monotonic() < deadline, "no checkpoint came"
        time.sleep(0.05)
    run_dir = os.path.dirname(runs[0])
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    while run_dir_owner(run_dir) is not None:  # The worker, told by the system, stops.
        assert time.monotonic() < deadline, "the orphaned worker went on"
        time.sleep(0.05)
    with open(os.path.join(run_dir, "summary.json")) as f:
        assert json.load(f)["status"] == "interrupted"
    stopped_at = latest_state(run_dir)["step"]
    assert _sweep(tmp_path / "killed", stdout=subprocess.DEVNULL,
                  stderr=subprocess.DEVNULL).wait(timeout=1200) == 0
    with open(os.path.join(run_dir, "summary.json")) as f:
        summary = json.load(f)
    assert summary["status"] == "completed" and summary["resumed_from_steps"] == [stopped_at]
    assert _metrics(tmp_path / "killed") == _metrics(tmp_path / "whole")


def test_only_picks_the_settings_whose_names_match(tmp_path):
    specs = sweep.expand(registry.EXPERIMENTS["split-mnist"], "mnist", seeds=2,
                         log_dir=str(tmp_path), is_quick=True)
    chosen = sweep.matching(specs, ["class-*", "*-lwf"])
    assert {spec.point for spec in chosen} == (
        {spec.point for spec in specs if spec.point.startswith("class-")}
        | {"task-lwf", "domain-lwf"})
    assert len(chosen) == 2 * len({spec.point for spec in chosen})
    with pytest.raises(UserError, match="matches no setting; the settings: task-adam"):
        sweep.matching(specs, ["nothing-*"])


def test_a_flag_is_only_ever_its_whole_name(capsys):
    from experiments.__main__ import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "optimizer", "--seed", "2"])  # Not --seeds.
    assert "unrecognized arguments: --seed 2" in capsys.readouterr().err


def test_where_the_data_lies_is_no_setting_a_rerun_or_a_chart_compares():
    """A sweep run again with the data in another folder (the Debian copy, say) keeps its
    runs, and charts group them with the others' seeds."""
    from plots.runlog import NOT_SETTINGS

    made = sweep.RunConfig(tasks=("id", "fashion"), data_fashion_dir="../shared/fashion")
    asked = sweep.RunConfig(tasks=("id", "fashion"), data_fashion_dir="/usr/share/fashion")
    assert sweep.other_settings(made.to_json(), asked) == []
    assert sweep.other_settings(made.to_json(), sweep.RunConfig(tasks=("id", "inv")))
    assert {"data_dir", "data_fashion_dir", "data_dog_dir"} <= NOT_SETTINGS
