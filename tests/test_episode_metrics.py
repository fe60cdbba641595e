"""The ten-task paper's measures on a hand-built episodic log with known answers, and Figure 2."""

import json

import numpy as np
import pytest

from plots.__main__ import main
from plots.episodes import (accuracy_after, accuracy_at_start, by_times_trained,
                            default_budget, episode_curve, trials_to_criterion)
from plots.metrics import accuracy_matrix
from plots.runlog import load_runs
from tests.run_fixtures import write_episodic_run, write_run

TASKS = ("a", "b")
# (step, episode, epoch, epoch_end, trials of a and b so far, accuracy of a and b)
LINES = [
    (0, 1, 0, True, (0, 0), (0.5, 0.5)),
    (5, 1, 1, True, (100, 0), (0.8, 0.5)),
    (10, 1, 2, True, (200, 0), (0.95, 0.5)),  # a reaches 0.9 after 200 trials.
    (12, 2, 1, False, (220, 20), (0.7, 0.6)),  # Between epoch ends: not judged.
    (15, 2, 1, True, (250, 50), (0.92, 0.8)),  # a again after 50 trials in episode 2.
    (20, 2, 2, True, (300, 100), (0.93, 0.91)),  # b after 100.
]
NAN = np.nan


@pytest.fixture
def run(tmp_path):
    [run] = load_runs([write_episodic_run(tmp_path / "run", TASKS, LINES)])
    return run


def test_episodes_are_the_periods_of_an_episodic_run(run):
    assert run.periods() == [(0, 10, "a"), (10, 20, "b")]
    acc, trained, _ = accuracy_matrix(run)
    np.testing.assert_allclose(acc, [[0.95, 0.5], [0.93, 0.91]])
    assert trained == [0, 1]


def test_episode_curves_count_trials_from_the_episodes_start(run):
    assert episode_curve(run, 1, 2) == ([0, 20, 50, 100], [0.95, 0.7, 0.92, 0.93])
    assert episode_curve(run, 2, 2) == ([0, 20, 50, 100], [0.5, 0.6, 0.8, 0.91])


def test_trials_to_criterion_and_by_times_trained(run):
    trials = trials_to_criterion(run)
    np.testing.assert_array_equal(trials, [[200, 50], [NAN, 100]])
    np.testing.assert_array_equal(by_times_trained(trials), [[200, 50], [100, NAN]])
    np.testing.assert_array_equal(trials_to_criterion(run, criterion=0.99), [[NAN] * 2] * 2)


def test_accuracy_at_start_and_after_a_budget(run):
    np.testing.assert_array_equal(accuracy_at_start(run), [[0.5, 0.95], [NAN, 0.5]])
    assert default_budget(run) == 50
    # Interpolated between evaluations: a in episode 1 is at 0.5 after 0 trials, 0.8 after 100.
    np.testing.assert_allclose(accuracy_after(run, 50), [[0.65, 0.92], [NAN, 0.8]])
    # A budget beyond an episode's end takes the episode's last evaluation.
    np.testing.assert_allclose(accuracy_after(run, 1000), [[0.95, 0.93], [NAN, 0.91]])


def test_metrics_command_prints_and_writes_the_episode_tables(run, tmp_path, capsys):
    out = tmp_path / "m.json"
    assert main(["metrics", run.path, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "trials to criterion" in printed and "epochs per episode: 2 2" in printed
    [result] = json.loads(out.read_text())
    assert result["episodes"]["trials_to_criterion"] == [[200, 50], [None, 100]]


def test_figure2_renders_from_replications_and_refuses_switch_runs(run, tmp_path):
    other = write_episodic_run(tmp_path / "other", ("b", "a"), LINES)
    out = tmp_path / "figure2.png"
    assert main(["paper-figure2", run.path, other, "--out", str(out)]) == 0
    assert out.stat().st_size > 10_000
    switching = write_run(tmp_path / "switching")
    with pytest.raises(SystemExit, match="not an episodic run"):
        main(["paper-figure2", switching, "--out", str(out)])


def test_the_tasks_chart_reads_an_episodic_run_of_many_tasks(tmp_path):
    from plots.charts import _title

    names = tuple(f"shapes-colour-{c}" for c in ("red", "orange", "yellow", "green", "cyan"))
    lines = [(0, 1, 0, True, (0,) * 5, (0.5,) * 5)]
    for episode in range(1, 6):
        trials = tuple(100 * episode if j < episode else 0 for j in range(5))
        lines.append((10 * episode, episode, 1, True, trials, (0.9,) * 5))
    [run] = load_runs([write_episodic_run(tmp_path / "run", names, lines)])
    title = _title(run)
    assert title.startswith("5 tasks (shapes-colour-red ... shapes-colour-cyan)")
    assert "criterion episodes (90%)" in title and "task time" not in title
    out = tmp_path / "tasks.png"
    assert main(["tasks", run.path, "--out", str(out)]) == 0 and out.stat().st_size > 10_000
