"""Independent reference implementations used by the tests.

Nothing here calls gdcore: these are the numbers the library is checked
against, written from the formulas in DESIGN.md and the semantics in
gdcore/backends/_base.py, in plain NumPy float64 (and plain Python for the
random stream).
"""

from __future__ import annotations

from typing import Iterator, List, Optional

import numpy as np

MSE, MAE = "mse", "mae"


def make_problem(n: int, d: int, seed: int, noise: float = 0.0, dtype=np.float64,
                 intercept: float = 0.5):
    """X standard normal (n, d), y = X w + b + noise * N(0, 1), fixed seed.

    Returns (X, y, w_true, b_true), X and y of ``dtype`` (C-contiguous).
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.uniform(-2.0, 2.0, size=d)
    y = X @ w + intercept
    if noise:
        y = y + noise * rng.standard_normal(n)
    return np.ascontiguousarray(X, dtype=dtype), np.ascontiguousarray(y, dtype=dtype), w, intercept


def as64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def design(X, fit_intercept: bool = True) -> np.ndarray:
    """A = [X 1] (or X) in float64."""
    X = as64(X)
    if X.ndim == 1:
        X = X[:, None]
    return np.hstack([X, np.ones((X.shape[0], 1))]) if fit_intercept else X


def lstsq(X, y, fit_intercept: bool = True):
    """(w, b) minimising the MSE, by numpy.linalg.lstsq on [X 1] in float64."""
    theta = np.linalg.lstsq(design(X, fit_intercept), as64(y), rcond=None)[0]
    if fit_intercept:
        return theta[:-1], float(theta[-1])
    return theta, 0.0


def hessian_lambda_max(X, fit_intercept: bool = True) -> float:
    """lambda_max of H = (2/N) A^T A, by a dense symmetric eigen-solver."""
    A = design(X, fit_intercept)
    return float(np.linalg.eigvalsh(2.0 / A.shape[0] * A.T @ A)[-1])


def residual(X, y, w, b) -> np.ndarray:
    return design(X, False) @ as64(w) + float(b) - as64(y)


def mse(X, y, w, b) -> float:
    r = residual(X, y, w, b)
    return float(np.mean(r * r))


def mae(X, y, w, b) -> float:
    return float(np.mean(np.abs(residual(X, y, w, b))))


def mse_grad(X, y, w, b):
    """(2/N) sum (y_hat_i - y_i) x_i and (2/N) sum (y_hat_i - y_i), written out row by row."""
    Xd, yd = design(X, False), as64(y)
    n = Xd.shape[0]
    gw, gb = np.zeros(Xd.shape[1]), 0.0
    for i in range(n):
        r = float(Xd[i] @ as64(w)) + float(b) - yd[i]
        gw += 2.0 * r * Xd[i]
        gb += 2.0 * r
    return gw / n, gb / n


def sign0(r: float) -> float:
    """sign with sign(0) = 0."""
    return 1.0 if r > 0 else (-1.0 if r < 0 else 0.0)


def mae_subgrad(X, y, w, b):
    """(1/N) sum sign(y_hat_i - y_i) x_i, sign(0) = 0, row by row."""
    Xd, yd = design(X, False), as64(y)
    n = Xd.shape[0]
    gw, gb = np.zeros(Xd.shape[1]), 0.0
    for i in range(n):
        s = sign0(float(Xd[i] @ as64(w)) + float(b) - yd[i])
        gw += s * Xd[i]
        gb += s
    return gw / n, gb / n


def central_differences(f, theta: np.ndarray, h: float) -> np.ndarray:
    theta = as64(theta)
    out = np.empty_like(theta)
    for k in range(theta.size):
        e = np.zeros_like(theta)
        e[k] = h
        out[k] = (f(theta + e) - f(theta - e)) / (2.0 * h)
    return out


# ------------------------------------------------------------ random stream --

_MASK = (1 << 64) - 1


def splitmix64(seed: int) -> Iterator[int]:
    """SplitMix64 (Steele, Lea & Flood 2014; Vigna's splitmix64.c), written afresh."""
    x = seed & _MASK
    while True:
        x = (x + 0x9E3779B97F4A7C15) & _MASK
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        yield z ^ (z >> 31)


def fisher_yates(order: List[int], stream: Iterator[int]) -> None:
    for i in range(len(order) - 1, 0, -1):
        x, bound = next(stream), i + 1
        j = ((x >> 32) * bound) >> 32 if bound <= 1 << 32 else x % bound
        order[i], order[j] = order[j], order[i]


# ---------------------------------------------------------- reference fit --

def _loss_grad(kind: str, A: np.ndarray, y: np.ndarray, theta: np.ndarray):
    r = A @ theta - y
    if kind == MSE:
        return float(np.mean(r * r)), 2.0 * (A.T @ r) / len(y)
    return float(np.mean(np.abs(r))), (A.T @ np.sign(r)) / len(y)


def reference_fit(kind: str, X, y, lr: float, epochs: int, tol: float = 0.0,
                  batch_size: Optional[int] = None, seed: int = 0, fit_intercept: bool = True):
    """Gradient descent in float64 following the documented semantics (no divergence handling).

    Returns dict(loss=history array, w, b, final_loss, grad_norm, converged).
    """
    A = design(X, True)
    yd = as64(y)
    n, m = A.shape
    theta = np.zeros(m)
    mask = np.ones(m)
    if not fit_intercept:
        mask[-1] = 0.0  # b stays fixed and is left out of the gradient norm
    history = []
    stopped = False
    if batch_size is None:
        while True:
            loss, g = _loss_grad(kind, A, yd, theta)
            norm = float(np.linalg.norm(g * mask))
            if norm <= tol:
                stopped = True
                break
            if len(history) == epochs:
                break
            history.append(loss)
            theta = theta - lr * g * mask
    else:
        stream = splitmix64(seed)
        order = list(range(n))
        for _ in range(epochs):
            fisher_yates(order, stream)
            e_loss, e_g = 0.0, np.zeros(m)
            for lo in range(0, n, batch_size):
                rows = order[lo:lo + batch_size]
                loss, g = _loss_grad(kind, A[rows], yd[rows], theta)
                e_loss += len(rows) * loss
                e_g += len(rows) * g
                theta = theta - lr * g * mask
            history.append(e_loss / n)
            if np.linalg.norm(e_g / n * mask) <= tol:
                stopped = True
                break
    loss, g = _loss_grad(kind, A, yd, theta)
    norm = float(np.linalg.norm(g * mask))
    return dict(loss=np.array(history), w=theta[:-1], b=float(theta[-1]), final_loss=loss,
                grad_norm=norm, converged=stopped or norm <= tol)


def huber_terms(r, epsilon: float) -> np.ndarray:
    """The Huber loss of each residual: r^2 / 2 within epsilon, epsilon |r| - epsilon^2 / 2 beyond."""
    r = as64(r)
    return np.where(np.abs(r) <= epsilon, 0.5 * r ** 2, epsilon * (np.abs(r) - 0.5 * epsilon))


def huber_slopes(r, epsilon: float) -> np.ndarray:
    """Its derivative in the prediction: r within epsilon, epsilon sign(r) beyond."""
    r = as64(r)
    return np.where(np.abs(r) <= epsilon, r, epsilon * np.sign(r))


def huber_minimum(X, y, epsilon: float, fit_intercept: bool = True):
    """(w, b) minimising the mean Huber loss: L-BFGS from the least-squares answer, then
    Newton steps on the rows within epsilon until they stop changing (the loss is
    quadratic on each such set), checked by a gradient at rounding level."""
    from scipy.optimize import minimize
    A = design(X, fit_intercept)
    y = as64(y)
    n = A.shape[0]
    centre = np.zeros(A.shape[1])
    if fit_intercept:
        centre[:-1] = A[:, :-1].mean(axis=0)
    spread = A.std(axis=0)
    spread[spread == 0] = 1.0
    Z = (A - centre) / spread  # standardised columns, the same minimiser up to the change

    def objective(p):
        r = Z @ p - y
        return float(np.mean(huber_terms(r, epsilon))), Z.T @ huber_slopes(r, epsilon) / n

    p = minimize(objective, np.linalg.lstsq(Z, y, rcond=None)[0], jac=True, method="L-BFGS-B",
                 options=dict(ftol=0.0, gtol=1e-12, maxiter=20_000, maxcor=30)).x
    for _ in range(50):
        r = Z @ p - y
        inside = np.abs(r) <= epsilon
        step = np.linalg.solve(Z[inside].T @ Z[inside] / n, objective(p)[1])
        p = p - step
        if np.array_equal(np.abs(Z @ p - y) <= epsilon, inside) and \
                np.linalg.norm(step) <= 1e-13 * np.linalg.norm(p):
            break
    else:
        raise AssertionError("the reference Huber minimum did not settle")
    theta = p / spread
    if fit_intercept:
        theta[-1] -= float(centre[:-1] @ theta[:-1])
        return theta[:-1], float(theta[-1])
    return theta, 0.0


def assert_warm_start_continues(X, y, batch_size, shuffle) -> None:
    """Fits of 4 then 6 epochs with warm_start=True take the steps of one fit of 10, bit
    for bit: the optimizer state, step count and mini-batch random stream carried on."""
    import gdcore
    kw = dict(optimizer="momentum", lr=1e-4, tol=0.0, random_state=3, batch_size=batch_size,
              shuffle=shuffle)
    once = gdcore.LinearModel(X.shape[1])
    gdcore.Trainer(epochs=10, **kw).fit(once, X, y)
    model = gdcore.LinearModel(X.shape[1])
    trainer = gdcore.Trainer(epochs=4, warm_start=True, **kw)
    trainer.fit(model, X, y)
    trainer.epochs = 6
    trainer.fit(model, X, y)
    np.testing.assert_array_equal(model.params, once.params)
