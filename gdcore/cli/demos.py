"""The demonstrations: the tutorial's worked example, a network learning sin, and the
optimizers side by side."""

from __future__ import annotations

import math
import sys
import time
import warnings
from dataclasses import dataclass
from typing import IO, Any, Dict, List, Optional, Tuple

import numpy as np

from ..errors import ConditioningWarning, ConvergenceWarning, DivergenceError
from ..history import History
from ..linalg import closed_form
from ..loop import MAX_EPOCHS
from ..losses import MSELoss
from ..models import LinearModel, MLP
from ..optim import OPTIMIZERS
from ..trainer import Trainer

TUTORIAL_X = np.array([1.0, 2.0, 3.0, 4.0])
TUTORIAL_Y = np.array([1.0, 2.0, 3.0, 4.0])


def _shown_epochs(n: int) -> List[int]:
    """0, 1, 2, 3, 5, 10, 20, 50, ... up to n-1: enough to see the loss fall."""
    shown, step = {0, 1, 2, 3}, 5
    while step < n:
        shown.update((step, 2 * step, 5 * step))
        step *= 10
    return sorted(k for k in shown if k < n) + ([n - 1] if n - 1 not in shown and n > 0 else [])


def _signed(v: float) -> str:
    return f"- {-v:g}" if v < 0 else f"+ {v:g}"


def demo(backend: str, out: IO[str] = sys.stdout) -> None:
    x, y = TUTORIAL_X, TUTORIAL_Y
    pairs = " ".join(f"({a:g},{b:g})" for a, b in zip(x, y))
    print(f"The tutorial's worked example: data {pairs}\n", file=out)

    # 1. y = w x: L(w) = mean((y - w x)^2) = a w^2 + b w + c, read off the data.
    a, b, c = np.mean(x * x), -2 * np.mean(x * y), np.mean(y * y)
    print("1. Model y = w x (no bias). The mean squared error expands to", file=out)
    print(f"   L(w) = (1/4) sum (y_i - w x_i)^2 = {a:g} w^2 {_signed(b)} w {_signed(c)}", file=out)
    print(f"   dL/dw = {2 * a:g} w {_signed(b)} = 0  gives  w = {-b / (2 * a):g}", file=out)
    model = LinearModel(1, fit_intercept=False)
    auto = Trainer(optimizer="gd", precondition=None).learning_rate(model, x)
    lr = 0.02
    print(f"   Gradient descent from w = 0 with lr = {lr:g}, one epoch at a time:", file=out)
    print("   epoch        w          L(w)      dL/dw", file=out)
    trainer = Trainer(loss=MSELoss(), lr=lr, epochs=1, tol=0.0, backend=backend)
    for epoch in range(9):
        w = float(model.w[0])
        print(f"   {epoch:5d}  {w:9.6f}  {a * w * w + b * w + c:12.6g}  {2 * a * w + b:9.4g}", file=out)
        trainer.fit(model, x, y)
    print(f"   The ball rolls down the parabola towards w = 1. lr = 'auto' would take "
          f"lr = 1/{1 / auto:g}, one over\n   the curvature d2L/dw2 = {2 * a:g}, "
          "and land on w = 1 in a single step.\n", file=out)

    # 2. y = w x + b: both partial derivatives, many epochs in one kernel call.
    model = LinearModel(1)
    history = Trainer(loss=MSELoss(), optimizer="gd", precondition=None, epochs=10_000,
                      tol=1e-10, backend=backend).fit(model, x, y)
    print("2. Model y = w x + b. Gradient descent on L(w, b) with "
          f"lr = auto = {history.lr:.4g}, backend = {backend}:", file=out)
    print("   epoch        loss", file=out)
    for epoch in _shown_epochs(history.n_epochs):
        print(f"   {epoch:5d}  {history.loss[epoch]:12.6g}", file=out)
    w_cf, b_cf = closed_form(x, y)
    state = "converged" if history.converged else "stopped at the epoch limit"
    print(f"   {state} after {history.n_epochs} epochs in {history.seconds * 1e3:.3g} ms, "
          f"final loss {history.final_loss:.3g}, |grad| = {history.grad_norm:.2g}", file=out)
    print(f"   gradient descent: w = {float(model.w[0]):.6f}, b = {model.b:.6f}", file=out)
    print(f"   closed form:      w = {float(w_cf[0]):.6f}, b = {b_cf:.6f}", file=out)
    default = Trainer(tol=1e-10, backend=backend).fit(LinearModel(1), x, y)
    print(f"   The default fit, Trainer() (accelerated gradient in standardised coordinates), "
          f"needs {default.n_epochs} epoch{'s' if default.n_epochs != 1 else ''} here.", file=out)


# ----------------------------------------------------------- the optimizers --

