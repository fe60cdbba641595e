"""Tasks: the registry of task names, their transforms and input styles, and the Task itself."""

from lazy import lazy_names

_HOMES = {
    **{name: "tasks.registry" for name in ("TASKS", "TaskSpec", "check_task_names",
                                           "known_tasks", "sources_needed", "task_classes")},
    **{name: "tasks.input_style" for name in ("INPUT_STYLES", "carried_channels",
                                              "filled_channels", "input_channels")},
    **{name: "tasks.task" for name in ("Split", "Task", "balanced_indices", "place_channels")},
    "build_tasks": "tasks.build", "transforms": "tasks.transforms",
}
__all__ = sorted(_HOMES)
__getattr__ = lazy_names(__name__, _HOMES)
