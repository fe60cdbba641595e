"""The model builder: network specs (conv fc | fc fc | conv conv fc ...) to Keras models."""

from lazy import lazy_names

_HOMES = {
    **{name: "models.spec" for name in ("INITS", "KERNELS", "LAYER_KINDS", "NETWORKS", "NORMS",
                                        "parse_network")},
    "build_model": "models.builder",
    "LocalResponseNorm": "models.layers", "TaskHead": "models.layers",
}
__all__ = sorted(_HOMES)
__getattr__ = lazy_names(__name__, _HOMES)