#: The race's finish line: ||(w, b) - (w*, b*)|| <= RACE_TARGET ||(w*, b*)||, (w*, b*) least squares.
RACE_TARGET = 1e-6
#: Epochs a race fit may run, per backend: the Python loop is a thousand times slower.
RACE_EPOCHS = {"cython": 100_000, "numpy": 10_000, "python": 1_000}
#: Epochs between two looks at the error; the recorded path then locates the first epoch exactly.
RACE_CHECK = 100
#: The adaptive optimizers have no curvature step and their defaults (1e-3, 1e-2) are
#: slow in standardised coordinates: each races with the best of these.
ADAPTIVE_LRS = (1.0, 0.1, 0.01, 0.001)
#: Fits timed per result (the best counts: the machine's noise only adds).
RACE_REPEATS = 3


@dataclass(frozen=True)
class Contender:
    """One entry of the race: a Trainer's optimizer and coordinates."""

    label: str
    optimizer: str
    precondition: Optional[str] = "auto"
    adaptive: bool = False

    @property
    def coordinates(self) -> str:
        return "raw" if self.precondition is None else "standardised"


CONTENDERS = (
    Contender("auto", "auto"),
    Contender("gd raw", "gd", precondition=None),
    Contender("gd", "gd"),
    Contender("momentum", "momentum"),
    Contender("nesterov", "nesterov"),
    Contender("accelerated", "accelerated"),
    Contender("adam", "adam", adaptive=True),
    Contender("rmsprop", "rmsprop", adaptive=True),
    Contender("adagrad", "adagrad", adaptive=True),
)


@dataclass
class RaceResult:
    """How one contender did: ``epochs`` to the target (None if not reached) and its time."""

    contender: Contender
    lr: float
    epochs: Optional[int]
    ran: int                # epochs the measuring fit ran
    status: str             # how it ended ("stopped": at the target)
    errors: np.ndarray      # relative error of (w, b) after 0, 1, ..., ran epochs
    seconds: float          # best wall time of a fit of `epochs` epochs (of `ran` at the cap)

    @property
    def label(self) -> str:
        """The contender's name, with its lr when that was picked for it."""
        c = self.contender
        return f"{c.label} (lr={self.lr:g})" if c.adaptive else c.label


def _race_trainer(c: Contender, lr: Optional[float], epochs: int, backend: str,
                  record_path: bool) -> Trainer:
    """tol=0: only the target (via a callback), a stall or the budget ends the fit."""
    optimizer: Any = c.optimizer if lr is None else OPTIMIZERS[c.optimizer](lr)
    return Trainer(optimizer=optimizer, precondition=c.precondition, epochs=epochs, tol=0.0,
                   record_path=record_path, backend=backend)


def _race_fit(c: Contender, lr: Optional[float], X: np.ndarray, y: np.ndarray,
              star: np.ndarray, epochs: int, backend: str) -> Tuple[Optional[int], History,
                                                                   np.ndarray]:
    """(first epoch within the target or None, History, relative error after every epoch)."""
    scale = float(np.linalg.norm(star)) or 1.0

    def reached(epoch: int, loss: float, model: Any) -> bool:
        return bool(np.linalg.norm(model.params - star) <= RACE_TARGET * scale)

    model = LinearModel(X.shape[1])
    try:
        history = _race_trainer(c, lr, epochs, backend, record_path=True).fit(
            model, X, y, callback=reached, callback_every=RACE_CHECK)
    except DivergenceError as exc:  # status "diverged"; the model keeps the last finite parameters
        history = exc.history
    assert history.path is not None
    params = np.vstack([history.path, model.params[None, :]])  # row k: after k epochs
    errors = np.linalg.norm(params - star, axis=1) / scale
    hit = np.flatnonzero(errors <= RACE_TARGET)
    return (int(hit[0]) if hit.size else None), history, errors


def _wall_time(c: Contender, lr: Optional[float], X: np.ndarray, y: np.ndarray, epochs: int,
               backend: str) -> float:
    """Best wall time of a plain fit of ``epochs`` epochs (no path, no callback), setup included."""
    best = math.inf
    for _ in range(RACE_REPEATS):
        trainer = _race_trainer(c, lr, epochs, backend, record_path=False)
        start = time.perf_counter()
        try:
            trainer.fit(LinearModel(X.shape[1]), X, y)
        except DivergenceError:
            pass
        best = min(best, time.perf_counter() - start)
    return best


def _rank(epochs: Optional[int], errors: np.ndarray) -> Tuple[int, float]:
    """Sorts race fits: reached the target in fewer epochs, else ended closer to it."""
    return (0, float(epochs)) if epochs is not None else (1, float(errors[-1]))


