"""The ``gdcore`` command line: ``gdcore demo`` runs the tutorial's worked example."""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional, Sequence

import numpy as np

from . import LinearModel, MSELoss, Trainer, backends, closed_form

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


def demo(backend: str, out=sys.stdout) -> None:
    x, y = TUTORIAL_X, TUTORIAL_Y
    pairs = " ".join(f"({a:g},{b:g})" for a, b in zip(x, y))
    print(f"The tutorial's worked example: data {pairs}\n", file=out)

    # 1. y = w x: L(w) = mean((y - w x)^2) = a w^2 + b w + c, read off the data.
    a, b, c = np.mean(x * x), -2 * np.mean(x * y), np.mean(y * y)
    print("1. Model y = w x (no bias). The mean squared error expands to", file=out)
    print(f"   L(w) = (1/4) sum (y_i - w x_i)^2 = {a:g} w^2 {_signed(b)} w {_signed(c)}", file=out)
    print(f"   dL/dw = {2 * a:g} w {_signed(b)} = 0  gives  w = {-b / (2 * a):g}", file=out)
    model = LinearModel(1, fit_intercept=False)
    auto = Trainer(lr="auto").learning_rate(model, x)
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
    history = Trainer(loss=MSELoss(), lr="auto", epochs=10_000, tol=1e-10,
                      backend=backend).fit(model, x, y)
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


def _pin_threads(argv: Optional[Sequence[str]]) -> None:
    """Re-run with BLAS and OpenMP at one thread: they are fixed when NumPy loads."""
    from .benchmark import THREAD_VARIABLES
    if all(os.environ.get(k) == "1" for k in THREAD_VARIABLES):
        return
    env = dict(os.environ, **{k: "1" for k in THREAD_VARIABLES})
    args = list(sys.argv[1:] if argv is None else argv)
    os.execve(sys.executable, [sys.executable, "-m", "gdcore", *args], env)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="gdcore", description="Gradient descent with compiled Cython kernels.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo_parser = commands.add_parser(
        "demo", help="run the tutorial's worked example step by step",
        description="Fit the tutorial's data (1,1) (2,2) (3,3) (4,4) by gradient descent.")
    demo_parser.add_argument("--backend", choices=backends(), default="cython",
                             help="which backend runs the fit (default: cython)")
    demo_parser.add_argument("--mlp", action="store_true",
                             help="instead, a neural network [1, 32, 1] learning y = sin(x)")
    bench_parser = commands.add_parser(
        "bench", help="time gdcore against NumPy, scikit-learn and PyTorch, side by side",
        description="Time per epoch of gradient descent, in one process, with BLAS and "
                    "OpenMP pinned to one thread (quick by default, under a minute).")
    bench_parser.add_argument("--full", action="store_true",
                              help="add 1,000,000 x 20 and the time-to-solution race")
    bench_parser.add_argument("--solve", action="store_true", default=None,
                              help="run the time-to-solution race against lstsq")
    bench_parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    bench_parser.add_argument("--plot", metavar="FILE.png",
                              help="draw time per epoch against N (needs matplotlib)")
    args = parser.parse_args(argv)
    if args.command == "demo" and args.mlp:
        from .mlp import demo as mlp_demo
        mlp_demo(args.backend, epochs=300 if args.backend == "python" else 3000)
        return 0
    if args.command == "demo":
        demo(args.backend)
        return 0
    if args.command == "bench":
        _pin_threads(argv)
        from .benchmark import main as bench
        return bench(args.full, args.json, args.plot, args.solve)
    parser.print_help()
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
