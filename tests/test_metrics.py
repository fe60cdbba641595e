"""Continual-learning metrics on hand-built accuracy matrices with known answers."""

import numpy as np
import pytest

from plots.metrics import (accuracy_matrix, alone_accuracies, average_accuracy,
                           backward_transfer, forgetting, forward_transfer,
                           forward_transfer_all, forward_transfer_alone, run_metrics,
                           setting_table, switch_events)
from plots.runlog import load_run
from tests.run_fixtures import write_run

# Three tasks learnt once each, in order: acc[i, j] is task j after period i.
ACC = np.array([[0.9, 0.1, 0.2],
                [0.6, 0.8, 0.3],
                [0.5, 0.7, 0.95]])
INITIAL = np.array([0.1, 0.05, 0.1])


def test_average_accuracy_is_the_final_row_mean():
    assert average_accuracy(ACC) == pytest.approx((0.5 + 0.7 + 0.95) / 3)


def test_forgetting_is_best_earlier_minus_final_over_old_tasks():
    # Task 0: max(0.9, 0.6) - 0.5 = 0.4; task 1: max(0.1, 0.8) - 0.7 = 0.1.
    assert forgetting(ACC) == pytest.approx((0.4 + 0.1) / 2)


def test_backward_transfer_is_final_minus_just_learned():
    assert backward_transfer(ACC) == pytest.approx(((0.5 - 0.9) + (0.7 - 0.8)) / 2)


def test_forward_transfer_is_before_learning_minus_step_zero():
    # Task 1 before its period: 0.1 - 0.05; task 2: 0.3 - 0.1.
    assert forward_transfer(ACC, INITIAL) == pytest.approx((0.05 + 0.2) / 2)


def test_forward_transfer_all_averages_every_period_before_the_task_s_first():
    # Task 1: after period 0, 0.1 - 0.05; task 2: after periods 0 and 1, 0.2 - 0.1, 0.3 - 0.1.
    assert forward_transfer_all(ACC, INITIAL) == pytest.approx((0.05 + 0.1 + 0.2) / 3)


def test_forward_transfer_alone_is_just_learned_minus_the_task_trained_alone():
    # Task 1 just learned 0.8 against 0.9 alone; task 2, 0.95 against 0.9; task 0 is first.
    alone = {0: 0.99, 1: 0.9, 2: 0.9}
    assert forward_transfer_alone(ACC, alone) == pytest.approx((-0.1 + 0.05) / 2)
    assert forward_transfer_alone(ACC, {1: 0.9}) == pytest.approx(-0.1)  # Only referenced ones.
    assert np.isnan(forward_transfer_alone(ACC, {}))


def test_metrics_name_each_forward_transfer_and_read_the_alone_runs(tmp_path, capsys):
    from plots.__main__ import main

    run = write_run(tmp_path / "pair", tasks=("id", "inv"), task_time=100, max_steps=200,
                    accuracy=lambda j, step, active: 0.5 + 0.1 * j + step / 1000)
    write_run(tmp_path / "alone-inv", tasks=("inv",), task_time=100, max_steps=100,
              accuracy=lambda j, step, active: 0.9)
    assert alone_accuracies([load_run(str(tmp_path / "alone-inv"))]) == {"inv": 0.9}
    assert main(["metrics", run, "--alone", str(tmp_path / "alone-inv")]) == 0
    out = capsys.readouterr().out
    assert "FWT init" in out and "FWT all" in out and "FWT alone" in out
    assert "Lopez-Paz and Ranzato" in out and "Diaz-Rodriguez" in out
    metrics = run_metrics(load_run(run), alone={"inv": 0.9})
    assert metrics["forward_transfer_alone"] == pytest.approx((0.5 + 0.1 + 0.2) - 0.9)


def test_metrics_do_not_modify_their_input():
    acc = ACC.copy()
    forgetting(acc), backward_transfer(acc), forward_transfer(acc, INITIAL)
    np.testing.assert_array_equal(acc, ACC)


def test_no_forgetting_and_perfect_transfer():
    acc = np.array([[1.0, 1.0], [1.0, 1.0]])
    assert forgetting(acc) == 0.0 and backward_transfer(acc) == 0.0
    assert forward_transfer(acc, np.zeros(2)) == 1.0