def race(X: np.ndarray, y: np.ndarray, backend: str = "cython") -> List[RaceResult]:
    """Every contender's epochs and wall time to RACE_TARGET on (X, y), in CONTENDERS' order."""
    X = X.reshape(X.shape[0], -1)
    w_star, b_star = closed_form(X, y)
    star = np.append(w_star, b_star)
    budget = RACE_EPOCHS.get(backend, RACE_EPOCHS["numpy"])
    results = []
    with warnings.catch_warnings():  # stalls and ill-conditioning are reported in the table
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", ConditioningWarning)
        for c in CONTENDERS:
            best: Optional[Tuple[Optional[float], Optional[int], History, np.ndarray]] = None
            for lr in (ADAPTIVE_LRS if c.adaptive else (None,)):
                # an lr slower than the best so far cannot win: stop it there
                cap = budget if best is None or best[1] is None else best[1]
                epochs, history, errors = _race_fit(c, lr, X, y, star, cap, backend)
                if best is None or _rank(epochs, errors) < _rank(best[1], best[3]):
                    best = (lr, epochs, history, errors)
            assert best is not None
            lr, epochs, history, errors = best
            seconds = math.nan  # a fit that stalls short of the target has no time to it
            if epochs is not None or history.status == MAX_EPOCHS:
                seconds = _wall_time(c, lr, X, y, history.n_epochs if epochs is None else epochs,
                                     backend)
            results.append(RaceResult(c, history.lr, epochs, history.n_epochs, history.status,
                                      errors, seconds))
    return results


def _race_row(r: RaceResult, budget: int) -> str:
    time_ms = f"{r.seconds * 1e3:.3g} ms"
    if r.epochs is not None:
        epochs, note = str(r.epochs), ""
        after = r.errors[r.epochs:]
        if np.any(after > RACE_TARGET):  # the first epoch there, but not there for good
            note = f"not for good: error back up to {after.max():.2g}"
            if after[-1] > RACE_TARGET:
                note += f"; {after[-1]:.2g} at epoch {r.ran} ({r.status})"
    elif r.status == MAX_EPOCHS and r.ran >= budget:
        epochs, time_ms = f">{budget}", ">" + time_ms
        note = f"error {r.errors[-1]:.4g} after {r.ran} epochs"
    else:
        epochs, time_ms = "never", "-"
        note = f"{r.status} after {r.ran} epochs at error {r.errors[-1]:.2g}"
    return (f"   {r.contender.label:<14}{r.contender.coordinates:<14}{r.lr:>9.3g}{epochs:>9}"
            f"{time_ms:>12}   {note}").rstrip()


def _print_race(results: List[RaceResult], X: np.ndarray, y: np.ndarray, backend: str,
                out: IO[str]) -> None:
    budget = RACE_EPOCHS.get(backend, RACE_EPOCHS["numpy"])
    print("   optimizer     coordinates          lr   epochs        time", file=out)
    for r in results:
        print(_race_row(r, budget), file=out)
    default = Trainer(backend=backend).fit(LinearModel(X.reshape(X.shape[0], -1).shape[1]), X, y)
    epochs = f"{default.n_epochs} epoch{'s' if default.n_epochs != 1 else ''}"
    print(f"   auto is Trainer()'s choice, accelerated gradient in standardised coordinates; "
          f"with its own\n   certified stop (tol=1e-6) Trainer() runs {epochs} "
          f"({default.status}) in {default.seconds * 1e3:.3g} ms.", file=out)


def _exponent(x: float) -> str:
    """1e-06 as 1e-6."""
    mantissa, _, exponent = f"{x:.0e}".partition("e")
    return f"{mantissa}e{int(exponent)}"


def _diabetes() -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """scikit-learn's diabetes data in its raw units, or None without scikit-learn."""
    try:
        from sklearn.datasets import load_diabetes
    except ImportError:
        return None
    data = load_diabetes(scaled=False)
    return np.asarray(data.data, dtype=float), np.asarray(data.target, dtype=float)


