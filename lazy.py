"""Imports put off until first use: a package's public names, or a whole module.

So that importing a TensorFlow-free part of a package (models.spec, tasks.registry,
the run config, the training methods' declarations) does not load TensorFlow."""

import importlib
from typing import Callable, Mapping


def lazy_names(package: str, homes: Mapping[str, str]) -> Callable[[str], object]:
    """A module __getattr__ that imports each name of `homes` (name -> module) on first use."""

    def __getattr__(name: str):
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(homes[name]), name)

    return __getattr__


class LazyModule:
    """A module, imported when one of its names is first read: `tf = LazyModule("tensorflow")`
    at the top of a file that must import without TensorFlow (a training method's, whose
    declarations --help reads) and uses it only inside its functions. (importlib's
    LazyLoader would put a stand-in in sys.modules, where the checks that TensorFlow is
    not loaded would find it.)"""

    def __init__(self, name: str):
        self._name = name
        self._module = None

    def __getattr__(self, name: str):
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, name)
