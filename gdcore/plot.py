"""Plots of fits and benchmarks, with matplotlib (optional: ``pip install gdcore[plot]``).

Only this module imports matplotlib, and only when it is imported. Every
function draws on the Axes it is given (``ax=``), or on a new Figure (not
registered with pyplot, so it works headless), and returns the Axes;
``save(ax, path)`` writes the figure as PNG.

The benchmark format ``plot_bench`` reads is a list of JSON-able records::

    [{"method": "cython", "n": 100000, "d": 20, "seconds_per_epoch": 0.0012, ...}, ...]

``method`` (str), ``n`` (rows), ``d`` (features) and ``seconds_per_epoch``
(float > 0) are required; other keys (repeats, threads, dtype, ...) are
ignored. A JSON file holding that list (or ``{"results": [...]}``) is read by
``load_bench``.
"""

from __future__ import annotations

import json
import math
import os
import reprlib
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

try:
    import matplotlib
    import matplotlib.colors
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
except ImportError as exc:  # pragma: no cover - exercised only without matplotlib
    raise ImportError("gdcore.plot needs matplotlib: pip install matplotlib "
                      "(or gdcore[plot])") from exc

from ._validation import as_data
from .losses import Loss, MSELoss
from .models import LinearModel
from .history import History
from .optim import SGD, Accelerated

__all__ = ["load_bench", "optimizer_label", "plot_bench", "plot_fit", "plot_loss",
           "plot_path", "save"]

BENCH_KEYS = ("method", "n", "d", "seconds_per_epoch")

#: The MAE contour is evaluated on at most this many rows (a random subset beyond).
CONTOUR_MAX_ROWS = 20_000


def _axes(ax: Optional[Axes]) -> Axes:
    if ax is not None:
        return ax
    fig = Figure(figsize=(6.4, 4.8), layout="constrained")
    return fig.add_subplot()


def save(ax: Axes, path: Union[str, "os.PathLike[str]"], dpi: int = 100) -> None:
    """Write the figure holding ``ax`` to ``path`` as PNG.

    Examples
    --------
    >>> import os
    >>> from gdcore import plot
    >>> plot.save(plot.plot_loss([1.0, 0.5, 0.25]), "loss.png")
    >>> os.path.getsize("loss.png") > 1000
    True
    """
    figure = ax.get_figure(root=True)
    assert figure is not None, "the Axes belongs to no figure"
    figure.savefig(path, format="png", dpi=dpi)


#: One fit's losses: its History, or the losses themselves.
Losses = Union[History, Sequence[float], np.ndarray]

#: Colours of several paths over one contour map, chosen to stand out on viridis.
PATH_COLOURS = ("C3", "C1", "C6", "C0", "C9", "C2", "C4", "C5", "C7", "C8")


def optimizer_label(history: History) -> str:
    """A legend label for a fit: which optimizer ran it ("gradient descent",
    "momentum 0.9", "Nesterov 0.9", "accelerated", "Adam", ...).

    Examples
    --------
    >>> import gdcore
    >>> from gdcore import plot
    >>> history = gdcore.Trainer(optimizer="nesterov", epochs=5, tol=0.0).fit(
    ...     gdcore.LinearModel(1), [1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    >>> plot.optimizer_label(history)
    'Nesterov 0.9'
    """
    opt = history.optimizer
    if isinstance(opt, SGD):
        if opt.momentum == 0:
            return "gradient descent"
        return f"{'Nesterov' if opt.nesterov else 'momentum'} {opt.momentum:g}"
    if isinstance(opt, Accelerated):
        return "accelerated"
    return "fit" if opt is None else type(opt).__name__


def _history_labels(histories: Sequence[History]) -> List[str]:
    """Optimizer labels, told apart by lr (then by position) where they repeat."""
    labels = [optimizer_label(h) for h in histories]
    if len(set(labels)) < len(labels):
        labels = [f"{name}, lr={h.lr:.3g}" if labels.count(name) > 1 else name
                  for name, h in zip(labels, histories)]
    if len(set(labels)) < len(labels):
        labels = [f"{name} #{i + 1}" if labels.count(name) > 1 else name
                  for i, name in enumerate(labels)]
    return labels