def optimizers_demo(backend: str = "cython", out: Optional[IO[str]] = None,
                    plot_path: Optional[str] = None) -> Dict[str, List[RaceResult]]:
    """The optimizers side by side: epochs and wall time to 1e-6 of least squares.

    On the tutorial's data and on scikit-learn's diabetes data (raw units, if
    scikit-learn is installed); ``plot_path`` (a PNG) draws every fit's error
    per epoch. Returns the results per data set
    ("the tutorial's data", "diabetes, raw units").
    """
    out = sys.stdout if out is None else out
    budget = RACE_EPOCHS.get(backend, RACE_EPOCHS["numpy"])
    target = _exponent(RACE_TARGET)
    lrs = ", ".join(f"{lr:g}" for lr in ADAPTIVE_LRS)
    print(f"The optimizers side by side: epochs and wall time until the coefficients are within "
          f"{target} of\nleast squares, ||(w, b) - (w*, b*)|| <= {target} ||(w*, b*)|| with "
          f"(w*, b*) from numpy's lstsq.\nEvery fit starts at zero with tol=0 and ends at the "
          f"target (its first epoch located on the\nrecorded path), when it stalls, or after "
          f"{budget} epochs (backend {backend}). The time is the best\nof {RACE_REPEATS} plain "
          f"fits of that many epochs, setup included; lr is the step in the fit's coordinates.\n"
          f"adam, rmsprop and adagrad have no curvature step: each races with the lr among\n"
          f"{lrs} (standardised coordinates) that needs the fewest epochs.\n", file=out)
    datasets: List[Tuple[str, str, np.ndarray, np.ndarray]] = [
        ("the tutorial's data", "(a) The tutorial's data " + " ".join(
            f"({a:g},{b:g})" for a, b in zip(TUTORIAL_X, TUTORIAL_Y)) + ", model y = w x + b:",
         TUTORIAL_X, TUTORIAL_Y)]
    diabetes = _diabetes()
    if diabetes is not None:
        Xd, yd = diabetes
        datasets.append(("diabetes, raw units", f"(b) scikit-learn's diabetes data in raw units "
                         f"({Xd.shape[0]} rows, {Xd.shape[1]} features):", Xd, yd))
    results: Dict[str, List[RaceResult]] = {}
    for i, (name, title, X, y) in enumerate(datasets):
        print(("\n" if i else "") + title, file=out)
        results[name] = race(X, y, backend)
        _print_race(results[name], X, y, backend, out)
    if diabetes is None:
        print("\n(b) skipped: scikit-learn is not installed (pip install scikit-learn) for its "
              "diabetes data.", file=out)
    if plot_path is not None:
        _plot_race(results, plot_path)
        print(f"\nwrote {plot_path}", file=out)
    return results


#: Errors drawn below this are drawn at it: a log scale has no zero.
PLOT_FLOOR = 1e-17


def _plot_race(results: Dict[str, List[RaceResult]], path: str) -> None:
    """Every fit's relative error per epoch, one panel per data set, log scales."""
    from matplotlib.figure import Figure

    from .. import plot
    fig = Figure(figsize=(7.5 * len(results), 5.5), layout="constrained")
    axes = fig.subplots(1, len(results), squeeze=False)[0]
    for ax, (name, rows) in zip(axes, results.items()):
        plot.plot_loss({r.label: np.maximum(r.errors, PLOT_FLOOR) for r in rows}, ax=ax)
        ax.axhline(RACE_TARGET, color="black", ls="--", lw=0.8, label=f"target {RACE_TARGET:g}")
        for line in ax.lines:  # auto runs accelerated's steps: keep it visible beneath
            if line.get_label() == "auto":
                line.set_linewidth(5)
                line.set_alpha(0.35)
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_xlim(left=0)
        ax.set_ylabel(f"||(w, b) - (w*, b*)|| / ||(w*, b*)||  (0 drawn at {PLOT_FLOOR:g})")
        ax.set_title(f"Relative error of the coefficients per epoch: {name}", fontsize="medium")
        ax.legend(fontsize="small")
    plot.save(axes[0], path)


def mlp_demo(backend: str = "cython", epochs: int = 3000, out: Optional[IO[str]] = None) -> MLP:
    """A [1, 32, 1] tanh network learns y = sin(x) on [-pi, pi]; prints the loss falling."""
    out = sys.stdout if out is None else out
    x = np.linspace(-math.pi, math.pi, 200)
    y = np.sin(x)
    model = MLP([1, 32, 1], activation="tanh", random_state=0)
    trainer = Trainer(loss=MSELoss(), lr=0.05, epochs=epochs, tol=0.0, batch_size=32,
                      random_state=0, backend=backend)
    print("A network [1, 32, 1] (tanh hidden layer, linear output) learns y = sin(x) on "
          f"[-pi, pi]\nfrom {x.size} points: mini-batch SGD, batch_size={trainer.batch_size}, "
          f"lr={trainer.lr}, backend={backend}.\nEach step: forward pass, back-propagation "
          "(the chain rule, layer by layer), update.\n", file=out)
    history = trainer.fit(model, x, y)
    print("   epoch          loss", file=out)
    for epoch in _shown_epochs(history.n_epochs):
        print(f"   {epoch:5d}  {history.loss[epoch]:12.4e}", file=out)
    print(f"   {history.n_epochs} epochs in {history.seconds * 1e3:.3g} ms, final MSE "
          f"{history.final_loss:.3g}\n", file=out)
    grid = np.linspace(-math.pi, math.pi, 9)
    pred = model.predict(grid)
    print("        x     sin(x)    network", file=out)
    for g, p in zip(grid, pred):
        print(f"   {g:6.3f}  {math.sin(g):9.5f}  {p:9.5f}", file=out)
    return model
