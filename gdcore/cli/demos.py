"""The demonstrations: the tutorial's worked example, a network learning sin, and the
optimizers side by side."""

from __future__ import annotations

import math
import sys
import time
from typing import IO, Any, List, Optional

import numpy as np

from ..linalg import closed_form
from ..losses import MSELoss
from ..models import LinearModel, MLP
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