def _is_history_list(value: Any) -> bool:
    """Whether ``value`` is a list or tuple of Histories (several fits, not one's losses)."""
    return (isinstance(value, (list, tuple)) and len(value) > 0
            and any(isinstance(h, History) for h in value))


def _losses(value: Any, name: str) -> np.ndarray:
    if isinstance(value, History):
        value = value.loss
    try:
        loss = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a History or a sequence of losses, "
                        f"got {type(value).__name__}") from None
    if loss.ndim != 1 or loss.size == 0:
        raise ValueError(f"{name} must hold a 1-D, non-empty sequence of losses, "
                         f"got shape {loss.shape}")
    return loss


def _loss_curves(history: Any) -> List["tuple[Optional[str], np.ndarray]"]:
    """(label, losses) of each curve plot_loss draws; one unlabelled curve for one fit."""
    if isinstance(history, Mapping):
        if not history:
            raise ValueError("history: the mapping {label: History or losses} is empty")
        return [(str(key), _losses(value, f"history[{key!r}]")) for key, value in history.items()]
    if _is_history_list(history):
        for i, h in enumerate(history):
            if not isinstance(h, History):
                raise TypeError(f"history[{i}] must be a History like the others, "
                                f"got {type(h).__name__}")
        return [(label, _losses(h, f"history[{i}]"))
                for i, (label, h) in enumerate(zip(_history_labels(history), history))]
    return [(None, _losses(history, "history"))]


def plot_loss(history: Union[Losses, Mapping[Any, Losses], Sequence[History]],
              ax: Optional[Axes] = None, label: Optional[str] = None) -> Axes:
    """The loss of every epoch on a log scale; several fits on one Axes to compare them.

    Parameters
    ----------
    history : History, sequence of float, mapping or sequence of History
        A fit's History (its ``loss``) or the losses themselves; or several
        fits, each its own line in the legend: a mapping ``{label: History or
        losses}``, or a list of Histories (labelled by their optimizers).
    ax : matplotlib Axes, optional
    label : str, optional
        Legend label of a single fit (e.g. to add it to an Axes already drawn).

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    TypeError, ValueError
        Something other than losses, or an empty or non-1-D sequence of them.

    Examples
    --------
    >>> import gdcore
    >>> from gdcore import plot
    >>> x = [1.0, 2.0, 3.0, 4.0]
    >>> fits = {lr: gdcore.Trainer(lr=lr, epochs=50, tol=0.0).fit(gdcore.LinearModel(1), x, x)
    ...         for lr in (0.01, 0.05)}
    >>> ax = plot.plot_loss(fits)
    >>> [line.get_label() for line in ax.get_lines()]
    ['0.01', '0.05']
    """
    curves = _loss_curves(history)
    if label is not None:
        if curves[0][0] is not None:
            raise ValueError("label labels a single fit; several are labelled by the "
                             "mapping's keys or by their optimizers")
        curves = [(label, curves[0][1])]
    ax = _axes(ax)
    for name, loss in curves:
        ax.plot(np.arange(loss.size), loss, label=name)
    ax.set_yscale("log", nonpositive="mask")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("Loss per epoch")
    ax.grid(True, which="both", alpha=0.3)
    if curves[0][0] is not None:
        ax.legend()
    return ax


def _one_feature(X: Any, y: Any) -> "tuple[np.ndarray, np.ndarray]":
    Xc, yc = as_data(X, y, np.dtype(np.float64))
    if Xc.shape[1] != 1:
        raise ValueError(f"X must have one feature for this plot, got {Xc.shape[1]}")
    return Xc[:, 0], yc


