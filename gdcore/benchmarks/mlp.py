"""Neural-network comparison of ``gdcore bench --mlp``: gdcore's MLP kernel against
scikit-learn's MLPRegressor and PyTorch, time per training epoch.

N = 10,000 rows, networks [10, 32, 32, 1] and [20, 64, 1] (tanh hidden layers,
linear output, MSE, plain SGD with a constant step, no momentum, no weight
decay), mini-batches of 32 rows and full batch, one thread:

* ``gdcore``: ``Trainer(lr, epochs, tol=0, batch_size).fit(MLP(...))`` (timed:
  the whole fit, including validation and the final loss pass, / epochs);
* ``sklearn``: ``MLPRegressor(solver="sgd", momentum=0, alpha=0,
  learning_rate="constant", batch_size, max_iter=epochs, tol=0)``;
* ``torch``: ``torch.nn.Sequential`` of ``Linear``/``Tanh`` with
  ``torch.optim.SGD`` and ``torch.nn.MSELoss``, the hand-written loop
  (``randperm``, index a batch, zero_grad, forward, backward, step).

Then the Adam race (``adam_race``): [10, 64, 64, 1] relu, Adam with lr 1e-3,
batches of 64, 50,000 rows, one thread, time per epoch and the loss of each
epoch. torch starts from gdcore's initial weights (He for relu), so the two
loss curves are the same computation; sklearn draws its own (Glorot).

scikit-learn and PyTorch are optional: their rows are left out when missing.
bench/test_mlp.py runs the same fits under pytest-benchmark.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Dict, List, Optional

import numpy as np

import gdcore

from . import environment

N = 10_000
NETWORKS = {"10-32-32-1": [10, 32, 32, 1], "20-64-1": [20, 64, 1]}
BATCHES = {"batch32": 32, "full": None}
LR = {"batch32": 0.01, "full": 0.1}
#: Epochs per timed fit: enough that per-fit overhead is small.
EPOCHS = {("gdcore", "batch32"): 5, ("gdcore", "full"): 50, ("sklearn", "batch32"): 2,
          ("sklearn", "full"): 30, ("torch", "batch32"): 2, ("torch", "full"): 30}
IMPLEMENTATIONS = ["gdcore", "gdcore-f32", "sklearn", "torch", "torch-f32"]


def make_data(d: int, dtype=np.float64):
    rng = np.random.default_rng([7, d])
    X = rng.standard_normal((N, d))
    y = np.tanh(X @ rng.uniform(-1, 1, size=d) / np.sqrt(d)) + 0.1 * rng.standard_normal(N)
    return X.astype(dtype), y.astype(dtype)


# ------------------------------------------------------------ one timed fit each --

def gdcore_fit(sizes, X, y, lr, epochs, batch_size, dtype=np.float64):
    model = gdcore.MLP(sizes, dtype=dtype, random_state=0)
    Xc, yc = X.astype(dtype), y.astype(dtype)
    trainer = gdcore.Trainer(lr=lr, epochs=epochs, tol=0.0, batch_size=batch_size,
                             random_state=0)
    start = time.perf_counter()
    history = trainer.fit(model, Xc, yc)
    return time.perf_counter() - start, float(history.loss[-1])


def sklearn_fit(sizes, X, y, lr, epochs, batch_size):
    from sklearn.neural_network import MLPRegressor
    model = MLPRegressor(hidden_layer_sizes=tuple(sizes[1:-1]), activation="tanh",
                         solver="sgd", alpha=0.0, batch_size=batch_size or len(y),
                         learning_rate="constant", learning_rate_init=lr, momentum=0.0,
                         nesterovs_momentum=False, max_iter=epochs, tol=0.0,
                         n_iter_no_change=10**9, shuffle=True, random_state=0)
    seconds, losses = _sklearn_timed(model, X, y)
    return seconds, float(losses[-1])


def _sklearn_timed(model: Any, X: np.ndarray, y: np.ndarray) -> "tuple[float, np.ndarray]":
    """Seconds of ``model.fit`` (its epoch limit is the point, not a warning) and the
    MSE of each epoch (sklearn reports MSE / 2)."""
    from sklearn.exceptions import ConvergenceWarning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
    return seconds, 2 * np.array(model.loss_curve_)


def torch_fit(sizes, X, y, lr, epochs, batch_size, dtype="float64"):
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(0)
    tdtype = getattr(torch, dtype)
    Xt, yt = torch.tensor(X, dtype=tdtype), torch.tensor(y, dtype=tdtype)[:, None]
    layers: List[Any] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(n_in, n_out, dtype=tdtype))
        if i < len(sizes) - 2:
            layers.append(torch.nn.Tanh())
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    loss_fn = torch.nn.MSELoss()
    n, bs = len(y), batch_size or len(y)
    start = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n)
        for lo in range(0, n, bs):
            idx = perm[lo:lo + bs]
            opt.zero_grad()
            loss = loss_fn(net(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    return time.perf_counter() - start, float(loss.detach())


def run_one(impl: str, net: str, batch: str):
    """(seconds per epoch, last loss) of one fit of ``impl``."""
    sizes = NETWORKS[net]
    X, y = make_data(sizes[0])
    base = impl.split("-")[0]
    epochs = EPOCHS[(base, batch)]
    args = (sizes, X, y, LR[batch], epochs, BATCHES[batch])
    if impl == "gdcore":
        seconds, loss = gdcore_fit(*args)
    elif impl == "gdcore-f32":
        seconds, loss = gdcore_fit(*args, dtype=np.float32)
    elif impl == "sklearn":
        seconds, loss = sklearn_fit(*args)
    elif impl == "torch":
        seconds, loss = torch_fit(*args)
    else:
        seconds, loss = torch_fit(*args, dtype="float32")
    return seconds / epochs, loss


def available(impl: str) -> bool:
    module = {"sklearn": "sklearn", "torch": "torch"}.get(impl.split("-")[0])
    if module is None:
        return True
    try:
        __import__(module)
    except ImportError:
        return False
    return True


# ------------------------------------------------------------------ the table --

def compare(repeats: int = 5, impls=None):
    """{(net, batch): {impl: median seconds per epoch}}, interleaved repeats after a warm-up."""
    impls = [i for i in (impls or IMPLEMENTATIONS) if available(i)]
    table = {}
    for net in NETWORKS:
        for batch in BATCHES:
            times: Dict[str, List[float]] = {impl: [] for impl in impls}
            for impl in impls:
                run_one(impl, net, batch)  # warm-up
            for _ in range(repeats):
                for impl in impls:
                    times[impl].append(run_one(impl, net, batch)[0])
            table[(net, batch)] = {impl: float(np.median(t)) for impl, t in times.items()}
    return table


def format_table(table) -> str:
    impls = list(next(iter(table.values())))
    head = ("| network | batch | " + " | ".join(f"{i} ms/epoch" for i in impls)
            + " | sklearn / gdcore | torch / gdcore | torch-f32 / gdcore-f32 |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for (net, batch), row in table.items():
        def ratio(a, b):
            return f"{row[a] / row[b]:.1f}x" if a in row and b in row else "-"
        lines.append(f"| [{net.replace('-', ', ')}] | {batch} | "
                     + " | ".join(f"{row[i] * 1e3:.2f}" for i in impls)
                     + f" | {ratio('sklearn', 'gdcore')} | {ratio('torch', 'gdcore')} | "
                     + f"{ratio('torch-f32', 'gdcore-f32')} |")
    return "\n".join(lines)


# ------------------------------------------------------------------ the Adam race --

ADAM_SIZES = [10, 64, 64, 1]
ADAM_ROWS, ADAM_BATCH, ADAM_LR = 50_000, 64, 1e-3


def adam_data(n: int = ADAM_ROWS) -> "tuple[np.ndarray, np.ndarray]":
    rng = np.random.default_rng(11)
    X = rng.standard_normal((n, ADAM_SIZES[0]))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] * X[:, 2] + 0.1 * rng.standard_normal(n)
    return X, y


def adam_gdcore(X: np.ndarray, y: np.ndarray, epochs: int) -> "tuple[float, np.ndarray]":
    net = gdcore.MLP(ADAM_SIZES, activation="relu", random_state=0)
    trainer = gdcore.Trainer(optimizer=gdcore.optim.Adam(lr=ADAM_LR), batch_size=ADAM_BATCH,
                             epochs=epochs, tol=0.0, random_state=0)
    start = time.perf_counter()
    history = trainer.fit(net, X, y)
    return time.perf_counter() - start, history.loss


def adam_torch(X: np.ndarray, y: np.ndarray, epochs: int) -> "tuple[float, np.ndarray]":
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(0)
    start_net = gdcore.MLP(ADAM_SIZES, activation="relu", random_state=0)
    layers: List[Any] = []
    for k, (W, b) in enumerate(zip(start_net.weights, start_net.biases)):
        linear = torch.nn.Linear(W.shape[0], W.shape[1], dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            linear.bias.copy_(torch.from_numpy(np.array(b)))
        layers.append(linear)
        if k < len(start_net.weights) - 1:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(net.parameters(), lr=ADAM_LR)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)[:, None]
    n, losses = len(y), []
    start = time.perf_counter()
    for _ in range(epochs):
        perm, total = torch.randperm(n), 0.0
        for lo in range(0, n, ADAM_BATCH):
            idx = perm[lo:lo + ADAM_BATCH]
            opt.zero_grad()
            loss = torch.mean((net(Xt[idx]) - yt[idx]) ** 2)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / n)
    return time.perf_counter() - start, np.array(losses)


def adam_sklearn(X: np.ndarray, y: np.ndarray, epochs: int) -> "tuple[float, np.ndarray]":
    from sklearn.neural_network import MLPRegressor
    model = MLPRegressor(hidden_layer_sizes=tuple(ADAM_SIZES[1:-1]), activation="relu",
                         solver="adam", alpha=0.0, batch_size=ADAM_BATCH,
                         learning_rate_init=ADAM_LR, max_iter=epochs, tol=0.0,
                         n_iter_no_change=10**9, shuffle=True, random_state=0)
    return _sklearn_timed(model, X, y)


ADAM_FITS = {"gdcore": adam_gdcore, "sklearn": adam_sklearn, "torch": adam_torch}


def adam_race(repeats: int = 3, epochs: int = 4, n: int = ADAM_ROWS) -> Dict[str, Any]:
    """{impl: (seconds per epoch, seconds of the whole fit, loss per epoch)}, medians of
    interleaved repeats. An epoch's cost is the difference between a fit of ``epochs``
    epochs and a fit of one, over ``epochs - 1``: what each more epoch costs, without
    what a fit does once (gdcore: the loss at the start, the loss and gradient at the
    end; sklearn: validation and initialisation), which the whole fit's time shows."""
    if epochs < 2:
        raise ValueError("epochs must be at least 2: an epoch's cost is a difference")
    X, y = adam_data(n)
    impls = [i for i in ADAM_FITS if available(i)]
    per_epoch: Dict[str, List[float]] = {i: [] for i in impls}
    whole: Dict[str, List[float]] = {i: [] for i in impls}
    curves: Dict[str, np.ndarray] = {}
    for _ in range(repeats):
        for impl in impls:
            one, _ = ADAM_FITS[impl](X, y, 1)
            seconds, curves[impl] = ADAM_FITS[impl](X, y, epochs)
            per_epoch[impl].append((seconds - one) / (epochs - 1))
            whole[impl].append(seconds)
    return {impl: (float(np.median(per_epoch[impl])), float(np.median(whole[impl])), curves[impl])
            for impl in impls}


