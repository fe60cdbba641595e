"""The task schedule at its boundaries, and RunConfig's checks of every setting."""

import dataclasses

import pytest

from errors import UserError
from schedule import Schedule
from training import RunConfig, smoke_config


def test_schedule_switches_exactly_at_task_time_boundaries():
    schedule = Schedule(("id", "inv", "ref"), task_time=500)
    expected = {0: "id", 499: "id", 500: "inv", 999: "inv", 1000: "ref", 1499: "ref",
                1500: "id", 4499: "ref", 4500: "id"}
    assert {step: schedule.task_at(step) for step in expected} == expected


def test_one_task_never_switches():
    schedule = Schedule(("id",), task_time=1)
    assert {schedule.task_at(step) for step in range(100)} == {"id"}


def test_periods_cover_the_run_and_clip_at_the_end():
    schedule = Schedule(("id", "inv"), task_time=300)
    assert schedule.periods(700) == [(0, 300, "id"), (300, 600, "inv"), (600, 700, "id")]


def test_defaults_follow_the_original_code():
    config = RunConfig()
    assert (config.learning_rate, config.dropout, config.optimizer, config.batch,
            config.network, config.task_time, config.norm) == (
        0.01, 0.9, "sgd", 100, ("conv", "fc"), 2000, "lrn")


@pytest.mark.parametrize("changes, message", [
    (dict(max_steps=0), "--max-steps must be a positive integer"),
    (dict(batch=-1), "--batch must be a positive integer"),
    (dict(task_time=0), "--task-time must be a positive integer"),
    (dict(test_frequency=0), "--test-frequency"),
    (dict(learning_rate=0.0), "--learning-rate must be positive"),
    (dict(learning_rate=float("nan")), "--learning-rate must be positive"),
    (dict(learning_rate_drops=(5, 3)), "--learning-rate-drops takes increasing steps"),
    (dict(learning_rate_drops=(0,)), "--learning-rate-drops takes increasing steps"),
    (dict(learning_rate_drops=(3,), learning_rate_drop=0.0), "--learning-rate-drop must be"),
    (dict(dropout=0.0), "keep probability"),
    (dict(dropout=1.5), "keep probability"),
    (dict(optimizer="lbfgs"), "unknown --optimizer 'lbfgs'; use one of: sgd"),
    (dict(norm="layer"), "unknown --norm"),
    (dict(input_style="rgb"), "unknown --input-style"),
    (dict(mnist_source="web"), "unknown --mnist-source"),
    (dict(tasks=("id", "bogus")), "unknown task 'bogus'"),
    (dict(network=("conv", "bogus")), "unknown layer 'bogus'"),
    (dict(run_name="a/b"), "plain directory name"),
    (dict(seed=-1), "--seed"),
])
def test_bad_settings_are_refused_with_the_flag_named(changes, message):
    with pytest.raises(UserError, match=message):
        dataclasses.replace(smoke_config(), **changes)


def test_lists_become_tuples_so_the_config_stays_frozen():
    config = RunConfig(tasks=["id", "inv"], network=["fc", "fc"])
    assert config.tasks == ("id", "inv") and config.network == ("fc", "fc")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.batch = 5


def test_kernels_are_fast_on_the_cpu_and_keras_own_on_a_gpu_unless_given():
    assert RunConfig(tasks=("id",)).kernels == "fast"
    assert RunConfig(tasks=("id",), gpu=True).kernels == "plain"
    assert RunConfig(tasks=("id",), gpu=True, kernels="fast").kernels == "fast"
    assert RunConfig(tasks=("id",), kernels="plain").kernels == "plain"