def plot_fit(model: LinearModel, X: Any, y: Any, ax: Optional[Axes] = None) -> Axes:
    """The data (one feature) as points and the model's fitted line.

    Parameters
    ----------
    model : LinearModel
        A model of one feature.
    X : array-like, shape (n_samples,) or (n_samples, 1)
    y : array-like, shape (n_samples,)
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        A model or data of more than one feature.

    Examples
    --------
    >>> import gdcore
    >>> from gdcore import plot
    >>> model = gdcore.LinearModel(1)
    >>> model.w, model.b = [2.0], 1.0
    >>> ax = plot.plot_fit(model, [0.0, 1.0, 2.0], [1.1, 2.9, 5.0])
    >>> ax.get_legend().get_texts()[1].get_text()
    'y = 2 x + 1'
    """
    x, yv = _one_feature(X, y)
    if model.n_features != 1:
        raise ValueError(f"model must have one feature for this plot, got {model.n_features}")
    ax = _axes(ax)
    ax.scatter(x, yv, s=12, alpha=0.6, label="data")
    grid = np.linspace(x.min(), x.max(), 200) if x.max() > x.min() else x[:1] + np.array([-1, 1])
    w, b = float(model.w[0]), model.b
    ax.plot(grid, w * grid + b, color="C3", lw=2, label=f"y = {w:.4g} x {'-' if b < 0 else '+'} {abs(b):.4g}")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("Data and fitted line")
    ax.legend()
    return ax


def _loss_grid(x: np.ndarray, y: np.ndarray, W: np.ndarray, B: np.ndarray,
               loss: Loss) -> np.ndarray:
    """L(w, b) on a grid; the MSE from the data's moments, exactly."""
    if isinstance(loss, MSELoss):
        sxx, sx, sxy, sy, syy = (np.mean(x * x), np.mean(x), np.mean(x * y), np.mean(y),
                                 np.mean(y * y))
        return W * W * sxx + 2 * W * B * sx + B * B - 2 * W * sxy - 2 * B * sy + syy
    if x.size > CONTOUR_MAX_ROWS:
        rows = np.random.default_rng(0).choice(x.size, CONTOUR_MAX_ROWS, replace=False)
        x, y = x[rows], y[rows]
    out = np.empty_like(W)
    for i in range(W.shape[0]):  # one grid row at a time keeps temporaries small
        out[i] = np.mean(loss.terms(W[i, :, None] * x + B[i, :, None] - y), axis=1)
    return out


def _paths(history: Any, model: Any) -> List["tuple[str, np.ndarray]"]:
    """(label, path rows (w, b)) of each fit plot_path draws, ended by its model if given."""
    if isinstance(history, Mapping):
        if not history:
            raise ValueError("history: the mapping {label: History} is empty")
        names = [f"history[{key!r}]" for key in history]
        labels, histories = [str(key) for key in history], list(history.values())
    elif _is_history_list(history):
        names = [f"history[{i}]" for i in range(len(history))]
        histories = list(history)
        for name, h in zip(names, histories):
            if not isinstance(h, History):
                raise TypeError(f"{name} must be a History like the others, "
                                f"got {type(h).__name__}")
        labels = _history_labels(histories)
    elif isinstance(history, History):
        names, labels, histories = ["history"], [optimizer_label(history)], [history]
    else:
        raise TypeError(f"history must be a History, a list of Histories or a mapping "
                        f"{{label: History}}, got {type(history).__name__}")
    if model is None or isinstance(model, LinearModel):
        if model is not None and len(histories) > 1:
            raise ValueError(f"model ends one path but history holds {len(histories)} fits: "
                             f"give a list of models, one per fit (None for none)")
        models = [model] + [None] * (len(histories) - 1)
    else:
        models = list(model)
        if len(models) != len(histories):
            raise ValueError(f"model: {len(models)} models for {len(histories)} fits")
    out = []
    for name, label, h, m in zip(names, labels, histories, models):
        if not isinstance(h, History) or h.path is None:
            raise ValueError(f"{name} must come from a Trainer(record_path=True) fit "
                             "(its path is None)")
        path = np.asarray(h.path, dtype=float)
        if path.ndim != 2 or path.shape[1] != 2:
            raise ValueError(f"the path plot needs a one-feature model (path rows (w, b)), "
                             f"got {name}.path of shape {path.shape}")
        if m is not None:
            path = np.vstack([path, [[float(m.w[0]), m.b]]])
        if path.shape[0] == 0:
            raise ValueError(f"the path of {name} is empty: the fit ran no epoch")
        out.append((label, path))
    return out


