"""The ``gdcore`` command line.

Sub-commands: ``demo`` (the tutorial's worked example), ``fit`` (a CSV to a
saved model), ``predict`` (a saved model and a CSV to predictions), ``plot``
(PNG plots of a fit or of benchmark results). Each is one entry of
``COMMANDS``: a name, a one-line help, a function adding its arguments and a
function running it, so adding a sub-command is a few lines.

Mistakes in what the user typed or gave (a missing file or column, a
non-numeric cell, an unreadable model, a bad option value) print one line on
stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
from dataclasses import dataclass
from typing import IO, Any, Callable, Dict, List, NoReturn, Optional, Sequence, Tuple

import numpy as np

from . import LinearModel, MSELoss, Trainer, backends, closed_form
from .errors import DivergenceError, FitInterrupted
from .losses import MAELoss
from .persist import read as read_model
from .trainer import INTERRUPTED, History

LOSSES = {"mse": MSELoss, "mae": MAELoss}

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


class UsageError(Exception):
    """A mistake in what the user typed or gave: reported in one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (and exit status 2, as argparse does)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ------------------------------------------------------------------ CSV files --

def read_csv(path: str, name: str = "DATA.csv") -> Tuple[List[str], np.ndarray]:
    """A CSV file with a header row and numbers below it: (column names, float64 rows)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise UsageError(f"{name} {path!r} does not exist") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"cannot read {path!r}: {exc}") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]  # blank lines
    if not rows:
        raise UsageError(f"{path!r} is empty: expected a header row and data rows")
    header = [cell.strip() for cell in rows[0]]
    if any(not h for h in header):
        raise UsageError(f"{path!r}: the header row has an empty column name")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise UsageError(f"{path!r}: duplicate column names in the header: {', '.join(dupes)}")
    if len(rows) < 2:
        raise UsageError(f"{path!r} has a header row but no data rows")
    data = np.empty((len(rows) - 1, len(header)))
    for i, row in enumerate(rows[1:]):
        if len(row) != len(header):
            raise UsageError(f"{path!r}, data row {i + 1}: {len(row)} cells, "
                             f"but the header has {len(header)} columns")
        for j, cell in enumerate(row):
            try:
                value = float(cell)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise UsageError(f"{path!r}, data row {i + 1}, column {header[j]!r}: "
                                 f"not a finite number: {cell!r}")
            data[i, j] = value
    return header, data


def columns(header: List[str], data: np.ndarray, names: Sequence[str], path: str) -> np.ndarray:
    """The named columns of ``data`` (2-D), or a UsageError naming the missing one."""
    missing = [c for c in names if c not in header]
    if missing:
        raise UsageError(f"{path!r} has no column {missing[0]!r} (columns: {', '.join(header)})")
    return np.ascontiguousarray(data[:, [header.index(c) for c in names]])


@dataclass
class Dataset:
    X: np.ndarray
    y: np.ndarray
    features: List[str]
    target: str


def load_dataset(path: str, target: str, features: Optional[str]) -> Dataset:
    header, data = read_csv(path)
    names = ([c.strip() for c in features.split(",") if c.strip()] if features
             else [c for c in header if c != target])
    if target in names:
        raise UsageError(f"--features must not include the target column {target!r}")
    if not names:
        raise UsageError(f"{path!r} has no feature column besides the target {target!r}")
    y = columns(header, data, [target], path)[:, 0]
    return Dataset(columns(header, data, names, path), y, names, target)


# -------------------------------------------------------------- option types --

def _lr(text: str) -> Any:
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number or 'auto', got {text!r}")
    return value


def _int_at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
        return value
    return parse


def _tol(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def add_data_options(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument("--target", metavar="COLUMN", required=required,
                   help="the column to predict" + ("" if required else " (required but for bench)"))
    p.add_argument("--features", metavar="A,B,...",
                   help="comma-separated feature columns (default: every other column)")


def add_fit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--loss", choices=sorted(LOSSES), default="mse", help="default: mse")
    p.add_argument("--lr", type=_lr, default="auto",
                   help="learning rate, a positive number or 'auto' (default)")
    p.add_argument("--epochs", type=_int_at_least(0), default=1000, help="default: 1000")
    p.add_argument("--tol", type=_tol, default=1e-6,
                   help="stop when the gradient norm is at most this (default: 1e-6)")
    p.add_argument("--batch-size", type=_int_at_least(1), default=None,
                   help="rows per mini-batch step (default: full batch)")
    p.add_argument("--seed", type=_int_at_least(0), default=None,
                   help="seed of the mini-batch order")
    p.add_argument("--backend", choices=backends(), default="cython", help="default: cython")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                   help="default: float64")
    p.add_argument("--no-intercept", action="store_true", help="fit y = X w (b fixed at 0)")
    p.add_argument("--progress", action="store_true", help="show a progress bar (needs tqdm)")


def fit_dataset(args: argparse.Namespace, record_path: bool = False,
                one_feature: str = "") -> Tuple[Dataset, LinearModel, History]:
    """Read args.data and fit as the options say; ``one_feature`` names a plot needing one.

    Ctrl-C stops the fit cleanly: the History then has status "interrupted".
    """
    if not args.target:
        raise UsageError("--target COLUMN is required")
    ds = load_dataset(args.data, args.target, args.features)
    if one_feature and one_feature != "loss" and len(ds.features) != 1:
        raise UsageError(f"the {one_feature} plot needs one feature, got "
                         f"{len(ds.features)}: pick one with --features NAME")
    if args.batch_size is not None and args.batch_size > len(ds.y):
        raise UsageError(f"--batch-size {args.batch_size} is larger than the number of "
                         f"rows ({len(ds.y)})")
    model = LinearModel(ds.X.shape[1], dtype=args.dtype, fit_intercept=not args.no_intercept)
    trainer = Trainer(loss=LOSSES[args.loss](), lr=args.lr, epochs=args.epochs, tol=args.tol,
                      batch_size=args.batch_size, random_state=args.seed,
                      backend=args.backend, record_path=record_path)
    try:
        history = trainer.fit(model, ds.X, ds.y, progress=args.progress)
    except DivergenceError as exc:
        raise UsageError(str(exc)) from None
    except ImportError as exc:  # --progress without tqdm
        raise UsageError(str(exc)) from None
    except FitInterrupted as exc:  # Ctrl-C: the model holds the last finished epoch
        history = exc.history
    return ds, model, history


# ------------------------------------------------------------------ commands --

def add_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=backends(), default="cython",
                   help="which backend runs the fit (default: cython)")
    p.add_argument("--mlp", action="store_true",
                   help="instead, a neural network [1, 32, 1] learning y = sin(x)")


def run_demo(args: argparse.Namespace) -> int:
    if args.mlp:
        from .mlp import demo as mlp_demo
        mlp_demo(args.backend, epochs=300 if args.backend == "python" else 3000)
    else:
        demo(args.backend)
    return 0


def add_bench(p: argparse.ArgumentParser) -> None:
    p.add_argument("--full", action="store_true",
                   help="add 1,000,000 x 20 and the time-to-solution race")
    p.add_argument("--solve", action="store_true", default=None,
                   help="run the time-to-solution race against numpy.linalg.lstsq")
    p.add_argument("--mlp", action="store_true",
                   help="instead, neural networks: gdcore's MLP against scikit-learn and PyTorch")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON")
    p.add_argument("--plot", metavar="FILE.png",
                   help="draw time per epoch against N (needs matplotlib)")


def run_bench(args: argparse.Namespace) -> int:
    _pin_threads()
    if args.mlp:
        from .benchmark_mlp import main as bench_mlp
        return bench_mlp(args.json)
    from .benchmark import main as bench
    return bench(args.full, args.json, args.plot, args.solve)


def _pin_threads() -> None:
    """Re-run with BLAS and OpenMP at one thread: they are fixed when NumPy loads."""
    from .benchmark import THREAD_VARIABLES
    if all(os.environ.get(k) == "1" for k in THREAD_VARIABLES):
        return
    env = dict(os.environ, **{k: "1" for k in THREAD_VARIABLES})
    os.execve(sys.executable, [sys.executable, "-m", "gdcore", *sys.argv[1:]], env)


def add_fit(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", metavar="DATA.csv", help="CSV file with a header row")
    add_data_options(p, required=True)
    add_fit_options(p)
    p.add_argument("-o", "--output", metavar="MODEL", required=True,
                   help="where to save the fitted model (gdcore's .npz format)")


def describe_fit(ds: Dataset, model: LinearModel, history: History, args: argparse.Namespace,
                 out: IO[str]) -> None:
    print(f"fitted y = {ds.target!r} from {len(ds.features)} feature(s), {len(ds.y)} rows "
          f"({args.loss}, backend {args.backend}, lr {history.lr:.6g})", file=out)
    width = max(len(f) for f in ds.features) + 3
    for name, w in zip(ds.features, model.w):
        print(f"  {('w[' + name + ']').ljust(width)} = {float(w):.10g}", file=out)
    print(f"  {'b'.ljust(width)} = {model.b:.10g}", file=out)
    print(f"final loss {history.final_loss:.6g}, {history.n_epochs} epochs ({history.status}), "
          f"gradient norm {history.grad_norm:.3g}, {history.seconds:.3g} s", file=out)


def save_model(model: LinearModel, ds: Dataset, args: argparse.Namespace) -> None:
    try:
        model.save(args.output, metadata={"features": ds.features, "target": ds.target,
                                          "loss": args.loss})
    except OSError as exc:
        raise UsageError(f"cannot write the model to {args.output!r}: {exc.strerror}") from None


def run_fit(args: argparse.Namespace) -> int:
    ds, model, history = fit_dataset(args)
    describe_fit(ds, model, history, args, sys.stdout)
    save_model(model, ds, args)
    if history.status == INTERRUPTED:
        print(f"interrupted after {history.n_epochs} epochs: saved the parameters of the "
              f"last finished epoch to {args.output}", file=sys.stderr)
        return 130
    print(f"saved the model to {args.output}")
    return 0


def add_predict(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="a model saved by `gdcore fit`")
    p.add_argument("data", metavar="DATA.csv",
                   help="CSV file with a header row holding the model's feature columns")
    p.add_argument("-o", "--output", metavar="OUT.csv",
                   help="where to write the predictions (default: standard output)")


def run_predict(args: argparse.Namespace) -> int:
    if not os.path.exists(args.model):
        raise UsageError(f"MODEL {args.model!r} does not exist")
    try:
        model, meta = read_model(args.model)
    except (ValueError, OSError) as exc:
        raise UsageError(f"cannot load the model: {exc}") from None
    header, data = read_csv(args.data)
    names = meta.get("features")
    if isinstance(names, list) and all(isinstance(n, str) for n in names):
        X = columns(header, data, names, args.data)
    elif data.shape[1] == model.n_features:
        X = data
    else:
        raise UsageError(f"the model has {model.n_features} features but {args.data!r} "
                         f"has {data.shape[1]} columns")
    pred = model.predict(X)
    column = f"{meta['target']}_predicted" if isinstance(meta.get("target"), str) else "prediction"
    lines = [column] + [repr(float(v)) for v in pred]
    if args.output is None:
        sys.stdout.write("\n".join(lines) + "\n")
        return 0
    try:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    except OSError as exc:
        raise UsageError(f"cannot write {args.output!r}: {exc.strerror}") from None
    print(f"wrote {len(pred)} predictions to {args.output}")
    return 0


PLOTS = ("loss", "fit", "path", "bench")


def add_plot(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=PLOTS,
                   help="loss: loss per epoch; fit: data and fitted line (one feature); "
                        "path: gradient-descent path over the contours of L(w, b) (one "
                        "feature); bench: time per epoch against N from benchmark JSON")
    p.add_argument("data", metavar="INPUT",
                   help="DATA.csv (loss, fit, path) or RESULTS.json (bench)")
    p.add_argument("-o", "--output", metavar="OUT.png", required=True, help="the PNG to write")
    add_data_options(p, required=False)
    add_fit_options(p)


def run_plot(args: argparse.Namespace) -> int:
    try:
        from . import plot
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    if args.kind == "bench":
        try:
            ax = plot.plot_bench(plot.load_bench(args.data))
        except FileNotFoundError:
            raise UsageError(f"RESULTS.json {args.data!r} does not exist") from None
        except (ValueError, OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot use the benchmark results: {exc}") from None
    else:
        ds, model, history = fit_dataset(args, record_path=args.kind == "path",
                                         one_feature=args.kind)
        if history.status == INTERRUPTED:
            print("interrupted: no plot written", file=sys.stderr)
            return 130
        if args.kind == "loss":
            ax = plot.plot_loss(history)
        elif args.kind == "fit":
            ax = plot.plot_fit(model, ds.X, ds.y)
            ax.set_xlabel(ds.features[0])
            ax.set_ylabel(ds.target)
        else:
            ax = plot.plot_path(history, ds.X, ds.y, loss=LOSSES[args.loss](), model=model)
    try:
        plot.save(ax, args.output)
    except OSError as exc:
        raise UsageError(f"cannot write {args.output!r}: {exc.strerror}") from None
    print(f"wrote {args.output}")
    return 0


@dataclass
class Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: List[Command] = [
    Command("demo", "run the tutorial's worked example step by step", add_demo, run_demo),
    Command("fit", "fit a linear model to a CSV file and save it", add_fit, run_fit),
    Command("predict", "predict with a saved model from a CSV file", add_predict, run_predict),
    Command("plot", "plot a fit (loss, fitted line, gradient-descent path) or benchmark "
            "results as PNG", add_plot, run_plot),
    Command("bench", "time gdcore against NumPy, scikit-learn and PyTorch, side by side "
            "(BLAS and OpenMP pinned to one thread; quick by default)", add_bench, run_bench),
]


def build_parser() -> Parser:
    parser = Parser(prog="gdcore", description="Gradient descent with compiled Cython kernels.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(p)
        p.set_defaults(run=command.run)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args))
    except UsageError as exc:
        print(f"gdcore {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
