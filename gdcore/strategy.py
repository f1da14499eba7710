"""How a fit is set up: the optimizer, step, coordinates, stopping rule and epochs.

``Trainer`` hands every fit to ``setup``, which resolves what the user left
to gdcore. A step size given to the Trainer (``lr=0.05``) keeps today's
meaning: plain gradient descent with that step in the user's coordinates,
stopping at ||gradient|| <= tol. Otherwise (``lr="auto"``) gdcore chooses:

* linear models run in standardised coordinates (gdcore/precondition.py),
  where the step 1/L comes from the exact curvature of the MSE;
* full-batch MSE: accelerated gradient with adaptive restart, stopped when
  the error itself is at most tol relative, both in the user's units,
  ||(w, b) - (w*, b*)|| <= tol ||(w, b)||, and in standardised ones (the
  slopes v = s w, units-free): the MSE is quadratic, so the Newton step H^-1 g
  measures it every epoch (``Standardization.error_map``, 2 d^2 operations);
  if precision runs out first the fit stalls and says so;
* full-batch MAE: ``SmoothingPath``, accelerated steps on Huber smoothings
  of the MAE whose width shrinks fourfold per stage, until a duality gap
  certifies the objective within tol of the least-absolute-deviations optimum;
* full-batch Huber, or MSE with an L1 penalty: ``NewtonPath``, accelerated
  stages stopped like the MSE fit by the Newton step of the Hessian of the
  piece they start in (the rows within epsilon, the non-zero coefficients'
  signs), until a stage ends in the piece it started from: the objective is
  quadratic on each piece;
* mini-batches: SGD with momentum 0.9 and the step (1 - momentum) / L_B,
  decayed to 0 over the epochs by a half cosine: a constant step leaves the
  iterate in a ball of gradient noise (measured: 5e-3 relative excess loss after
  1000 epochs of batch 32 on diabetes, 6e-7 with the decay);
* networks: Adam with lr 1e-3.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Any, List, Optional, Tuple

import numpy as np

from . import _util, continued
from ._dispatch import scan
from ._validation import check_penalty
from .continued import Stream
from .curvature import auto_lr, needs_row_curvature
from .errors import ConditioningWarning
from .losses import HuberLoss, Loss, MAELoss, MSELoss, SmoothedMAE
from .loop import (CONVERGED, DIVERGED, MAX_EPOCHS, STALLED, Fit, FitResult, Penalty,
                   Settings, StopRule, _norm, composite, max_records, new_state)
from .optim import (Accelerated, Adam, CosineWarmup, Optimizer, SGD, get_optimizer,
                    get_schedule)
from .precondition import BLOCK_VALUES, Standardization, smallest_positive, standardize

#: The epoch budget when the Trainer's ``epochs`` is None: fits that stop by a
#: certificate get a large one, the others today's 1000.
CERTIFIED_EPOCHS = 100_000
DEFAULT_EPOCHS = 1000
#: The tolerance when the Trainer's ``tol`` is None: float32 cannot certify 1e-6.
DEFAULT_TOL = {np.dtype(np.float64): 1e-6, np.dtype(np.float32): 1e-4}
#: More epochs than any fit can run (the loops count in signed 64 bits).
MAX_EPOCHS_RUN = 1 << 62

#: The certified fits stop at tol / CERTIFICATE_MARGIN as measured, so that the
#: error, measured through a rounded gradient, is within tol.
CERTIFICATE_MARGIN = 2.0

#: The mini-batch default: heavy-ball momentum, the step (1 - momentum) / L_B, a cosine decay.
MINI_BATCH_MOMENTUM = 0.9


@dataclass
class Setup:
    """What ``setup`` decided for one fit."""

    loss: Loss
    tol: float
    settings: Settings
    standardization: Optional[Standardization] = None
    certified: bool = False
    #: The run of a fit made of stages (``SmoothingPath``, ``HuberPath``), else None.
    stages: Optional[type] = None
    y_scale: float = 1.0
    notes: List[str] = field(default_factory=list)
    #: The rows' weights, float64 of mean 1 (``_validation.as_weights``), None: unweighted.
    weights: Optional[np.ndarray] = None

    @property
    def optimizer(self) -> Optimizer:
        return self.settings.optimizer

    @property
    def lr(self) -> float:
        return self.settings.lr

    @property
    def epochs(self) -> int:
        return self.settings.epochs


def _target_stats(y: np.ndarray, weights: Optional[np.ndarray] = None) -> Tuple[float, float]:
    """(mean of y, a scale of y for tolerances: its standard deviation, or its magnitude
    if constant; weighted if ``weights``), computed without overflow or underflow
    whatever the scale."""
    return target_stats_of(y.shape[0], *scan.column_scan(y.reshape(-1, 1), True, True,
                                                          weights))


def target_stats_of(n: int, big: Any, mean: Any, squares: Any) -> Tuple[float, float]:
    """_target_stats from column_scan's (big, mean, squares) of y's n values."""
    big, mean, squares = float(big[0]), float(mean[0]), float(squares[0])
    sd = math.sqrt(squares / n) * big
    return mean * big, (sd if sd > 0 else max(abs(mean) * big, 1.0))


def setup(trainer: Any, model: Any, backend: Any, X: np.ndarray, y: np.ndarray,
          batch_size: Optional[int], seed: int, measure: Any = None,
          weights: Optional[np.ndarray] = None) -> Setup:
    """Resolve the trainer's settings for ``model`` on validated (X, y), rows weighted by
    ``weights`` (``_validation.as_weights``) if given. ``measure`` takes the statistics of
    data held elsewhere (gdcore/dask.py's, by reduction over chunks)."""
    measure = IN_MEMORY if measure is None else measure
    n = X.shape[0]
    loss: Loss = trainer.loss
    user_lr = trainer.lr
    linear = bool(model._linear)
    choice = trainer.optimizer
    if isinstance(choice, Optimizer):
        if user_lr != "auto":
            raise ValueError("give the learning rate either to the optimizer or to the "
                             f"Trainer, not both (Trainer lr={user_lr!r}, optimizer {choice!r})")
        optimizer = choice
    elif choice == "auto":
        if user_lr != "auto":
            optimizer = SGD(lr=user_lr)  # a step the user gave: the tutorial's plain steps
        elif not linear:
            optimizer = Adam()
        elif batch_size is None:
            optimizer = Accelerated()
        else:
            optimizer = SGD(momentum=MINI_BATCH_MOMENTUM)
    else:
        optimizer = get_optimizer(choice, user_lr)
    precondition = trainer.precondition
    if precondition == "auto":
        precondition = "standardize" if linear and user_lr == "auto" else None
    if precondition == "standardize" and not linear:
        raise ValueError(f"precondition='standardize' applies to linear models, not to "
                         f"{type(model).__name__}; use precondition=None")
    std: Optional[Standardization] = None
    if precondition == "standardize":
        std = measure.standardize(X, model.fit_intercept,
                                  rows=needs_row_curvature(n, batch_size), weights=weights)
    penalty = _penalty(model, std, optimizer, *check_penalty(trainer.penalty, trainer.alpha,
                                                             trainer.l1_ratio))
    l1 = penalty is not None and penalty.has_l1
    automatic = choice == "auto" and user_lr == "auto" and linear and batch_size is None
    if automatic and penalty is not None and isinstance(loss, MAELoss):
        raise ValueError("the automatic MAE fit takes no penalty yet: give an optimizer and "
                         "lr, or use the MSE or Huber loss")
    smoothing = (automatic and isinstance(loss, MAELoss) and std is not None
                 and std.eigenvalues is not None)
    staged = (automatic and std is not None and std.smallest is not None
              and (isinstance(loss, HuberLoss) or (isinstance(loss, MSELoss) and l1)))
    certified = (std is not None and isinstance(loss, MSELoss) and batch_size is None
                 and std.smallest is not None and not l1)
    epochs = trainer.epochs
    if epochs is None:
        epochs = CERTIFIED_EPOCHS if (certified or smoothing or staged) else DEFAULT_EPOCHS
    epochs = min(epochs, MAX_EPOCHS_RUN)

    lr = optimizer.lr
    if lr == "auto":
        lr = optimizer.default_lr
        if optimizer.curvature_step:
            lr = _curvature_step(model, backend, X, batch_size, std, loss, weights)
            if isinstance(optimizer, SGD) and optimizer.momentum and batch_size is not None:
                # the momentum buffer sums about 1 / (1 - momentum) gradients: with
                # mini-batches, their noise too (full batch, 1/L is stable as it is)
                lr *= (1 - optimizer.momentum) / (1 - optimizer.dampening or 1.0)
    assert isinstance(lr, float)

    tol = DEFAULT_TOL[X.dtype] if trainer.tol is None else trainer.tol
    notes: List[str] = []
    stop = StopRule(abs_tol=tol)
    y_mean, y_scale = measure.target_stats(y, weights)
    if std is not None:
        _check_conditioning(std, tol, X.dtype, notes)
        _check_magnitude(std, y_scale, tol, X.dtype, notes)
        if certified:
            if penalty is None:
                error_map, kappa = std.error_map(), std.largest / float(std.smallest or 1e-300)
            else:
                H = penalised_hessian(std, std.mse_hessian(), penalty)
                eigenvalues = np.linalg.eigvalsh(H)
                error_map, kappa = std.error_map(H), eigenvalues[-1] / (smallest_positive(eigenvalues) or 1e-300)
            stop = certificate(std, error_map, kappa, tol, y_scale, model, optimizer)
        else:
            stop = StopRule(abs_tol=gradient_tol(loss, tol, y_scale))
    schedule = get_schedule(trainer.schedule)
    if trainer.schedule is None and choice == "auto" and user_lr == "auto" and linear \
            and batch_size is not None:
        schedule = CosineWarmup()  # the step noise dies out by the last epoch
    settings = Settings(optimizer=optimizer, lr=float(lr), schedule=schedule, epochs=epochs,
                        batch_size=batch_size, seed=seed, n_free=model._n_free, stop=stop,
                        precondition=None if std is None else std.precondition(),
                        blowup_floor=measure.trivial_loss(loss, y, y_mean, weights),
                        record_path=trainer.record_path,
                        max_records=max_records(model.params.shape[0], model.dtype.itemsize,
                                                trainer.record_path),
                        penalty=penalty)
    stages = SmoothingPath if smoothing else (NewtonPath if staged else None)
    return Setup(loss, tol, settings, std, certified, stages, y_scale, notes, weights)


def gradient_tol(loss: Loss, tol: float, y_scale: float) -> float:
    """A bound on the gradient relative to the size of the loss's slopes: y's spread
    (the MSE's twice it; the Huber loss's capped at epsilon)."""
    if isinstance(loss, HuberLoss):
        return tol * min(loss.epsilon, y_scale)
    return tol * 2.0 * y_scale if isinstance(loss, MSELoss) else tol  # the MAE's: +-1


def _penalty(model: Any, std: Optional[Standardization], optimizer: Optimizer, l2: float,
             l1: float) -> Optional[Penalty]:
    """The loops' Penalty of strengths l2 (of ||w||^2 / 2) and l1 (of ||w||_1), None if both 0."""
    if l2 == 0 and l1 == 0:
        return None
    if l1 > 0 and not optimizer.proximal:
        raise ValueError(f"an L1 penalty takes proximal steps, which {type(optimizer).__name__} "
                         f"does not: use optimizer 'gd', 'sgd', 'momentum', 'nesterov' or "
                         f"'accelerated' (or penalty='l2')")
    mask = model._penalised.astype(np.float64)
    t2, t1 = l2 * mask[:model._n_free], l1 * mask[:model._n_free]
    if std is not None:  # |w_j| = |v_j| / s_j
        d = std.scale.shape[0]
        t2[:d] = t2[:d] / (std.scale * std.scale)
        t1[:d] = t1[:d] / std.scale
    if not optimizer.proximal:
        t2[:] = 0.0
    return Penalty(l2 * mask, l1 * mask, t2, t1, in_gradient=not optimizer.proximal)


def penalised_hessian(std: Standardization, H: np.ndarray, penalty: Optional[Penalty],
                      signs: Optional[np.ndarray] = None) -> np.ndarray:
    """The Hessian H of a loss in standardised coordinates with the L2 penalty's, l2 / s^2
    on the slopes; with ``signs`` (of the slopes, for an L1 penalty), restricted to the
    non-zero slopes: the others' rows and columns become the identity's."""
    if penalty is None:
        return H
    d = std.scale.shape[0]
    H = H.copy()
    H[range(d), range(d)] += penalty.l2[:d] / (std.scale * std.scale)
    if signs is not None:
        off = np.flatnonzero(signs == 0)
        H[off, :] = 0.0
        H[:, off] = 0.0
        H[off, off] = 1.0
    return H


def certificate(std: Standardization, error_map: Optional[np.ndarray], kappa: float,
                tol: float, y_scale: float, model: Any, optimizer: Optimizer) -> StopRule:
    """The stop of a fit whose error the Newton step measures: ``error_map`` holds
    [J H^-1; H^-1] for the Hessian H of a loss that is quadratic near the optimum,
    whose condition number is ``kappa``."""
    # ||(w, b) - (w*, b*)|| <= tol ||(w, b)|| and ||v - v*|| <= tol ||v||, each with a
    # floor for slopes that are zero to tol: a slope that would move the prediction by
    # a thousandth of tol of y's spread (through the widest column); the rule asks for
    # half of tol: the measured gradient carries rounding, which H^-1 amplifies (on
    # NIST's Wampler5, by up to a quarter of tol)
    target = tol / CERTIFICATE_MARGIN
    floor = 1e-3 * target * y_scale
    # a stall (precision's floor) is judged for the accelerated method only: the
    # others' errors wander (momentum, Adam) for longer than any patience
    patience = int(100 + 10 * math.sqrt(kappa)) if isinstance(optimizer, Accelerated) else 0
    return StopRule(abs_tol=floor / float(np.max(std.scale)), rel_tol=target,
                    rel_len=model._n_free, patience=patience, error_map=error_map,
                    coords_abs_tol=floor)


def _trivial_loss(loss: Loss, y: np.ndarray, mean: float,
                  weights: Optional[np.ndarray] = None) -> float:
    """The loss of predicting y's mean: divergence is judged against at least this, so
    that a fit started next to a zero loss may move without counting as a blow-up."""
    value = float(_util.constant_loss(loss.kind, loss.param, y, mean, weights))
    return value if math.isfinite(value) else 0.0


#: How ``setup`` measures data in memory.
IN_MEMORY = SimpleNamespace(standardize=standardize, target_stats=_target_stats,
                            trivial_loss=_trivial_loss)


def _curvature_step(model: Any, backend: Any, X: np.ndarray, batch_size: Optional[int],
                    std: Optional[Standardization], loss: Loss,
                    weights: Optional[np.ndarray]) -> float:
    """1 / L_B of the loss in the fit's coordinates: the MSE's, scaled by the loss's
    curvature (Huber's is half the MSE's). A penalty takes proximal steps: it does
    not limit the step."""
    scale = 2.0 / loss.curvature
    if std is None:
        return float(model._auto_lr(backend, X, batch_size, weights)) * scale
    curvature = 2.0 * std.largest
    row = 2.0 * std.row_max if needs_row_curvature(X.shape[0], batch_size) else math.nan
    return float(auto_lr(curvature, row, X.shape[0], batch_size)) * scale


def _check_conditioning(std: Standardization, tol: float, dtype: np.dtype,
                        notes: List[str]) -> None:
    if std.rank_deficient:
        which = np.flatnonzero(std.constant)
        detail = (f" (constant columns {which.tolist()}, which the intercept already spans)"
                  if which.size and std.intercept else "")
        message = ("X is rank-deficient in standardised coordinates" + detail +
                   ": the least-squares coefficients are not unique; gradient descent "
                   "returns one of them")
        warnings.warn(message, ConditioningWarning, stacklevel=4)
        notes.append(message)
        return
    kappa = std.condition
    if kappa is None or tol <= 0:
        return
    cancel = max(1.0, max(abs(m) / s for m, s in zip(std.mean.tolist(), std.scale.tolist()))) \
        if std.intercept else 1.0
    attainable = 10.0 * kappa * float(np.finfo(dtype).eps) * cancel
    if attainable > tol:
        message = (f"the condition number of X in standardised coordinates is {kappa:.3g}: "
                   f"{np.dtype(dtype).name} arithmetic limits the coefficients' relative "
                   f"accuracy to about {attainable:.2g}, above tol={tol:g}")
        warnings.warn(message, ConditioningWarning, stacklevel=4)
        notes.append(message)


def _check_magnitude(std: Standardization, y_scale: float, tol: float, dtype: np.dtype,
                     notes: List[str]) -> None:
    """Warn when the gradient's terms x_ij r_i fall below the normal floating-point range
    (X and y both tiny, say 1e-160): their rounding then swamps tol."""
    x_scale = max(std.scale.tolist()) + max(abs(m) for m in std.mean.tolist())
    if not x_scale > 0:
        return
    # in logarithms: the product itself may underflow to 0
    log_size = math.log10(x_scale) + math.log10(y_scale) + math.log10(
        max(tol, float(np.finfo(dtype).eps)))
    if log_size < math.log10(float(np.finfo(dtype).tiny) * 2 ** 10):
        message = (f"X and y are too small for {np.dtype(dtype).name} arithmetic: the "
                   f"gradient's terms (about 1e{log_size:.0f} at tol={tol:g}) fall below its "
                   f"normal range, so the fit cannot reach tol; rescale X and y")
        warnings.warn(message, ConditioningWarning, stacklevel=4)
        notes.append(message)


def start(backend: Any, model: Any, X: np.ndarray, y: np.ndarray, plan: Setup, n_jobs: int,
          tol: float, stream: Optional[Stream] = None) -> Any:
    """The run the Trainer drives: a Fit (continuing ``stream``, if given), or the staged
    run of the default MAE, Huber or L1 fit."""
    if plan.stages is not None:
        return plan.stages(backend, model, X, y, plan, n_jobs, tol)
    settings, state = continued.start(stream, model, plan.settings, X.shape[0])
    objective = model._objective(backend, plan.loss, X, y, n_jobs, plan.weights)
    return backend.start(objective, model.params, state, settings)


class Stages:
    """A fit run as a sequence of Fits, each warm-started where the last ended.

    It drives like a Fit (``advance``, ``finish``); its history is that of its
    stages, end to end. A subclass makes each stage (``_stage``) and decides,
    when one ends, whether the fit ends and how (``_after``); with ``CHECK`` it
    may also end a stage every CHECK epochs (``_check``). The final loss and
    gradient are those of ``final_loss`` at the parameters reached.
    """

    CHECK = 0  # epochs between two calls of _check (0: never)

    def __init__(self, backend: Any, model: Any, X: np.ndarray, y: np.ndarray, plan: Setup,
                 n_jobs: int, tol: float) -> None:
        self.backend, self.model, self.X, self.y, self.plan = backend, model, X, y, plan
        self.n_jobs, self.tol = n_jobs, tol
        std = plan.standardization
        assert std is not None
        self.std = std
        self.finished: List[FitResult] = []
        self.fit = self._stage()
        self.running = True  # whether self.fit is a stage still going

    final_loss: Loss

    def _stage(self) -> Fit:
        raise NotImplementedError

    def _after(self, result: FitResult) -> Optional[str]:
        """The fit's status once the stage that gave ``result`` ended, or None to go on."""
        raise NotImplementedError

    def _check(self) -> Optional[FitResult]:
        return None

    def _final_status(self) -> str:
        return self.finished[-1].status

    def _start_stage(self, loss: Loss, settings: Settings) -> Fit:
        used = sum(r.n_epochs for r in self.finished)
        settings = replace(settings, epochs=max(self.plan.epochs - used, 0))
        objective = self.model._objective(self.backend, loss, self.X, self.y, self.n_jobs,
                                          self.plan.weights)
        return self.backend.start(objective, self.model.params,
                                  new_state(settings, self.model.params), settings)

    @property
    def n_epochs(self) -> int:
        return sum(r.n_epochs for r in self.finished) + (self.fit.n_epochs if self.running else 0)

    @property
    def last_loss(self) -> float:
        if self.running and self.fit.n_epochs:
            return self.fit.last_loss
        done = [r for r in self.finished if r.n_epochs]
        return float(done[-1].loss[-1]) if done else math.nan

    def parameters_changed(self) -> None:
        self.fit.parameters_changed()

    def advance(self, epochs: int) -> Optional[FitResult]:
        while epochs > 0:
            before = self.fit.n_epochs
            step = min(epochs, self.CHECK - before % self.CHECK) if self.CHECK else epochs
            result = self.fit.advance(step)
            epochs -= self.fit.n_epochs - before
            if result is None:
                if not self.CHECK or self.fit.n_epochs % self.CHECK:
                    continue
                result = self._check()
                if result is None:
                    continue
            self.finished.append(result)
            self.running = False
            if result.status == DIVERGED:
                return self._result(DIVERGED)
            status = self._after(result)
            if status is None and self.n_epochs >= self.plan.epochs:
                status = MAX_EPOCHS
            if status is not None:
                return self._result(status)
            self.fit = self._stage()
            self.running = True
        return None

    def finish(self) -> FitResult:
        if self.running:
            self.finished.append(self.fit.finish())
            self.running = False
        return self._result(self._final_status())

    def _result(self, status: str) -> FitResult:
        objective = self.model._objective(self.backend, self.final_loss, self.X, self.y,
                                          self.n_jobs, self.plan.weights)
        params, pen = self.model.params, self.plan.settings.penalty
        total, grad = objective.sums(params)
        n, free = self.X.shape[0], self.model._n_free
        final, g = total / n, grad[:free] / n
        if pen is not None:  # as the loops report it: the objective, its subgradient
            final += pen.value(params)
            g = composite(g, params[:free], pen.l1[:free], pen.l2[:free])
        loss = np.concatenate([r.loss for r in self.finished])
        starts = np.cumsum([0] + [r.n_epochs for r in self.finished])
        epochs = np.concatenate([start + r.epochs for start, r in zip(starts, self.finished)])
        paths = [r.path for r in self.finished if r.path is not None]
        path = np.concatenate(paths) if paths else None
        return FitResult(loss, final, _norm(g), status, path, epochs=epochs,
                         n_epochs=int(starts[-1]))


class SmoothingPath(Stages):
    """The default full-batch MAE fit: a sequence of accelerated fits on smoothed MAEs.

    Stage k steps the MAE smoothed by a Huber loss of width e_k (slopes
    clip(r / e_k, -1, 1), whose curvature bound gives the step e_k / lambda_max),
    warm-started where stage k - 1 ended; e_0 is the mean absolute deviation of
    y from its median and e_{k+1} = e_k / SHRINK. Every CHECK epochs a dual point
    (the slopes projected onto the constraints of the LAD dual) bounds the
    optimum from below: the path ends, certified, once MAE - bound <= tol * MAE;
    a stage ends once the bound is within its width (its smoothing's own
    error), or when it stalls. Its history records the MAE itself.
    """

    SHRINK = 4.0
    CHECK = 100
    GAP_FACTOR = 0.1      # a stage ends once the duality gap is GAP_FACTOR x its width
    STAGE_TOL = 0.1       # ... or its gradient is STAGE_TOL x width / width0
    PATIENCE = 5.0        # ... or it stalls (PATIENCE x the usual patience)
    final_loss = MAELoss()

    def __init__(self, backend: Any, model: Any, X: np.ndarray, y: np.ndarray, plan: Setup,
                 n_jobs: int, tol: float) -> None:
        std = plan.standardization
        assert std is not None and std.gram is not None
        self.width0 = float(np.mean(np.abs(y - np.median(y)))) or 1.0
        self.width = self.width0
        self.kappa = std.largest / max(std.smallest or 0.0, 1e-300)
        super().__init__(backend, model, X, y, plan, n_jobs, tol)

    def _stage(self) -> Fit:
        width = self.width
        stop = StopRule(abs_tol=self.STAGE_TOL * width / self.width0,
                        patience=int(self.PATIENCE * (100 + 10 * math.sqrt(self.kappa))))
        return self._start_stage(SmoothedMAE(width), replace(
            self.plan.settings, lr=width / self.std.largest, stop=stop))

    def _after(self, result: FitResult) -> Optional[str]:
        if self._certified():
            return CONVERGED
        if self.n_epochs >= self.plan.epochs:
            return MAX_EPOCHS
        if (self.width <= 1e-3 * self.tol * result.final_loss  # narrower cannot help
                or self.width / self.SHRINK < np.finfo(np.float64).tiny):  # nor underflow
            return STALLED
        self.width /= self.SHRINK
        return None

    def _final_status(self) -> str:
        return CONVERGED if self._certified() else self.finished[-1].status

    def _certified(self) -> bool:
        """Whether a dual bound certifies MAE - optimum <= tol * MAE (a cheap bound first)."""
        gap, mae = lad_gap(self.X, self.y, self.model.params, self.std, self.width, rounds=1,
                           weights=self.plan.weights)
        if gap > 10 * self.tol * mae:
            return False
        if gap <= self.tol * mae:
            return True
        gap, mae = lad_gap(self.X, self.y, self.model.params, self.std, self.width, rounds=8,
                           weights=self.plan.weights)
        return gap <= self.tol * mae

    def _check(self) -> Optional[FitResult]:
        """The stage's result once the duality gap is within its width, else None."""
        gap, mae = lad_gap(self.X, self.y, self.model.params, self.std, self.width, rounds=1,
                           vertex=False, weights=self.plan.weights)
        if gap > max(self.GAP_FACTOR * self.width, 10 * self.tol * mae) and not (
                gap <= 10 * self.tol * mae and self._certified()):
            return None
        return self.fit.finish()


class NewtonPath(Stages):
    """The default full-batch fit of the Huber loss or an L1 penalty: accelerated
    stages stopped by a Newton certificate.

    Both are quadratic piece by piece: the Huber loss wherever the set of rows
    within epsilon (|r_i| <= epsilon) stays the same, with Hessian (1/N) sum over
    those rows of a_i a_i^T (standardised rows a_i); the L1 penalty wherever the
    signs of the slopes stay the same, the zero slopes staying zero. A stage
    takes the Hessian of the piece where it starts (for L1, on the non-zero
    slopes) and stops, like the MSE fit, once H^-1 g bounds the error within
    tol (g the minimum-norm subgradient, which also vanishes on the zero slopes
    only where they should stay zero); the fit ends when the stage ended in
    the piece it started from, so the certificate holds for the objective
    itself. A stage whose H lacks full rank (too few rows within epsilon)
    stops on its gradient instead.
    """

    MAX_STAGES = 50
    final_loss: Loss

    def __init__(self, backend: Any, model: Any, X: np.ndarray, y: np.ndarray, plan: Setup,
                 n_jobs: int, tol: float) -> None:
        self.final_loss = plan.loss
        self.penalty = plan.settings.penalty
        self.piece: List[np.ndarray] = []
        self.reached: Optional[List[np.ndarray]] = None  # the piece _after found, for _stage
        super().__init__(backend, model, X, y, plan, n_jobs, tol)

    def _piece(self) -> List[np.ndarray]:
        """Where the objective is one quadratic: the rows within epsilon, the slopes' signs."""
        params = self.model.params.astype(np.float64)
        piece = []
        if isinstance(self.final_loss, HuberLoss):
            with np.errstate(over="ignore", invalid="ignore"):
                r = self.X @ params[:-1] + (params[-1] - self.y)
            piece.append(np.abs(r) <= self.final_loss.param)
        if self.penalty is not None and self.penalty.has_l1:
            piece.append(np.sign(params[:-1]))
        return piece

    def _stage(self) -> Fit:
        plan, std = self.plan, self.std
        self.piece = self._piece() if self.reached is None else self.reached
        self.reached = None
        if isinstance(self.final_loss, HuberLoss):
            H = active_hessian(self.X, std, self.piece[0], self.plan.weights)
        else:
            H = std.mse_hessian()
        signs = self.piece[-1] if self.penalty is not None and self.penalty.has_l1 else None
        H = penalised_hessian(std, H, self.penalty, signs)
        eigenvalues = np.linalg.eigvalsh(H)
        error_map = None
        if eigenvalues[0] > eigenvalues.shape[0] * np.finfo(np.float64).eps * std.largest:
            error_map = std.error_map(H)
        if error_map is not None:
            stop = certificate(std, error_map, eigenvalues[-1] / eigenvalues[0], self.tol,
                               plan.y_scale, self.model, plan.optimizer)
        else:  # too few rows within epsilon: a step towards them first
            stop = StopRule(abs_tol=gradient_tol(self.final_loss, self.tol, plan.y_scale))
        return self._start_stage(self.final_loss, replace(plan.settings, stop=stop))

    def _after(self, result: FitResult) -> Optional[str]:
        if result.status == MAX_EPOCHS:
            return MAX_EPOCHS
        self.reached = self._piece()  # (one pass over X: the next stage starts here)
        if all(np.array_equal(a, b) for a, b in zip(self.reached, self.piece)):
            return result.status  # certified (if H had full rank) for the objective itself
        if len(self.finished) >= self.MAX_STAGES:
            return STALLED
        return None


def active_hessian(X: np.ndarray, std: Standardization, inside: np.ndarray,
                   weights: Optional[np.ndarray] = None) -> np.ndarray:
    """(1/N) sum over the rows ``inside`` of w_i a_i a_i^T, a_i = [(x_i - m) / s, 1] (w_i
    = 1 without ``weights``): the Huber loss's Hessian in standardised coordinates
    (block by block, no copy of X)."""
    n, d = X.shape
    H = np.zeros((d + std.intercept, d + std.intercept))
    rows = max(16, 64 * BLOCK_VALUES // max(d, 1))
    for lo in range(0, n, rows):
        keep = inside[lo:lo + rows]
        A = (X[lo:lo + rows][keep] - std.mean) / std.scale
        if weights is None:
            H[:d, :d] += A.T @ A
            if std.intercept:
                H[d, :d] = H[:d, d] = H[:d, d] + A.sum(axis=0)
                H[d, d] += A.shape[0]
            continue
        w = weights[lo:lo + rows][keep]
        H[:d, :d] += A.T @ (A * w[:, None])
        if std.intercept:
            H[d, :d] = H[:d, d] = H[:d, d] + w @ A
            H[d, d] += w.sum()
    return H / n


def lad_gap(X: np.ndarray, y: np.ndarray, params: np.ndarray, std: Standardization,
            width: float, rounds: int, vertex: bool = True,
            weights: Optional[np.ndarray] = None) -> Tuple[float, float]:
    """(MAE - a lower bound of the least-absolute-deviations optimum, MAE) at ``params``.

    LP duality: min_beta (1/N) sum c_i |y_i - a_i . beta| = max (1/N) u . y
    over |u_i| <= c_i, A^T u = 0 (A = [(X - m) / s, 1] spans the same models
    as [X 1]; c the rows' ``weights``, else 1); any feasible u bounds the
    optimum from below. A start u is made feasible by ``rounds`` projections
    onto A^T u = 0 (u - C A (A^T C A)^-1 A^T u, with the standardised Gram
    matrix A^T C A / N, two passes over X each) alternating with clipping into
    the box, and a last scaling into it. Two starts, the better bound kept:
    the slopes -c clip(r / width, -1, 1); and (``vertex``) the dual of the
    vertex nearest the parameters, -c sign(r) but on the d + 1 rows of
    smallest |r| (of positive weight), whose values solve A^T u = 0 exactly:
    tight once the fit sits at an optimal vertex.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # see bound()
        return _lad_gap(X, y, params, std, width, rounds, vertex, weights)


def _lad_gap(X: np.ndarray, y: np.ndarray, params: np.ndarray, std: Standardization,
             width: float, rounds: int, vertex: bool,
             weights: Optional[np.ndarray]) -> Tuple[float, float]:
    n, d = X.shape
    X = np.asarray(X, dtype=np.float64)  # no copy of float64 data
    corr = std.gram
    assert corr is not None
    c = np.ones(n) if weights is None else weights
    w = params[:d].astype(np.float64)
    r = X @ w + float(params[d]) - y
    mae = float(np.mean(c * np.abs(r)))

    def At(u: np.ndarray) -> np.ndarray:
        out = (X.T @ u - std.mean * u.sum()) / std.scale
        return np.append(out, u.sum()) if std.intercept else out

    positive = c > 0

    def bound(u: np.ndarray, rounds: int) -> float:
        for k in range(rounds):
            if k:
                np.clip(u, -c, c, out=u)
            q = np.linalg.lstsq(corr, At(u) / n, rcond=None)[0]
            qv = q[:d] / std.scale
            u = u - c * (X @ qv - float(std.mean @ qv) + (q[d] if std.intercept else 0.0))
        value = float(u @ y) / n / max(1.0, float(np.max(np.abs(u[positive]) / c[positive])))
        # tiny scales (subnormal columns) can overflow the projection: then no bound
        return value if math.isfinite(value) else -math.inf

    best = bound(-c * np.clip(r / width, -1.0, 1.0), max(rounds, 1))
    p = d + std.intercept
    if vertex and int(positive.sum()) > p:
        basis = np.argpartition(np.where(positive, np.abs(r), np.inf), p - 1)[:p]
        v = -c * np.sign(r)
        v[basis] = 0.0
        rows = (X[basis] - std.mean) / std.scale
        if std.intercept:
            rows = np.column_stack([rows, np.ones(p)])
        v[basis] = np.linalg.lstsq(rows.T, -At(v), rcond=None)[0]
        if np.all(np.isfinite(v)):
            best = max(best, bound(v, rounds if np.max(np.abs(v) - c) > 0 else 1))
    return mae - best, mae