def plot_path(history: Union[History, Sequence[History], Mapping[Any, History]], X: Any, y: Any,
              loss: Optional[Loss] = None,
              model: Union[LinearModel, Sequence[Optional[LinearModel]], None] = None,
              ax: Optional[Axes] = None, levels: int = 30) -> Axes:
    """The paths of fits over the contour map of L(w, b): the ball rolling downhill.

    Any optimizer's recorded path works, and several fits share one map (in
    different colours) so that their routes to the minimum can be compared.

    Parameters
    ----------
    history : History, list of History or mapping {label: History}
        From fits of a one-feature LinearModel by ``Trainer(record_path=True)``;
        labelled by their optimizers unless a mapping names them.
    X, y : array-like
        The data of those fits (one feature).
    loss : Loss, optional
        The loss fitted (default MSELoss()).
    model : LinearModel or list of (LinearModel or None), optional
        The fitted model(s), one per fit: their parameters end the paths.
    ax : matplotlib Axes, optional
    levels : int
        Number of contour levels.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        A fit without a recorded path, of a model of more than one feature,
        or models that do not match the fits.

    Examples
    --------
    >>> import gdcore
    >>> from gdcore import plot
    >>> x = [1.0, 2.0, 3.0, 4.0]
    >>> fits = [gdcore.Trainer(optimizer=name, precondition=None, epochs=100, tol=0.0,
    ...                        record_path=True).fit(gdcore.LinearModel(1), x, x)
    ...         for name in ("gd", "momentum")]
    >>> plot.plot_path(fits, x, x).get_title()
    'Paths over L(w, b)'
    """
    paths = _paths(history, model)
    loss = MSELoss() if loss is None else loss
    x, yv = _one_feature(X, y)
    points = np.vstack([path for _, path in paths])
    lo, hi = points.min(axis=0), points.max(axis=0)
    span = np.maximum(hi - lo, 0.5 * np.maximum(np.abs(hi), 1.0))
    lo, hi = lo - 0.25 * span, hi + 0.25 * span
    W, B = np.meshgrid(np.linspace(lo[0], hi[0], 160), np.linspace(lo[1], hi[1], 160))
    L = _loss_grid(x, yv, W, B, loss)
    ax = _axes(ax)
    # log-spaced levels show the valley floor; below 1e-6 of the top is one colour
    top = float(L.max())
    floor = max(float(L.min()), 1e-6 * top)
    if top > 0 and top > 10 * floor:
        bounds = np.geomspace(floor, top, levels)
        norm: Any = matplotlib.colors.LogNorm(floor, top)
    else:
        bounds, norm = np.linspace(float(L.min()), top + 1e-12, levels), None
    contours = ax.contourf(W, B, L, levels=bounds, cmap="viridis", norm=norm, extend="min")
    ax.contour(W, B, L, levels=bounds, colors="white", linewidths=0.3, alpha=0.5)
    figure = ax.get_figure()
    if figure is not None:
        figure.colorbar(contours, ax=ax, label=f"L(w, b) ({type(loss).__name__})")
    several = len(paths) > 1
    for i, (label, path) in enumerate(paths):
        steps = path.shape[0] - 1
        ax.plot(path[:, 0], path[:, 1], "o-", color=PATH_COLOURS[i % len(PATH_COLOURS)],
                ms=3, lw=1.2, label=f"{label} ({steps} steps)" if several else label)
        ax.plot(path[0, 0], path[0, 1], "s", color="white", mec="black", ms=8,
                label="_start" if i else "start")
        ax.plot(path[-1, 0], path[-1, 1], "*", color="gold", mec="black", ms=14,
                label="_end" if i else "end")
    ax.set_xlabel("w")
    ax.set_ylabel("b")
    if several:
        ax.set_title("Paths over L(w, b)")
    else:
        ax.set_title(f"Path of {paths[0][0]} over L(w, b) ({paths[0][1].shape[0] - 1} steps)")
    ax.legend(loc="best", framealpha=0.7)
    return ax


