"""The sub-commands: demo, fit, predict, plot and bench."""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from types import ModuleType
from typing import IO, Any, Dict, List, Optional, Tuple

import numpy as np

from ..backends import backends
from ..errors import DivergenceError, FitInterrupted, NotSupportedError
from ..history import INTERRUPTED, History
from ..models import LinearModel, Model
from ..persist import read as read_model
from .inputs import (Dataset, UsageError, add_data_options, add_fit_options,
                     check_input, check_output, check_range, columns, fits_in_memory, is_npy,
                     load_dataset, load_dataset_on_disk, load_npy_dataset, loss_from,
                     npy_columns, npy_header, read_csv, read_npy, trainer_from, CHUNK_ROWS)


def plotting(path: str, option: str) -> ModuleType:
    """gdcore.plot (matplotlib is optional), ``path`` checked as where a plot will go:
    both before the work starts."""
    check_output(path, option)
    try:
        from .. import plot
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    return plot


def fit_dataset(args: argparse.Namespace, record_path: bool = False,
                one_feature: str = "") -> Tuple[Dataset, LinearModel, History]:
    """Read args.data and fit as the options say; ``one_feature`` names a plot needing one.

    Ctrl-C stops the fit cleanly: the History then has status "interrupted".
    The library's documented errors (ValueError for data it cannot fit,
    DivergenceError) become UsageErrors.
    """
    if not args.target:
        raise UsageError("--target COLUMN is required")
    if is_npy(args.data):
        with tempfile.TemporaryDirectory(prefix="gdcore-npy-") as folder:
            ds = load_npy_dataset(args.data, args.target, args.features, folder, args.dtype,
                                  in_memory=bool(one_feature or record_path))
            return fit_read(args, ds, record_path, one_feature)
    if one_feature or record_path or fits_in_memory(args.data):
        return fit_read(args, load_dataset(args.data, args.target, args.features),
                             record_path, one_feature)
    with tempfile.TemporaryDirectory(prefix="gdcore-csv-") as folder:  # a CSV beyond memory
        ds = load_dataset_on_disk(args.data, args.target, args.features, folder, args.dtype)
        return fit_read(args, ds, record_path, one_feature)


def fit_read(args: argparse.Namespace, ds: Dataset, record_path: bool,
                  one_feature: str) -> Tuple[Dataset, LinearModel, History]:
    """fit_dataset's fit of the Dataset read (its X and y in memory, or files streamed)."""
    on_disk = not isinstance(ds.X, np.ndarray)
    if one_feature and one_feature != "loss" and len(ds.features) != 1:
        raise UsageError(f"the {one_feature} plot needs one feature, got "
                         f"{len(ds.features)}: pick one with --features NAME")
    if args.batch_size is not None and args.batch_size > len(ds.y):
        raise UsageError(f"--batch-size {args.batch_size} is larger than the number of "
                         f"rows ({len(ds.y)})")
    if not on_disk:  # (files: checked as they were written)
        check_range(ds.X, args.dtype, ds.features, args.data, npy=ds.npy)
        check_range(ds.y[:, None], args.dtype, [ds.target], ds.y_path or args.data,
                    npy=ds.npy)
    try:
        model = LinearModel(ds.X.shape[1], dtype=args.dtype,
                            fit_intercept=not args.no_intercept)
        trainer = trainer_from(args, record_path)
        trainer.shuffle = ORDERS[args.shuffle]
        history = trainer.fit(model, ds.X, ds.y, progress=args.progress)
    except (ValueError, DivergenceError) as exc:  # e.g. data overflowing float64
        raise UsageError(str(exc)) from None
    except ImportError as exc:  # --progress without tqdm
        raise UsageError(str(exc)) from None
    except NotSupportedError as exc:
        if not on_disk:
            raise
        raise UsageError(f"{exc} ({args.data!r} is larger than memory: it is fitted from "
                         f"disk)") from None
    except FitInterrupted as exc:  # Ctrl-C: the model holds the last finished epoch
        history = exc.history
    return ds, model, history


# ------------------------------------------------------------------ commands --

def add_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=backends(), default="cython",
                   help="which backend runs the fit (default: cython)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--mlp", action="store_true",
                       help="instead, a neural network [1, 32, 1] learning y = sin(x)")
    which.add_argument("--optimizers", action="store_true",
                       help="instead, every optimizer's epochs and time to 1e-6 of least "
                            "squares, on the tutorial's data and on diabetes")
    p.add_argument("--plot", metavar="FILE.png",
                   help="with --optimizers: draw each fit's error per epoch (needs matplotlib)")


def run_demo(args: argparse.Namespace) -> int:
    from .demos import demo, mlp_demo, optimizers_demo
    if args.plot is not None and not args.optimizers:
        raise UsageError("--plot draws the optimizers' race: add --optimizers")
    if args.optimizers:
        if args.plot is not None:
            plotting(args.plot, "--plot")  # before the race, not after it
        try:
            optimizers_demo(args.backend, plot_path=args.plot)
        except OSError as exc:
            raise UsageError(f"cannot write {args.plot!r}: {exc.strerror}") from None
    elif args.mlp:
        mlp_demo(args.backend, epochs=300 if args.backend == "python" else 3000)
    else:
        demo(args.backend)
    return 0