def format_adam(race: Dict[str, Any]) -> str:
    epochs = len(next(iter(race.values()))[2])
    lines = [f"| implementation | ms/epoch | / gdcore | fit of {epochs} epochs, ms | "
             "loss of each epoch |", "|---|---|---|---|---|"]
    for impl, (seconds, whole, curve) in race.items():
        ratio = f"{seconds / race['gdcore'][0]:.1f}x" if "gdcore" in race else "-"
        lines.append(f"| {impl} | {seconds * 1e3:.1f} | {ratio} | {whole * 1e3:.0f} | "
                     + ", ".join(f"{v:.4f}" for v in curve) + " |")
    return "\n".join(lines)


def main(json_path: Optional[str] = None, repeats: int = 3) -> int:
    """Print the side-by-side table (and save the medians as JSON)."""
    import json
    env = environment()
    print(f"gdcore bench --mlp: CPU {env['cpu']}; numpy {env['numpy']}, scikit-learn "
          f"{env['sklearn']}, torch {env['torch']}")
    table = compare(repeats)
    print(f"N = {N}, one thread, median of {repeats} interleaved repeats, tanh, MSE, SGD")
    print(format_table(table))
    race = adam_race(repeats)
    print(f"\n{ADAM_ROWS:,} rows, [{', '.join(map(str, ADAM_SIZES))}] relu, Adam lr "
          f"{ADAM_LR:g}, batch {ADAM_BATCH}, one thread, median of {repeats} (torch from "
          "gdcore's initial weights); ms/epoch = (fit of E epochs - fit of 1) / (E - 1)")
    print(format_adam(race))
    if json_path:
        with open(json_path, "w") as fh:
            json.dump({"environment": env,
                       "results": {f"{k[0]}/{k[1]}": v for k, v in table.items()},
                       "adam": {k: {"seconds_per_epoch": v[0], "seconds_of_fit": v[1],
                                    "loss": v[2].tolist()}
                                for k, v in race.items()}}, fh, indent=2)
        print(f"wrote {json_path}")
    return 0