def _check_bench(results: Any) -> List[Mapping[str, Any]]:
    if isinstance(results, Mapping) and "results" in results:
        results = results["results"]
    if not isinstance(results, list) or not results:
        raise ValueError("benchmark results must be a non-empty list of records "
                         '{"method", "n", "d", "seconds_per_epoch"}')
    for i, rec in enumerate(results):
        if not isinstance(rec, Mapping):
            raise ValueError(f"benchmark record {i} is not a mapping: {reprlib.repr(rec)}")
        missing = [k for k in BENCH_KEYS if k not in rec]
        if missing:
            raise ValueError(f"benchmark record {i} lacks {', '.join(missing)}: "
                             f"{reprlib.repr(dict(rec))}")
        if not isinstance(rec["method"], str):
            raise ValueError(f"benchmark record {i}: method must be a string, "
                             f"got {reprlib.repr(rec['method'])}")
        for key in ("n", "d", "seconds_per_epoch"):  # numbers, sorted and drawn on log axes
            v = rec[key]
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 < v < math.inf:
                raise ValueError(f"benchmark record {i}: {key} must be a positive finite "
                                 f"number, got {reprlib.repr(v)}")
    return results


def load_bench(path: Union[str, "os.PathLike[str]"]) -> List[Dict[str, Any]]:
    """Read benchmark results (the module's JSON format) from a file, validated.

    Raises
    ------
    ValueError
        The file is not JSON, or not benchmark results (the message names it).

    Examples
    --------
    >>> import json
    >>> from gdcore import plot
    >>> with open("bench.json", "w") as f:
    ...     json.dump([{"method": "cython", "n": 1000, "d": 1, "seconds_per_epoch": 2e-7}], f)
    >>> plot.load_bench("bench.json")[0]["method"]
    'cython'
    """
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{name}: not JSON ({exc})") from None
    except RecursionError:
        raise ValueError(f"{name}: JSON nested too deeply to be benchmark results") from None
    try:
        return [dict(r) for r in _check_bench(data)]
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def plot_bench(results: Any, ax: Optional[Axes] = None) -> Axes:
    """Time per epoch against N, one line per method, log-log.

    When one method was measured at the same N with several widths d, each
    width gets its own line; otherwise (a benchmark whose sizes each have one
    width, like ``gdcore bench``) a method's line runs across all sizes and
    the widths are noted in the title.

    Parameters
    ----------
    results : list of dict
        Records ``{"method", "n", "d", "seconds_per_epoch", ...}`` (see the
        module docstring), or ``{"results": [...]}``.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        Records that lack a key or hold a bad value.

    Examples
    --------
    >>> from gdcore import plot
    >>> results = [{"method": m, "n": n, "d": 10, "seconds_per_epoch": s * n}
    ...            for m, s in (("gdcore", 1.5e-9), ("numpy", 7e-9)) for n in (1000, 10000)]
    >>> plot.plot_bench(results).get_title()
    'Time per epoch (d=10)'
    """
    records = _check_bench(results)
    ds = sorted({rec["d"] for rec in records})
    widths: Dict[Any, set] = {}
    for rec in records:
        widths.setdefault((rec["method"], rec["n"]), set()).add(rec["d"])
    split = any(len(v) > 1 for v in widths.values())
    series: Dict[str, List[Any]] = {}
    for rec in records:
        key = str(rec["method"]) + (f" (d={rec['d']})" if split else "")
        series.setdefault(key, []).append((float(rec["n"]), float(rec["seconds_per_epoch"])))
    if ax is None:
        ax = Figure(figsize=(10, 6), layout="constrained").add_subplot()
    for key, points in series.items():
        points.sort()
        ax.plot([p[0] for p in points], [p[1] for p in points], "o-", label=key)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N (rows)")
    ax.set_ylabel("seconds per epoch")
    if len(ds) == 1:
        ax.set_title(f"Time per epoch (d={ds[0]})")
    elif not split:
        sizes = sorted({(rec["n"], rec["d"]) for rec in records})
        ax.set_title("Time per epoch; sizes " + ", ".join(f"{n:,} x {d}" for n, d in sizes))
    else:
        ax.set_title("Time per epoch")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax
