"""A package's public names, each imported from its module on first use.

So that importing a TensorFlow-free part of a package (models.spec, tasks.registry,
the run config) does not load TensorFlow through the package's __init__."""

import importlib
from typing import Callable, Mapping


def lazy_names(package: str, homes: Mapping[str, str]) -> Callable[[str], object]:
    """A module __getattr__ that imports each name of `homes` (name -> module) on first use."""

    def __getattr__(name: str):
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(homes[name]), name)

    return __getattr__
