"""The results report: made again from the committed logs, and its verdicts' rules."""

import json
import os
import re

import pytest

from experiments import report, stats
from experiments.__main__ import main
from experiments.studies import base, paper, split_mnist_lr_drop
from experiments.studies.blog import (measures, mnist_alone, optimizer, switching, task_signal,
                                      task_time, width)
from tests.run_fixtures import write_original_run, write_run

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "results")
REPORT = os.path.join(REPO, "docs", "results.md")


def test_the_committed_report_is_what_the_committed_logs_give():
    text, charts = report.build(RESULTS, os.path.dirname(REPORT))
    with open(REPORT) as f:
        assert f.read() == text, "run `python -m experiments report` and commit docs/results.md"
    for path, _ in charts:
        assert os.path.isfile(path), f"{path}: run `python -m experiments report`"


def test_report_check_says_whether_the_file_is_what_the_logs_give(tmp_path, capsys):
    out = tmp_path / "results.md"
    out.write_text("edited by hand\n")
    assert main(["report", "--results", RESULTS, "--out", str(out), "--check"]) == 1
    assert main(["report", "--results", RESULTS, "--out", str(out), "--no-charts"]) == 0
    assert main(["report", "--results", RESULTS, "--out", str(out), "--check"]) == 0
    assert "is what the logs" in capsys.readouterr().out


def test_an_out_path_that_cannot_be_written_is_refused_before_the_work(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    for out, cause in [(tmp_path, "is a folder; name a file"),
                       (tmp_path / "absent" / "results.md", r"\(No such file or directory\)"),
                       (tmp_path / "file" / "results.md", r"\(Not a directory\)")]:
        with pytest.raises(SystemExit, match=rf"^python -m experiments: error: .*--out "
                                             rf"{out}.*{cause}.*nothing was written"):
            main(["report", "--results", RESULTS, "--out", str(out)])
    assert capsys.readouterr().out == ""
    assert sorted(os.listdir(tmp_path)) == ["file"]


def test_a_results_folder_without_the_logs_leaves_the_report_as_it_was(tmp_path):
    """`--results EMPTY_DIR` (a typo is enough) once rewrote the report as 'not measured yet'
    rows; so would a folder that holds some of the experiments' logs, losing the others."""
    with open(REPORT) as f:
        committed = f.read()
    out = tmp_path / "results.md"
    out.write_text(committed)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match=rf"error: {tmp_path / 'empty'} holds no run logs that "
                                         r"the report reads .*; point --results at the folder "
                                         rf"of run logs \({out} was not changed\)$"):
        main(["report", "--results", str(tmp_path / "empty"), "--out", str(out), "--no-charts"])
    some = tmp_path / "some"
    some.mkdir()
    os.symlink(os.path.join(RESULTS, "optimizer"), some / "optimizer")
    with pytest.raises(SystemExit, match=r"error: the logs in .*some do not measure 1\. MNIST "
                                         r"alone; 3\. .*, which .*results.md shows measured; "
                                         r"point --results at the folder that holds their logs, "
                                         r"or remove .* first"):
        main(["report", "--results", str(some), "--out", str(out), "--no-charts"])
    assert out.read_text() == committed
    assert sorted(os.listdir(tmp_path)) == ["empty", "results.md", "some"]


def test_a_blog_figure_agrees_within_its_rounding_and_two_seed_sds():
    assert stats.within_band(stats.Measure([0.960, 0.962, 0.958]), 96.0, mnist_alone.ROUNDING)[0]
    agrees, difference, tolerance = stats.within_band(
        stats.Measure([0.984, 0.985, 0.986]), 97.0, mnist_alone.ROUNDING)
    assert not agrees and difference == pytest.approx(1.5) and tolerance == pytest.approx(0.7)
    assert [base.verdict(p) for p in ([True, True], [True, False], [False])] == [
        base.REPRODUCED, base.PARTLY, base.NOT_REPRODUCED]


def _complete(path):
    with open(os.path.join(path, "summary.json"), "w") as f:
        json.dump({"status": "completed"}, f)


