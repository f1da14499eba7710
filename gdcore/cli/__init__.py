"""The ``gdcore`` command line.

Sub-commands: ``demo`` (the tutorial's worked example), ``fit`` (a CSV to a
saved model), ``predict`` (a saved model and a CSV to predictions), ``plot``
(PNG plots of a fit or of benchmark results), ``bench`` (gdcore against the
tools users compare it with). Each is one entry of ``COMMANDS``: a name, a
one-line help, a function adding its arguments and a function running it.

Mistakes in what the user typed or gave print one line on stderr and exit
with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from dataclasses import dataclass
from typing import Callable, List, NoReturn, Optional, Sequence

from .commands import (add_bench, add_demo, add_fit, add_plot, add_predict, run_bench,
                       run_demo, run_fit, run_plot, run_predict)
from .inputs import UsageError


class Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (and exit status 2, as argparse does)."""

    def error(self, message: str) -> NoReturn:
        message = message.replace("\r", "\\r").replace("\n", "\\n")  # an argument may hold one
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


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
    """Run the command line; returns the exit status (it never raises SystemExit).

    Warnings are shown after a command that succeeds, one line each; on an
    error, the error's one line is all there is on stderr.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a mistake argparse reported (2)
        return exc.code if isinstance(exc.code, int) else 2
    if args.command is None:
        parser.print_help()
        return 2
    args.argv = argv  # for bench, which re-runs itself with pinned threads
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            status = int(args.run(args))
            sys.stdout.flush()
        except UsageError as exc:
            print(f"gdcore {args.command}: error: {' '.join(str(exc).split())}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:  # Ctrl-C outside a fit (a fit stops cleanly by itself)
            print(f"gdcore {args.command}: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # the reader of stdout went away: `gdcore predict ... | head`
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
            return 128 + 13  # as a program killed by SIGPIPE
    for message in dict.fromkeys(str(w.message) for w in caught):
        print(f"gdcore {args.command}: warning: {' '.join(message.split())}", file=sys.stderr)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
