"""The model builder: network specs (conv fc | fc fc | conv conv fc ...) to Keras models."""

from models.builder import LAYER_KINDS, NORMS, build_model, parse_network
from models.layers import LocalResponseNorm

__all__ = ["LAYER_KINDS", "NORMS", "LocalResponseNorm", "build_model", "parse_network"]
