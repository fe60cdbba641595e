"""Training: the run config, the run schedules, compiled steps, the run log and the runner."""

from lazy import lazy_names

_HOMES = {
    **{name: "training.config" for name in ("OPTIMIZERS", "SCHEDULES", "RunConfig",
                                            "smoke_config")},
    "config_from_run_dir": "training.runner", "run_experiment": "training.runner",
}
__all__ = sorted(_HOMES)
__getattr__ = lazy_names(__name__, _HOMES)
