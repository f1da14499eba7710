"""What the Trainer needs of a model, and the registry ``gdcore.load`` reads.

A model keeps its parameters in one flat array of its dtype (``params``),
which fits update in place; it tells a backend how to compute its loss on
data (``_objective``), which of its parameters the optimizer steps
(``_n_free``: a prefix), and how to present a flat gradient to users.
"""

from __future__ import annotations

import math
import numbers
import os
import reprlib
from typing import Any, ClassVar, Dict, Mapping, Optional, Tuple, Type, Union

import numpy as np

from ..backends._base import Backend
from ..losses import Loss
from .. import _util
from .._validation import as_data
from ..loop import Objective


#: Model classes by name, for ``gdcore.load``: every subclass of Model registers itself.
MODEL_CLASSES: Dict[str, Type["Model"]] = {}

Config = Dict[str, Any]  # JSON-able: str, int, float, bool, None, lists and dicts of them
Arrays = Dict[str, np.ndarray]  # numeric arrays only


class Model:
    """What the Trainer needs of a model: a width, a dtype, its parameters, and hooks.

    ``_objective`` builds the backend's objective for the model's loss on
    validated data; ``_auto_lr`` gives the step ``lr="auto"`` takes in the
    raw coordinates; ``_split_gradient`` turns a flat gradient into what
    ``Loss.gradient`` returns.

    Persistence (``save`` / ``gdcore.load``) goes through three more hooks:
    ``_state()`` returns ``(config, arrays)`` (a JSON-able dict and a dict of
    numeric arrays); the classmethod ``_state_layout(config)`` validates a
    config and gives the dtype and shapes of the arrays it implies, so that a
    loader checks a file's arrays before reading them; the classmethod
    ``_from_state(config, arrays)`` rebuilds the model, validating what it is
    given. Subclasses register under their class name, which is what a saved
    file names.

    Examples
    --------
    gdcore's models are its subclasses:

    >>> import gdcore
    >>> isinstance(gdcore.LinearModel(2), gdcore.Model), isinstance(gdcore.MLP([2, 1]), gdcore.Model)
    (True, True)
    >>> model = gdcore.LinearModel(2)
    >>> model.n_features, model.dtype, model.params
    (2, dtype('float64'), array([0., 0., 0.]))
    """

    n_features: int
    dtype: np.dtype
    _registry_name: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._registry_name = cls.__name__
        MODEL_CLASSES[cls.__name__] = cls

    #: Whether the fit may run in standardised coordinates (gdcore/precondition.py).
    _linear: ClassVar[bool] = False
    #: The optimizer state a model file saved with the model (gdcore.continued.Stream),
    #: until a Trainer continues it.
    _loaded_stream: Any = None

    @property
    def params(self) -> np.ndarray:
        """Every parameter in one flat array (the buffer fits update)."""
        raise NotImplementedError

    @property
    def _n_free(self) -> int:
        """The optimizer steps params[:_n_free]; the rest stay as they are."""
        return int(self.params.shape[0])

    @property
    def _penalised(self) -> np.ndarray:
        """Which parameters a penalty applies to: the weights, never an intercept or bias."""
        raise NotImplementedError

    def predict(self, X: Any) -> np.ndarray:
        """Predictions for the rows of X.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features) or (n_samples,)
            The rows to predict (a 1-D X is one feature).

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
            The predictions, in the model's dtype.

        Raises
        ------
        ValueError
            X's width is not ``n_features``, or the predictions overflow the
            model's dtype.

        Examples
        --------
        >>> import gdcore
        >>> model = gdcore.LinearModel(1)
        >>> model.w, model.b = [2.0], 1.0
        >>> model.predict([0.0, 1.0, 2.0])
        array([1., 3., 5.])
        """
        raise NotImplementedError

    def save(self, path: Union[str, "os.PathLike[str]"],
             metadata: Optional[Mapping[str, Any]] = None, trainer: Any = None) -> None:
        """Write the model to ``path`` in gdcore's safe format (see ``gdcore.load``).

        Parameters
        ----------
        path : str or path-like
            The file to write (an .npz archive, whatever its extension).
        metadata : mapping, optional
            JSON-able extra information kept alongside (e.g. column names);
            read back with ``gdcore.persist.read``.
        trainer : gdcore.Trainer, optional
            Save also the optimizer state with which ``trainer`` fitted this model
            last (momentum buffers, moments, step count, epochs, random stream):
            after ``gdcore.load``, a Trainer's ``partial_fit`` (or a fit with
            ``warm_start=True``) continues it as if there had been no restart.
        """
        from ..persist import save
        save(self, path, metadata, trainer)

    def _state(self) -> Tuple[Config, Arrays]:
        raise NotImplementedError

    @classmethod
    def _state_layout(cls, config: Config) -> Tuple[np.dtype, Dict[str, Tuple[int, ...]]]:
        """The dtype and shapes of the arrays ``_from_state(config, ...)`` takes, from the
        config alone, which it validates (ValueError for a config that makes no model,
        one too large for memory included): a file's arrays are checked against them
        before a byte of them is read."""
        raise NotImplementedError

    @classmethod
    def _from_state(cls, config: Config, arrays: Arrays) -> "Model":
        raise NotImplementedError

    @classmethod
    def _check_state(cls, config: Config, arrays: Arrays) -> np.dtype:
        """``_state_layout(config)``'s dtype, ``arrays`` checked against its names and shapes."""
        dtype, shapes = cls._state_layout(config)
        if set(arrays) != set(shapes):
            raise ValueError(f"a {cls.__name__} needs the arrays {sorted(shapes)}, "
                             f"got {sorted(arrays)}")
        for key, shape in shapes.items():
            if np.shape(arrays[key]) != shape:
                raise ValueError(f"array {key} must have shape {shape}, "
                                 f"got {np.shape(arrays[key])}")
        return dtype

    def _objective(self, backend: Backend, loss: Loss, X: np.ndarray, y: np.ndarray,
                   n_jobs: int = 1, sample_weight: Optional[np.ndarray] = None) -> Objective:
        raise NotImplementedError

    def _loss_gradient(self, loss: Loss, X: Any, y: Any, backend: str) -> Any:
        """``loss.gradient(self, X, y)``: one pass of the backend's sums, split by layout."""
        from ..backends import get_backend
        Xc, yc = as_data(X, y, self.dtype)
        self._check_features(Xc)
        objective = self._objective(get_backend(backend), loss, Xc, yc)
        total, grad = objective.sums(self.params)
        return self._split_gradient(np.asarray(grad) / Xc.shape[0])

    def _split_gradient(self, grad: np.ndarray) -> Any:
        raise NotImplementedError

    def _auto_lr(self, backend: Backend, X: np.ndarray, batch_size: Optional[int],
                 sample_weight: Optional[np.ndarray] = None) -> float:
        raise NotImplementedError

    def _finite(self, predictions: np.ndarray) -> np.ndarray:
        """``predictions``, checked: an overflow is an error, not an inf returned."""
        if not _util.all_finite(predictions):
            raise ValueError(f"the predictions overflow {self.dtype.name} arithmetic "
                             f"(X is too large for this model's parameters)")
        return predictions

    def _check_features(self, X: np.ndarray) -> None:
        if X.shape[1] != self.n_features:
            raise ValueError(f"X has {X.shape[1]} features but the model has "
                             f"n_features={self.n_features}")


def config_fields(config: Config, *keys: str) -> Tuple[Any, ...]:
    """The values of ``keys`` in a saved config (ValueError naming any that is missing)."""
    missing = [key for key in keys if key not in config]
    if missing:
        raise ValueError(f"the config lacks {', '.join(missing)}")
    return tuple(config[key] for key in keys)


def config_dtype(name: Any) -> np.dtype:
    """A saved dtype: its name only, never something numpy would parse at length."""
    if not isinstance(name, str) or name not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {reprlib.repr(name)}")
    return np.dtype(name)