def add_bench(p: argparse.ArgumentParser) -> None:
    p.add_argument("--full", action="store_true",
                   help="add 1,000,000 x 20 and the time-to-solution table")
    p.add_argument("--solve", action="store_true",
                   help="instead, the time-to-solution table: gdcore's default fit against "
                        "LinearRegression, SGDRegressor, torch LBFGS and Adam on real and "
                        "NIST-certified problems, and its MAE fit against QuantileRegressor")
    p.add_argument("--penalty", action="store_true",
                   help="instead, penalised fits: gdcore against Lasso, Ridge(solver='sag') "
                        "and SGDRegressor, to the exact optimum")
    p.add_argument("--quick", action="store_true",
                   help="with --solve or --penalty: small problems, one repeat (for CI)")
    p.add_argument("--shuffle", action="store_true",
                   help="instead, 1,000,000 x 20 alone: the batch-32 epoch in each mini-batch "
                        "order (shuffle rows, blocks, False) against the full-batch epoch")
    p.add_argument("--mlp", action="store_true",
                   help="instead, neural networks: gdcore's MLP against scikit-learn and PyTorch")
    p.add_argument("--threads", action="store_true",
                   help="instead, n_jobs against one thread, on the machine as it is and "
                        "with its other CPUs kept busy (with --full: 1,000,000 x 20 too)")
    p.add_argument("--dask", action="store_true",
                   help="instead, dask arrays on a 2-worker LocalCluster: time per epoch "
                        "and to 1e-6 against in memory, dask-glm and dask-ml, 1,000,000 x 20 "
                        "(with --full: 10,000,000 x 20 too; needs gdcore[dask])")
    p.add_argument("--disk", action="store_true",
                   help="instead, full-batch and batch-32 epochs of a .npy file larger "
                        "than memory (gdcore.data.open_npy) against dd's read of it, and the "
                        "fits' peak resident memory; writes the file, then deletes it")
    p.add_argument("--size", type=float, metavar="GB",
                   help="with --disk: the files' size (default 1.5x this machine's memory)")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON")
    p.add_argument("--plot", metavar="FILE.png",
                   help="draw time per epoch against N (needs matplotlib)")


def run_bench(args: argparse.Namespace) -> int:
    if args.quick and not (args.solve or args.penalty):
        raise UsageError("--quick goes with --solve or --penalty (the per-epoch benchmark is "
                         "quick by default)")
    chosen = [name for name in ("--solve", "--penalty", "--mlp", "--threads", "--dask",
                                "--disk", "--shuffle") if getattr(args, name[2:])]
    if args.size is not None and not (args.disk and args.size > 0):
        raise UsageError("--size goes with --disk and must be positive (GB), got "
                         f"{args.size:g}" if args.disk else "--size goes with --disk")
    if len(chosen) > 1:
        raise UsageError(f"{' and '.join(chosen)} are separate tables: choose one")
    if chosen and args.plot:
        raise UsageError(f"--plot draws the per-epoch benchmark: drop {chosen[0]}")
    if args.json is not None:  # before the benchmark, not after it
        check_output(args.json, "--json")
    if args.plot is not None:
        plotting(args.plot, "--plot")
    _pin_threads(args.argv)
    if args.disk:
        from ..benchmarks.disk import main as bench_disk
        return bench_disk(args.size, args.json)
    if args.dask:
        from ..benchmarks.cluster import main as bench_dask
        return bench_dask(args.full, args.json)
    if args.threads:
        from ..benchmarks.threads import main as bench_threads
        return bench_threads(args.full, args.json)
    if args.mlp:
        from ..benchmarks.mlp import main as bench_mlp
        return bench_mlp(args.json)
    if args.solve:
        from ..benchmarks.solve import main as bench_solve
        return bench_solve(args.json, quick=args.quick)
    if args.penalty:
        from ..benchmarks.penalties import main as bench_penalties
        return bench_penalties(args.json, quick=args.quick)
    from ..benchmarks.epochs import main as bench
    return bench(args.full, args.json, args.plot, shuffle=args.shuffle)


def _pin_threads(argv: List[str]) -> None:
    """Re-run with BLAS and OpenMP at one thread: they are fixed when NumPy loads.

    ``argv`` is what main() was given (not sys.argv: main may be called in-process).
    """
    from ..benchmarks.epochs import THREAD_VARIABLES
    if all(os.environ.get(k) == "1" for k in THREAD_VARIABLES):
        return
    env = dict(os.environ, **{k: "1" for k in THREAD_VARIABLES})
    os.execve(sys.executable, [sys.executable, "-m", "gdcore", *argv], env)


#: --shuffle's choices: the Trainer's shuffle.
ORDERS: Dict[str, Any] = {"rows": "rows", "blocks": "blocks", "none": False}


def add_order_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shuffle", choices=list(ORDERS), default="rows",
                   help="the order of a mini-batch epoch's rows: rows (reshuffled, the "
                        "default), blocks (contiguous blocks shuffled, then the rows within "
                        "each: nearly sequential reads), none (in order); see gdcore.Trainer")


