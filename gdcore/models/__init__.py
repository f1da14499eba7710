"""Models: a linear model and multi-layer perceptrons, one flat parameter vector each."""

from .base import MODEL_CLASSES, Arrays, Config, Model
from .linear import LinearModel
from .mlp import MLP

__all__ = ["MODEL_CLASSES", "Arrays", "Config", "LinearModel", "MLP", "Model"]
