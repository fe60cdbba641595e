"""The model builder: network specs (conv fc | fc fc | conv conv fc ...) to Keras models."""

from lazy import lazy_names

_HOMES = {
    "INITS": "models.spec", "LAYER_KINDS": "models.spec", "NETWORKS": "models.spec",
    "NORMS": "models.spec", "parse_network": "models.spec", "build_model": "models.builder",
    "LocalResponseNorm": "models.layers", "TaskHead": "models.layers",
}
__all__ = sorted(_HOMES)
__getattr__ = lazy_names(__name__, _HOMES)
