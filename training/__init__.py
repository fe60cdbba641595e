"""Training: the run config, the task schedule, compiled steps, the run log and the runner."""

from training.config import OPTIMIZERS, SCHEDULES, RunConfig, smoke_config
from training.runner import config_from_run_dir, run_experiment
from training.schedule import Schedule

__all__ = ["OPTIMIZERS", "SCHEDULES", "RunConfig", "Schedule", "config_from_run_dir",
           "run_experiment", "smoke_config"]