def add_fit(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", metavar="DATA.csv",
                   help="CSV file with a header row, or a .npy file (its columns named 0, 1, "
                        "...)")
    add_data_options(p, required=True)
    add_fit_options(p)
    add_order_option(p)
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
    check_output(args.output, "-o")
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
                   help="CSV file with a header row holding the model's feature columns, or "
                        "a .npy file")
    p.add_argument("-o", "--output", metavar="OUT.csv",
                   help="where to write the predictions (default: standard output)")


def load_model(path: str) -> Tuple[Model, Dict[str, Any]]:
    """gdcore's reader of model files, its documented errors a UsageError."""
    try:
        return read_model(path)
    except (ValueError, OSError) as exc:
        raise UsageError(f"cannot load the model: {exc}") from None


def model_columns(meta: Dict[str, Any], n_features: int, path: str) -> Optional[List[str]]:
    """The feature names saved with a model, checked against its width (None if absent)."""
    names = meta.get("features")
    if names is None:
        return None
    if not (isinstance(names, list) and names and all(isinstance(n, str) and n for n in names)):
        raise UsageError(f"MODEL {path!r}: its saved feature names are not a list of "
                         f"column names")
    if len(set(names)) != len(names):
        raise UsageError(f"MODEL {path!r}: its saved feature names repeat a name")
    if len(names) != n_features:
        raise UsageError(f"MODEL {path!r} names {len(names)} feature(s) but has "
                         f"{n_features}: the file is inconsistent")
    return names


def run_predict(args: argparse.Namespace) -> int:
    check_input(args.model, "MODEL")
    if args.output is not None:
        check_output(args.output, "-o")
    model, meta = load_model(args.model)
    names = model_columns(meta, model.n_features, args.model)
    target = meta.get("target", "")
    if not isinstance(target, str):
        raise UsageError(f"MODEL {args.model!r}: its saved target name is not a string")
    npy = is_npy(args.data)
    if npy:  # mapped, read in blocks below: the file may be larger than memory
        data = read_npy(args.data, "DATA")
        header = npy_header(data)
    else:
        header, data = read_csv(args.data)
    if names is not None:
        columns(header, np.empty((0, len(header))), names, args.data)  # all exist
        picked = [header.index(c) for c in names]
    elif data.shape[1] == model.n_features:
        picked, names = list(range(data.shape[1])), header
    else:
        raise UsageError(f"the model has {model.n_features} features but {args.data!r} "
                         f"has {data.shape[1]} columns")
    parts = []
    for lo in range(0, data.shape[0], CHUNK_ROWS):
        X = (npy_columns(data[lo:lo + CHUNK_ROWS], picked, args.data, header, lo) if npy
             else np.ascontiguousarray(data[lo:lo + CHUNK_ROWS, picked]))
        check_range(X, model.dtype.name, names, args.data, first_row=lo, npy=npy)
        try:
            parts.append(model.predict(X))
        except ValueError as exc:  # the predictions overflow
            raise UsageError(str(exc)) from None
    pred = np.concatenate(parts)
    rows = [[f"{target}_predicted" if target else "prediction"]] + [[repr(float(v))] for v in pred]
    if args.output is None:
        csv.writer(sys.stdout, lineterminator="\n").writerows(rows)
        return 0
    try:
        with open(args.output, "w", encoding="utf-8", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(rows)
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
                   help="DATA.csv or a .npy file (loss, fit, path) or RESULTS.json (bench)")
    p.add_argument("-o", "--output", metavar="OUT.png", required=True, help="the PNG to write")
    add_data_options(p, required=False)
    add_fit_options(p)
    add_order_option(p)


def run_plot(args: argparse.Namespace) -> int:
    plot = plotting(args.output, "-o")
    if args.kind == "bench":
        check_input(args.data, "RESULTS.json")
        try:
            ax = plot.plot_bench(plot.load_bench(args.data))
        except (ValueError, OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot use the benchmark results: {exc}") from None
    else:
        ds, model, history = fit_dataset(args, record_path=args.kind == "path",
                                         one_feature=args.kind)
        if history.status == INTERRUPTED:
            print("interrupted: no plot written", file=sys.stderr)
            return 130
        if args.kind == "loss" and history.n_epochs == 0:
            raise UsageError("the fit ran no epoch (--epochs 0, or it started at the optimum): "
                             "no loss to plot")
        try:
            if args.kind == "loss":
                ax = plot.plot_loss(history)
            elif args.kind == "fit":
                ax = plot.plot_fit(model, ds.X, ds.y)
                ax.set_xlabel(ds.features[0])
                ax.set_ylabel(ds.target)
            else:
                ax = plot.plot_path(history, ds.X, ds.y, loss=loss_from(args), model=model)
        except ValueError as exc:  # the plots' documented error: data they cannot draw
            raise UsageError(f"cannot draw the {args.kind} plot: {exc}") from None
    try:
        plot.save(ax, args.output)
    except OSError as exc:
        raise UsageError(f"cannot write {args.output!r}: {exc.strerror}") from None
    print(f"wrote {args.output}")
    return 0