def test_a_single_period_has_no_forgetting_or_transfer():
    acc = np.array([[0.9]])
    assert np.isnan(forgetting(acc)) and np.isnan(backward_transfer(acc))
    assert np.isnan(forward_transfer(acc, np.array([0.1])))


def test_revisited_tasks_use_last_and_first_visits():
    # Two tasks alternating a, b, a, b.
    acc = np.array([[0.8, 0.2], [0.5, 0.9], [0.95, 0.6], [0.7, 0.97]])
    trained = [0, 1, 0, 1]
    assert forgetting(acc, trained) == pytest.approx(0.95 - 0.7)
    assert backward_transfer(acc, trained) == pytest.approx(0.7 - 0.95)
    assert forward_transfer(acc, np.array([0.1, 0.1]), trained) == pytest.approx(0.2 - 0.1)


def _step_function(j, step, active):
    """0.9 for the task trained last, 0.3 for one trained before but not last, 0.1 for one
    never trained yet; period length 100, tasks id (0) and inv (1) alternating."""
    del active
    if step == 0:
        return 0.1
    if ((step - 1) // 100) % 2 == j:
        return 0.9
    return 0.3 if j == 0 or step > 100 else 0.1


def test_accuracy_matrix_and_switch_events_from_a_run(tmp_path):
    run = load_run(write_run(tmp_path / "r", accuracy=_step_function))
    acc, trained, initial = accuracy_matrix(run)
    assert trained == [0, 1, 0, 1] and list(initial) == [0.1, 0.1]
    assert acc.shape == (4, 2) and acc[0, 0] == 0.9 and acc[1, 1] == 0.9
    events = switch_events(run)
    assert [(e["step"], e["left"], e["entered"]) for e in events] == [
        (100, "id", "inv"), (200, "inv", "id"), (300, "id", "inv")]
    first = events[0]
    assert first["accuracy_at_switch"] == 0.9 and first["lowest"] == 0.3
    assert first["drop"] == pytest.approx(0.6)
    assert first["returns_at"] == 200 and first["recovery_steps"] == 50  # First test after 200.
    assert events[-1]["returns_at"] is None and events[-1]["recovery_steps"] is None


def test_a_joint_run_has_its_final_accuracy_but_no_forgetting_or_transfer(tmp_path):
    run = load_run(write_run(tmp_path / "joint", mode="joint"))
    assert run.periods() == []
    metrics = run_metrics(run)
    final = run.tests[-1]["test_accuracy"]
    assert metrics["average_accuracy"] == pytest.approx(np.mean(list(final.values())))
    assert metrics["period_tasks"] == ["all"]
    assert all(np.isnan(metrics[k]) for k in ("forgetting", "backward_transfer",
                                              "forward_transfer"))


def test_the_setting_table_averages_each_setting_over_its_seeds(tmp_path):
    runs = [load_run(write_run(tmp_path / f"{name}-{seed}", seed=seed, accuracy=_step_function,
                               **settings))
            for name, settings in (("plain", {}), ("ewc", {"ewc_lambda": 10.0}),
                                   ("joint", {"mode": "joint"}))
            for seed in (0, 1)]
    rows = setting_table(runs)
    assert [(r["setting"], r["seeds"]) for r in rows] == [
        ("ewc_lambda=0.0, mode=switch", 2), ("ewc_lambda=10.0, mode=switch", 2),
        ("ewc_lambda=0.0, mode=joint", 2)]  # A setting a config lacks: its default.
    single = run_metrics(runs[0])
    assert rows[0]["forgetting"] == pytest.approx(single["forgetting"])
    assert rows[0]["forgetting_sd"] == pytest.approx(0.0)
    assert np.isnan(rows[2]["forgetting"])  # Undefined for joint training.


def test_with_many_differing_settings_labels_say_where_each_departs_from_the_first(tmp_path):
    settings = [{}, {"ewc_lambda": 10.0}, {"mode": "joint", "pcgrad": True}]
    base = {"ewc_lambda": 0.0, "mode": "switch", "pcgrad": False}
    runs = [load_run(write_run(tmp_path / str(i), **{**base, **extra}))
            for i, extra in enumerate(settings)]
    assert [row["setting"] for row in setting_table(runs)] == [
        "ewc_lambda=0.0, mode=switch, pcgrad=False", "ewc_lambda=10.0",
        "mode=joint, pcgrad=True"]
