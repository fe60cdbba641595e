"""The model builder: network specs (conv fc | fc fc | conv conv fc ...) to Keras models."""

from models.builder import INITS, LAYER_KINDS, NETWORKS, NORMS, build_model, parse_network
from models.layers import LocalResponseNorm, TaskHead

__all__ = ["INITS", "LAYER_KINDS", "NETWORKS", "NORMS", "LocalResponseNorm", "TaskHead",
           "build_model", "parse_network"]