def _switching_results(root, shrinking: bool, alone_id: float, costless_from: int = 0,
                       first_train: float = 0.99):
    """Synthetic logs of claim 3: three seeds switching id and inv every 2,000 steps, and
    each task alone. The task left loses `drop` of its accuracy over the next period, the
    same drop at every switchover or a smaller one each time (none from period
    `costless_from`, if given); the first period trains to `first_train`."""
    def switching(task, step, active):
        period = step // 2000
        if task == active or (costless_from and period >= costless_from):
            return 0.97
        drop = 0.3 / (max(period, 1) if shrinking else 1)
        return 0.97 - drop * (step % 2000) / 2000

    for seed in range(3):
        _complete(write_run(os.path.join(root, "switching", f"00-tt-s{seed}"),
                            task_time=2000, max_steps=30000, test_frequency=500, seed=seed,
                            accuracy=switching,
                            train_accuracy=lambda step: first_train if step < 2000 else 0.99))
        for task, folder, level in (("id", "baseline-mnist", alone_id),
                                    ("inv", "baseline-inv", 0.96)):
            _complete(write_run(os.path.join(root, folder, f"00-run-s{seed}"), tasks=(task,),
                                task_time=24000, max_steps=24000, test_frequency=500,
                                seed=seed, accuracy=lambda j, step, a, level=level: level))


def test_switching_claim_holds_when_forgetting_shrinks_and_ends_near_alone(tmp_path):
    _switching_results(tmp_path, shrinking=True, alone_id=0.975)
    [section] = switching.sections(str(tmp_path), str(tmp_path))
    assert section.verdict == base.REPRODUCED
    assert "| id | 22.5 | 7.5 | 4.5 | 3.2 | 2.5 | 2.0 | 1.7 |" in section.body
    assert "| inv | 11.3 | 5.6 | 3.7 | 2.8 | 2.2 | 1.9 | — |" in section.body


def test_switching_claim_is_partly_reproduced_when_forgetting_does_not_shrink(tmp_path):
    _switching_results(tmp_path, shrinking=False, alone_id=0.99)
    [section] = switching.sections(str(tmp_path), str(tmp_path))
    assert section.verdict == base.PARTLY
    assert re.search(r"\n- forgetting shrinks \(each task's last drop below its first\): "
                     r"id 22\.5 to 22\.5; inv [0-9.]+ to [0-9.]+ points: no\n", section.body)
    # Id alone at 99%, switching at 97%: 2 points under, the interval nowhere near -1 point.
    assert re.search(r"\n- at 24,000 steps each task near or above alone \(the 90% interval of "
                     r"the difference above -1 point\): id -2\.00 \[-2\.00, -2\.00\], "
                     r"inv [-+][0-9.]+ \[[-+0-9., ]+\] points: no", section.body)
    assert re.search(r"\n- training accuracy near 100% in every period \(at least 95%\): "
                     r"lowest 99\.0%: yes", section.body)


def test_near_or_above_alone_needs_the_differences_interval_above_minus_one_point(tmp_path):
    """Seeds that spread wide leave the difference's interval reaching below -1 point, though
    its mean is a third of a point under: not shown near (two standard errors, 2.9 points,
    would have called it near)."""
    for seed, level in enumerate((0.94, 0.97, 0.99)):
        _complete(write_run(os.path.join(tmp_path, "switching", f"00-tt-s{seed}"),
                            task_time=2000, max_steps=30000, test_frequency=500, seed=seed,
                            accuracy=lambda j, step, a, level=level: level,
                            train_accuracy=lambda step: 0.99))
        for task, folder in (("id", "baseline-mnist"), ("inv", "baseline-inv")):
            _complete(write_run(os.path.join(tmp_path, folder, f"00-run-s{seed}"),
                                tasks=(task,), task_time=24000, max_steps=24000,
                                test_frequency=500, seed=seed,
                                accuracy=lambda j, step, a: 0.97))
    [section] = switching.sections(str(tmp_path), str(tmp_path))
    row = re.search(r"\| id \| 96\.67 ± 1\.45 \(n=3\) \| 97\.00 ± 0\.00 \(n=3\) \| -0\.33 \| "
                    r"\[(-[0-9.]+), \+[0-9.]+\] \| no \|", section.body)
    assert row and float(row.group(1)) < -1
    assert section.not_holding[-1] == "at 24,000 steps each task near or above alone"


def test_the_summary_names_the_parts_that_do_not_hold(tmp_path):
    _switching_results(tmp_path, shrinking=False, alone_id=0.99)
    table = report.summary(switching.sections(str(tmp_path), str(tmp_path))
                           + task_signal.sections(str(tmp_path), str(tmp_path)))
    assert ("| 3. Two tasks switching | partly reproduced | forgetting shrinks; at 24,000 "
            "steps each task near or above alone |") in table
    assert "| 4. A task signal | not measured yet | — |" in table


def _forgetting(shrinking: bool):
    """Claim 3's curve of a task: 0.97 while trained, a drop while the other trains that is
    the same at every switchover or smaller each time."""
    def accuracy(task, step, active):
        period = step // 2000
        if task == active:
            return 0.97
        return 0.97 - 0.3 / (max(period, 1) if shrinking else 1) * (step % 2000) / 2000
    return accuracy


def test_switching_claim_sets_the_blog_the_original_and_each_form_side_by_side(tmp_path):
    """The fashion form's forgetting does not shrink; the original's, at the same settings,
    does: the claim says that part is a fidelity defect to find, and takes its verdict from
    the fashion form."""
    folder = tmp_path / "switching-fashion"
    for seed in range(3):
        _complete(write_run(str(folder / f"00-tt-2000_tasks-id+fashion-s{seed}"),
                            tasks=("id", "fashion"), task_time=2000, max_steps=30000,
                            test_frequency=500, seed=seed, accuracy=_forgetting(False),
                            train_accuracy=lambda step: 0.99))
        for i, task in enumerate(("id", "fashion")):
            _complete(write_run(str(folder / f"0{i + 1}-tasks-{task}-s{seed}"), tasks=(task,),
                                task_time=2000, max_steps=30000, test_frequency=500, seed=seed,
                                accuracy=lambda j, step, a: 0.97))
    curve = _forgetting(True)
    tasks = ("id", "fashion")
    for i in range(3):
        path = (tmp_path / "original" / "switching-fashion" / "00-tt-2000_tasks-id+fashion"
                / str(i) / "t_id_fashion" / "combined" / "GradientDescent" / "n_conv_fc"
                / "tt2000" / "2026-12-07 10:00:00")
        write_original_run(str(path), {
            task: {step: curve(j, step, (min(step, 29999) // 2000) % 2)
                   for step in range(0, 30001, 500)} for j, task in enumerate(tasks)},
            train={step: 0.99 for step in range(10, 30001, 10)})
        for k, task in enumerate(tasks):
            write_original_run(str(
                tmp_path / "original" / "switching-fashion" / f"0{k + 1}-tasks-{task}" / str(i)
                / f"t_{task}" / "combined" / "GradientDescent" / "n_conv_fc" / "tt2000"
                / "2026-12-07 11:00:00"), {task: {step: 0.97 for step in range(0, 30001, 500)}})
    [section] = switching.sections(str(tmp_path), str(tmp_path))
    assert section.verdict == base.PARTLY  # The fashion form's: forgetting does not shrink.
    assert ("| part | the blog | this project, fashion form | the original, fashion form |"
            in section.body)
    assert "| forgetting shrinks | yes | id 22.5 to 22.5; fashion 22.5 to 22.5 points: no | " \
        "id 22.5 to 1.7; fashion 11.3 to 1.6 points: yes |" in section.body
    assert ("- forgetting shrinks: holds in the original but not here, a fidelity defect "
            "to find") in section.body
    assert "; 3 runs; the single-task runs are the grid" in section.body
    assert "; 3 seeds; the single-task runs are the grid" in section.body
    assert "--runs 3 " in section.body and "--seeds 3 " in section.body
    assert section.not_holding == ["forgetting shrinks"]


def test_switching_claim_says_why_a_part_fails(tmp_path):
    _switching_results(tmp_path, shrinking=True, alone_id=0.975, costless_from=4,
                       first_train=0.93)
    [section] = switching.sections(str(tmp_path), str(tmp_path))
    assert section.verdict == base.PARTLY
    assert "Training accuracy is under 95% in period(s) 1 only" in section.body
    # Of each seed's 14 switches, those at 2,000, 4,000 and 6,000 cost something (the last
    # 7.5 points: 0.3 / 3 over three quarters of a period), the 11 from 8,000 nothing.
    assert "33 of the 42 switches cost the task left nothing" in section.body
    assert "at most 7.5 points (mean 0.62)" in section.body


def test_a_claim_without_its_runs_is_not_measured_yet(tmp_path):
    [section] = switching.sections(str(tmp_path), str(tmp_path))
    assert section.verdict == base.NOT_MEASURED
    assert "experiments run switching" in section.body


def test_a_power_law_panel_gives_its_exponent_and_a_flat_one_an_interval_around_zero():
    import numpy as np

    rng = np.random.default_rng(1)
    times = np.arange(2, 11, dtype=float)
    # 6 replications x 3 tasks x times trained 2-10: 800 k^-0.7, with noise of 10% a cell.
    falling = 800 * times ** -0.7 * np.exp(rng.normal(0, 0.1, (6, 3, len(times))))
    slope, low, high = stats.slope_with_interval(falling, log_y=True, first=2)
    assert slope == pytest.approx(-0.7, abs=0.05) and low < slope < high < 0
    # Half the replications rise with times trained, half fall as much: no trend.
    centred = np.log(np.arange(1, 11)) - np.log(np.arange(1, 11)).mean()
    flat = 0.8 + 0.05 * np.array([(-1) ** r * centred for r in range(6)])[:, None, :]
    slope, low, high = stats.slope_with_interval(np.repeat(flat, 3, axis=1), log_y=False)
    assert slope == pytest.approx(0, abs=1e-9) and low < 0 < high
    with_gaps = falling.copy()
    with_gaps[:, 0, :] = np.nan  # A task that never reached the criterion: left out.
    assert stats.slope_with_interval(with_gaps, True, first=2)[0] == pytest.approx(-0.7, abs=0.05)


def test_the_paper_section_without_its_runs_is_not_measured_yet(tmp_path):
    [section] = paper.sections(str(tmp_path), str(tmp_path))
    assert section.verdict == base.NOT_MEASURED and section.source == "the paper"


def _summary(path, accuracy):
    os.makedirs(path)
    with open(os.path.join(path, "summary.json"), "w") as f:
        json.dump({"status": "completed", "final_test_accuracy_all": accuracy}, f)


@pytest.mark.parametrize("with_drop, accounts", [(0.7330, True), (0.6400, False)])
def test_the_logs_rate_section_says_whether_the_drop_closes_the_gap(tmp_path, with_drop,
                                                                     accounts):
    # Their log of domain SGD: 73.33. Ours with the scripts' rate 63.33, ten points below.
    _summary(tmp_path / "split-mnist" / "domain-sgd-s0", 0.6333)
    _summary(tmp_path / "split-mnist-lr-drop" / "domain-sgd-lr-drop-s0", with_drop)
    [section] = split_mnist_lr_drop.sections(str(tmp_path), str(tmp_path))
    assert "| SGD | domain | 63.33 |" in section.body and "| -10.00 |" in section.body
    assert ("does not account" not in section.body) == accounts
    assert split_mnist_lr_drop.sections(str(tmp_path / "nothing"), str(tmp_path)) == []


def _setting_runs(root, folder, label, seeds=3, **run):
    for seed in range(seeds):
        _complete(write_run(os.path.join(root, folder, f"{label}-s{seed}"), seed=seed, **run))


def _forgetting_curve(active_level, drop):
    """Accuracy of a two-task switching run after `step` steps: the task trained last at
    `active_level`, the other losing `drop` over the period since it was left (0.1 before
    it is first trained)."""
    def accuracy(task, step, active, task_time=100):
        del active  # The fixture's active task is the next step's; this is the last step's.
        if step == 0:
            return 0.1
        period = (step - 1) // task_time
        if task == period % 2:
            return active_level
        if period == 0:
            return 0.1
        return active_level - drop * ((step - 1) % task_time + 1) / task_time
    return accuracy


def test_the_optimizer_claim_checks_each_part_against_the_seeds_spread(tmp_path):
    common = dict(task_time=100, max_steps=600, test_frequency=50)
    _setting_runs(tmp_path, "optimizer", "00-optimizer-sgd", optimizer="sgd",
                  accuracy=_forgetting_curve(0.90, 0.10), train_accuracy=lambda s: 0.92,
                  **common)
    _setting_runs(tmp_path, "optimizer", "01-optimizer-adam", optimizer="adam",
                  accuracy=_forgetting_curve(0.95, 0.30), train_accuracy=lambda s: 1.0,
                  **common)
    [section] = optimizer.sections(str(tmp_path), str(tmp_path))
    holds = {line.split(" | ")[0][2:]: line.endswith(": yes |")
             for line in section.body.splitlines() if line.startswith("| ")
             and "part" not in line and "---" not in line}
    assert [holds[k] for k in holds] == [True, True, True, True, False]
    assert "SGD ends higher on the second task" == list(holds)[4]
    assert "- SGD ends higher on the second task (`inv`; SGD less Adam, step 600): " \
        in section.body
    assert section.verdict == base.PARTLY
    assert "Why not on `inv`: it is the task the last period trained" in section.body
    assert ("task time 100 and 600 steps: the blog's 2,000 and 30,000 scaled by 0.05 to fit "
            "this machine; every test image of each task tested every 50 steps") in section.body


def test_the_width_claim_holds_when_narrower_networks_forget_more(tmp_path):
    for i, (units, drop) in enumerate(((50, 0.5), (200, 0.3), (1000, 0.2))):
        _setting_runs(tmp_path, "width", f"0{i}-fc-units-{units}", fc_units=units,
                      network=["fc", "fc"], task_time=100, max_steps=400, test_frequency=50,
                      accuracy=_forgetting_curve(0.95, drop))
    [section] = width.sections(str(tmp_path), str(tmp_path))
    assert section.verdict == base.REPRODUCED
    # Forgetting 0.5, 0.3 and 0.2 at log2 widths 5.64, 7.64 and 9.97, three runs each: the
    # least-squares slope is -0.0687 a doubling, its standard error 0.0062 (numpy.polyfit).
    assert ("- forgetting falls as the width grows (least-squares slope over every run, per "
            "doubling of the width): -6.87 ± 0.62 points per doubling: yes") in section.body
    assert ("| forgetting falls as the width grows | yes | -6.87 ± 0.62 points per doubling: "
            "yes |") in section.body
    assert "Why not" not in section.body  # Reasons only where a part does not hold.


def test_the_width_claim_does_not_hold_when_the_fall_is_within_the_seeds_spread(tmp_path):
    # Each width's seeds forget 0.1, 0.3 and 0.5 but in a different order: no trend.
    drops = {50: (0.1, 0.3, 0.5), 200: (0.5, 0.1, 0.3), 1000: (0.3, 0.5, 0.1)}
    for i, (units, by_seed) in enumerate(drops.items()):
        for seed, drop in enumerate(by_seed):
            _complete(write_run(
                os.path.join(tmp_path, "width", f"0{i}-fc-units-{units}-s{seed}"), seed=seed,
                fc_units=units, network=["fc", "fc"], task_time=100, max_steps=400,
                test_frequency=50, accuracy=_forgetting_curve(0.95, drop)))
    [section] = width.sections(str(tmp_path), str(tmp_path))
    assert section.verdict == base.NOT_REPRODUCED
    # Every width's mean is 0.3: slope 0; residuals 0.24 over 7 degrees of freedom, against
    # 3 x 9.357 of log2 widths squared about their mean: standard error 0.0349.
    assert "| +0.00 ± 3.49 points per doubling: no |" in section.body
    assert "--seeds 3 " in section.body  # The command says how many seeds the logs hold.


def test_a_figure_that_rounds_to_zero_prints_one_way_whatever_its_sign():
    # A least-squares slope of about 1e-17 takes the sign of the BLAS's rounding noise.
    assert measures.points(-1e-17, 0.0349) == measures.points(1e-17, 0.0349) \
        == "+0.00 ± 3.49 points"


def test_the_task_time_claim_aligns_periods_and_compares_forgetting(tmp_path):
    for i, period in enumerate((100, 200)):
        _setting_runs(tmp_path, "task-time", f"0{i}-task-time-{period}",
                      task_time=period, max_steps=4 * period, test_frequency=50,
                      accuracy=lambda task, step, active, t=period: _forgetting_curve(
                          0.9, 0.2)(task, step, active, t))
    [section] = task_time.sections(str(tmp_path), str(tmp_path))
    assert "| aligned on switchovers, similar accuracy" in section.body
    assert section.verdict in (base.REPRODUCED, base.PARTLY)
    assert "the blog's 40,000 and 160,000 scaled by 0.005" in section.body


def test_the_task_time_claim_says_when_short_periods_are_too_short_to_learn(tmp_path):
    for i, (period, level) in enumerate(((100, 0.5), (200, 0.9))):
        _setting_runs(tmp_path, "task-time", f"0{i}-task-time-{period}",
                      task_time=period, max_steps=4 * period, test_frequency=50,
                      accuracy=lambda task, step, active, t=period, v=level:
                      _forgetting_curve(v, 0.2)(task, step, active, t))
    [section] = task_time.sections(str(tmp_path), str(tmp_path))
    assert "| aligned on switchovers, similar accuracy" in section.body
    assert "Why not: the spread is one of period length" in section.body
    assert "with task time 100 and" in section.body and "because at 0.005 of the blog" \
        in section.body


def _two_drops(level, drops):
    """Like _forgetting_curve, with each task's own drop."""
    curves = [_forgetting_curve(level, drop) for drop in drops]
    return lambda task, step, active: curves[task](task, step, active)


def test_the_task_signal_claim_compares_each_tasks_forgetting_and_the_mean(tmp_path):
    common = dict(task_time=100, max_steps=600, test_frequency=50)
    _setting_runs(tmp_path, "task-signal", "00-input-style-combined", input_style="combined",
                  accuracy=_two_drops(0.9, (0.3, 0.1)), train_accuracy=lambda s: 0.95,
                  test_examples=2000, **common)
    _setting_runs(tmp_path, "task-signal", "01-input-style-channelplex",
                  input_style="channelplex", accuracy=_two_drops(0.9, (0.1, 0.3)),
                  train_accuracy=lambda s: 0.99, **common)
    [section] = task_signal.sections(str(tmp_path), str(tmp_path))
    rows = [line for line in section.body.splitlines() if line.startswith("| ")][1:]
    assert [row.endswith(": yes |") for row in rows] == [True, True, True, True, False]
    assert "reduces the forgetting of `id`" in rows[0] and "| +20.00 ± 0.00 points: yes |" \
        in rows[0]
    assert "| the blog | this project, MNIST form |" in section.body
    assert section.verdict == base.PARTLY
    assert "the first 2,000 test images of each task tested every 50 steps" in section.body
    assert "without the signal `id` loses" in section.body
    assert "at a switch on average" in section.body


def test_mnist_alone_sets_the_originals_runs_beside_the_projects(tmp_path):
    for seed in range(3):
        _complete(write_run(os.path.join(tmp_path, "baseline-mnist", f"00-run-s{seed}"),
                            tasks=("id",), task_time=2000, max_steps=25000, test_frequency=500,
                            seed=seed, accuracy=lambda j, step, a: 0.96 if step < 5000 else 0.97))
    for i in range(2):
        write_original_run(str(tmp_path / "original" / "baseline-mnist" / "00-run" / str(i)
                               / "t_id" / "combined" / "GradientDescent" / "n_conv_fc" / "tt2000"
                               / "2026-12-07 10:00:00"),
                           {"id": {step: 0.95 + 0.01 * i for step in range(0, 25001, 500)}})
    [section] = mnist_alone.sections(str(tmp_path), str(tmp_path))
    assert section.verdict == base.REPRODUCED  # This project's runs decide it.
    assert "| 2,000 | 96% | this project | 96.00 ± 0.00 (n=3) | +0.00 | ±0.50 | yes |" \
        in section.body
    assert "| 25,000 | 97% | the original | 95.50 ± 0.50 (n=2) | -1.50 | ±1.91 | yes |" \
        in section.body
    assert "The original's runs (unseeded, 2 runs)" in section.body and "--runs 2 " \
        in section.body


def test_a_form_without_its_single_task_runs_shows_its_column_but_gives_no_verdict(tmp_path):
    _switching_results(tmp_path, shrinking=True, alone_id=0.975)  # The MNIST form, whole.
    for seed in range(3):  # The fashion form's switching runs, without their alone runs.
        _complete(write_run(str(tmp_path / "switching-fashion" / f"00-tt-fashion-s{seed}"),
                            tasks=("id", "fashion"), task_time=2000, max_steps=30000,
                            test_frequency=500, seed=seed, accuracy=_forgetting(False),
                            train_accuracy=lambda step: 0.88))
    [section] = switching.sections(str(tmp_path), str(tmp_path))
    assert section.verdict == base.REPRODUCED  # The MNIST form's, the fashion form's partial.
    assert "| this project, MNIST form | this project, fashion form |" in section.body
    assert section.body.splitlines()[5].endswith("points: yes | — |")  # Its last part.
    assert "`fashion`'s 7 periods end at 88.0% to 88.0%" in section.body
    assert "The single-task runs are not all measured yet" in section.body
