"""Multi-layer perceptrons: back-propagation, the three backends, fits, bad input.

The independent references here do not call gdcore: central finite
differences of a NumPy float64 forward pass written in this file, the
linear model (a network [d, 1] must be it), torch.autograd when installed,
and a plain NumPy mini-batch loop with the helpers' own SplitMix64 and
Fisher-Yates.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import gdcore
from gdcore import _dispatch
from gdcore.backends import get_backend
from helpers import fisher_yates, splitmix64

ACTIVATIONS = ["tanh", "relu", "sigmoid", "identity"]
LOSSES = {"mse": gdcore.MSELoss, "mae": gdcore.MAELoss}
BACKENDS = ["cython", "numpy", "python"]


# ------------------------------------------------------- independent reference --

def ref_f(activation, z):
    return {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0.0),
            "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)), "identity": lambda v: v}[activation](z)


def ref_forward(model, X, params=None):
    """The network's output in float64, from the documented layout (W_l (n_in, n_out), b_l)."""
    p = np.asarray(model.params if params is None else params, dtype=np.float64)
    a, k, sizes = np.asarray(X, dtype=np.float64), 0, model.layer_sizes
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        W = p[k:k + n_in * n_out].reshape(n_in, n_out)
        b = p[k + n_in * n_out:k + n_in * n_out + n_out]
        k += n_in * n_out + n_out
        a = a @ W + b
        if l < len(sizes) - 2:
            a = ref_f(model.activation, a)
    return a[:, 0]


def away_from_kinks(model, X, y, margin=0.02):
    """The rows whose hidden pre-activations all stay |z| > margin (relu's kink is at 0)."""
    a, keep = np.asarray(X, dtype=np.float64), np.ones(len(y), dtype=bool)
    for W, b in zip(model.weights[:-1], model.biases[:-1]):
        z = a @ W + b
        keep &= np.all(np.abs(z) > margin, axis=1)
        a = ref_f(model.activation, z)
    assert keep.sum() >= len(y) // 3
    return X[keep], y[keep]


def ref_loss(kind, model, X, y, params=None):
    r = ref_forward(model, X, params) - y
    return float(np.mean(r * r)) if kind == "mse" else float(np.mean(np.abs(r)))


def ref_grad(kind, model, X, y, params=None, h=1e-6):
    """Central differences of ref_loss, parameter by parameter."""
    p = np.array(model.params if params is None else params, dtype=np.float64)
    g = np.empty_like(p)
    for k in range(p.size):
        up, down = p.copy(), p.copy()
        up[k] += h
        down[k] -= h
        g[k] = (ref_loss(kind, model, X, y, up) - ref_loss(kind, model, X, y, down)) / (2 * h)
    return g


def problem(n=40, d=3, seed=0, offset=0.0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.sin(X.sum(axis=1)) + offset
    return X.astype(dtype), y.astype(dtype)


def start(model, backend, kind, X, y, lr, epochs, batch_size, seed=7, record_path=True):
    """A paused fit of plain steps (the FitResult comes from its advance)."""
    trainer = gdcore.Trainer(loss=LOSSES[kind](), lr=lr, epochs=epochs, tol=0.0,
                             batch_size=batch_size, random_state=seed, backend=backend,
                             record_path=record_path)
    return trainer._start(model, X, y)[1]


def path_of(model, backend, kind, X, y, lr, epochs, batch_size, seed=7):
    """(result with history and parameters at each epoch's start, final parameters)."""
    result = start(model, backend, kind, X, y, lr, epochs, batch_size, seed).advance(epochs)
    return result, model.params.astype(np.float64)


def loss_grad(backend, kind, m, X, y):
    """The mean loss and gradient of network m, as the backend's objective computes them."""
    total, g = get_backend(backend).mlp(LOSSES[kind](), X, y, m.layer_sizes,
                                        m.activation).sums(m.params)
    return total / len(y), g / len(y)


# ----------------------------------------------------------- the model itself --

def test_layout_views_and_initialisation():
    m = gdcore.MLP([3, 5, 4, 1], random_state=0)
    assert [W.shape for W in m.weights] == [(3, 5), (5, 4), (4, 1)]
    assert [b.shape for b in m.biases] == [(5,), (4,), (1,)]
    assert m.params.size == 3 * 5 + 5 + 5 * 4 + 4 + 4 + 1
    for W in m.weights:  # views into params: writing one shows in the other
        assert np.shares_memory(W, m.params)
    m.weights[1][2, 3] = 42.0
    assert m.params[3 * 5 + 5 + 2 * 4 + 3] == 42.0
    m.initialize()
    for W, b in zip(m.weights, m.biases):  # Glorot uniform bounds, zero biases
        assert np.all(np.abs(W) <= math.sqrt(6.0 / sum(W.shape)))
        assert np.all(b == 0)
    again = gdcore.MLP([3, 5, 4, 1], random_state=0)
    np.testing.assert_array_equal(again.params, m.params)
    assert not np.array_equal(gdcore.MLP([3, 5, 4, 1], random_state=1).params, m.params)


def test_he_initialisation_for_relu():
    m = gdcore.MLP([200, 300, 1], activation="relu", random_state=0)
    assert np.std(m.weights[0]) == pytest.approx(math.sqrt(2 / 200), rel=0.02)
    assert np.max(np.abs(m.weights[1])) <= math.sqrt(6 / 301)  # the output layer: Glorot


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_predict_matches_reference_forward(activation, backend):
    m = gdcore.MLP([3, 6, 5, 1], activation=activation, random_state=3)
    m.biases[0][:] = np.linspace(-1, 1, 6)
    X, _ = problem(300 if backend != "python" else 30)
    out = get_backend(backend).predict_mlp(X, m.params, m.layer_sizes, m.activation)
    np.testing.assert_allclose(out, ref_forward(m, X), rtol=1e-13, atol=1e-14)
    if backend == "cython":
        np.testing.assert_allclose(m.predict(X), ref_forward(m, X), rtol=1e-13, atol=1e-14)


def test_sigmoid_and_tanh_accurate_over_the_whole_range():
    m = gdcore.MLP([1, 1, 1], activation="tanh")
    m.params = [1.0, 0.0, 1.0, 0.0]  # the network is f(x)
    x = np.concatenate([np.linspace(-800, 800, 20001), np.logspace(-300, 2, 500),
                        -np.logspace(-300, 2, 500), [0.0]])
    np.testing.assert_allclose(m.predict(x), np.tanh(x), rtol=1e-15, atol=0)
    s = gdcore.MLP([1, 1, 1], activation="sigmoid")
    s.params = [1.0, 0.0, 1.0, 0.0]
    x = np.linspace(-700, 700, 20001)
    with np.errstate(over="ignore"):
        expected = 1.0 / (1.0 + np.exp(-x))
    np.testing.assert_allclose(s.predict(x), expected, rtol=1e-14, atol=0)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_float32_activations_accurate(activation):
    m = gdcore.MLP([1, 1, 1], activation=activation, dtype=np.float32)
    m.params = [1.0, 0.0, 1.0, 0.0]
    # (below x = -87 the float32 sigmoid stays at exp(-87), the smallest normal float)
    x = np.concatenate([np.linspace(-80, 80, 20001), np.logspace(-30, 1.9, 500),
                        -np.logspace(-30, 1.9, 500)]).astype(np.float32)
    expected = ref_f(activation, x.astype(np.float64))
    np.testing.assert_allclose(m.predict(x), expected, rtol=4e-7, atol=0)


# -------------------------------------------------------------- gradients --

@pytest.mark.parametrize("loss", ["mse", "mae"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradient_check_below_1e6(activation, loss):
    m = gdcore.MLP([3, 7, 5, 1], activation=activation, random_state=1)
    for b in m.biases:  # relu: no pre-activation exactly at the kink 0
        b[:] = 0.1
    X, y = problem(60, offset=3.0 if loss == "mae" else 0.0)  # MAE: residuals away from 0
    X, y = away_from_kinks(m, X, y)
    err = gdcore.gradient_check(m, LOSSES[loss](), X, y)
    print(f"gradient check {activation} {loss}: {err:.2e}")
    assert err < 1e-6, (activation, loss, err)


@pytest.mark.parametrize("loss", ["mse", "mae"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_backprop_equals_reference_differences(backend, activation, loss):
    m = gdcore.MLP([3, 4, 3, 1], activation=activation, random_state=2)
    for b in m.biases:
        b[:] = 0.1
    X, y = away_from_kinks(m, *problem(25, offset=3.0 if loss == "mae" else 0.0))
    value, g = loss_grad(backend, loss, m, X, y)
    assert value == pytest.approx(ref_loss(loss, m, X, y), rel=1e-13)
    np.testing.assert_allclose(g, ref_grad(loss, m, X, y), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("variant", _dispatch.available("_pass_mlp"))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_isa_variant_gives_the_reference_sums(variant, dtype, activation):
    """Over 600 rows (two whole blocks of the pass and part of a third) each build's
    sums equal the NumPy backend's, and its loss alone (no backward pass) is that loss."""
    m = gdcore.MLP([5, 16, 9, 1], activation=activation, dtype=dtype, random_state=3)
    X, y = problem(600, d=5, dtype=dtype)
    objective = _dispatch.load("_pass_mlp", variant).MLPObjective(
        "mse", 0.0, X, y, m.layer_sizes, activation)
    total, g = objective.sums(m.params)
    ref_total, ref_g = get_backend("numpy").mlp(gdcore.MSELoss(), X, y, m.layer_sizes,
                                                activation).sums(m.params)
    rtol = 1e-12 if dtype == np.float64 else 1e-4
    assert total == pytest.approx(ref_total, rel=rtol)
    np.testing.assert_allclose(g, ref_g, rtol=rtol, atol=rtol * np.abs(ref_g).max())
    assert objective.loss_sum(m.params) == total


@pytest.mark.parametrize("backend", BACKENDS)
def test_loss_gradient_layer_by_layer(backend):
    m = gdcore.MLP([3, 4, 1], random_state=0)
    X, y = problem(20)
    gW, gb = gdcore.MSELoss().gradient(m, X, y, backend=backend)
    assert [g.shape for g in gW] == [W.shape for W in m.weights]
    assert [g.shape for g in gb] == [b.shape for b in m.biases]
    flat = np.concatenate([part.ravel() for pair in zip(gW, gb) for part in pair])
    np.testing.assert_allclose(flat, ref_grad("mse", m, X, y), rtol=1e-6, atol=1e-9)


def test_gradient_check_catches_a_wrong_gradient(monkeypatch):
    m = gdcore.MLP([2, 4, 1], random_state=0)
    X, y = problem(20, d=2)
    assert gdcore.gradient_check(m, gdcore.MSELoss(), X, y) < 1e-6
    backend = get_backend("cython")
    right = type(backend).mlp

    class Wrong:
        def __init__(self, objective):
            self.objective = objective

        def sums(self, params):
            total, g = self.objective.sums(params)
            g = g.copy()
            g[3] *= 1.01
            return total, g

    monkeypatch.setattr(type(backend), "mlp", lambda self, *args: Wrong(right(self, *args)))
    assert gdcore.gradient_check(m, gdcore.MSELoss(), X, y) > 5e-3


def test_gradient_check_linear_model_and_model_untouched():
    X, y = problem(30, d=2)
    lin = gdcore.LinearModel(2)
    lin.w, lin.b = [0.3, -0.2], 0.1
    assert gdcore.gradient_check(lin, gdcore.MSELoss(), X, y) < 1e-7
    m = gdcore.MLP([2, 3, 1], dtype=np.float32, random_state=0)
    before = m.params.copy()
    assert gdcore.gradient_check(m, gdcore.MSELoss(), X, y) < 1e-6  # checked in float64
    np.testing.assert_array_equal(m.params, before)
    with pytest.raises(TypeError, match="model"):
        gdcore.gradient_check(object(), gdcore.MSELoss(), X, y)
    with pytest.raises(TypeError, match="loss"):
        gdcore.gradient_check(m, "mse", X, y)


@pytest.mark.parametrize("loss", ["mse", "mae"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradients_equal_torch_autograd(activation, loss):
    torch = pytest.importorskip("torch")
    m = gdcore.MLP([4, 6, 5, 1], activation=activation, random_state=4)
    m.biases[0][:] = np.linspace(-0.3, 0.3, 6)
    X, y = problem(50, d=4, offset=3.0 if loss == "mae" else 0.0)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    Ws = [torch.tensor(W, requires_grad=True) for W in m.weights]
    bs = [torch.tensor(b, requires_grad=True) for b in m.biases]
    act = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid,
           "identity": lambda v: v}[activation]
    a = Xt
    for l, (W, b) in enumerate(zip(Ws, bs)):
        a = a @ W + b
        if l < len(Ws) - 1:
            a = act(a)
    r = a[:, 0] - yt
    value = (r * r).mean() if loss == "mse" else r.abs().mean()
    value.backward()
    value = float(value.detach())
    expected = np.concatenate([t.grad.numpy().ravel() for pair in zip(Ws, bs) for t in pair])
    for backend in BACKENDS:
        got_loss, g = loss_grad(backend, loss, m, X, y)
        assert got_loss == pytest.approx(value, rel=1e-13), backend
        np.testing.assert_allclose(g, expected, rtol=1e-11, atol=1e-14, err_msg=backend)


# ------------------------------------------------------------------- fits --

@pytest.mark.parametrize("kind", ["mse", "mae"])
@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
@pytest.mark.parametrize("batch_size", [None, 8, 11])
def test_three_backends_agree_step_by_step(kind, activation, batch_size):
    X, y = problem(30)
    runs = {}
    for backend in BACKENDS:
        m = gdcore.MLP([3, 5, 4, 1], activation=activation, random_state=5)
        runs[backend] = path_of(m, backend, kind, X, y, 0.05, 6, batch_size)
    base, p_base = runs["cython"]
    assert base.n_epochs == 6 and base.path.shape == (6, p_base.size)
    assert not np.allclose(base.path[0], p_base)  # the parameters moved
    for backend in ("numpy", "python"):
        result, p = runs[backend]
        np.testing.assert_allclose(result.loss, base.loss, rtol=1e-11, err_msg=backend)
        np.testing.assert_allclose(result.path, base.path, rtol=1e-11, atol=1e-13,
                                   err_msg=backend)
        np.testing.assert_allclose(p, p_base, rtol=1e-11, atol=1e-13, err_msg=backend)
        assert result.final_loss == pytest.approx(base.final_loss, rel=1e-11)
        assert result.grad_norm == pytest.approx(base.grad_norm, rel=1e-9)


@pytest.mark.parametrize("batch_size", [None, 7])
def test_fit_matches_independent_numpy_loop(batch_size):
    """SGD written out here: shuffle with the helpers' SplitMix64, step on each batch."""
    X, y = problem(30)
    m = gdcore.MLP([3, 4, 1], random_state=6)
    p = m.params.astype(np.float64).copy()
    lr, epochs, seed = 0.1, 4, 99
    hist = gdcore.Trainer(lr=lr, epochs=epochs, tol=0.0, batch_size=batch_size,
                          random_state=seed).fit(m, X, y)
    stream, order, losses = splitmix64(seed), list(range(30)), []
    for _ in range(epochs):
        if batch_size is None:
            losses.append(ref_loss("mse", m, X, y, p))
            p = p - lr * ref_grad("mse", m, X, y, p)
            continue
        fisher_yates(order, stream)
        total = 0.0
        for lo in range(0, 30, batch_size):
            rows = order[lo:lo + batch_size]
            total += len(rows) * ref_loss("mse", m, X[rows], y[rows], p)
            p = p - lr * ref_grad("mse", m, X[rows], y[rows], p)
        losses.append(total / 30)
    np.testing.assert_allclose(hist.loss, losses, rtol=1e-9)
    np.testing.assert_allclose(m.params, p, rtol=1e-7, atol=1e-9)


def test_float32_backends_agree():
    X, y = problem(40, dtype=np.float32)
    runs = {}
    for backend in BACKENDS:
        m = gdcore.MLP([3, 5, 1], dtype=np.float32, random_state=5)
        runs[backend] = path_of(m, backend, "mse", X, y, 0.05, 5, 8)
        assert m.params.dtype == np.float32
    for backend in ("numpy", "python"):
        np.testing.assert_allclose(runs[backend][0].loss, runs["cython"][0].loss, rtol=1e-5)
        np.testing.assert_allclose(runs[backend][1], runs["cython"][1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["mse", "mae"])
@pytest.mark.parametrize("batch_size", [None, 9])
@pytest.mark.parametrize("backend", BACKENDS)
def test_no_hidden_layer_is_the_linear_model(backend, kind, batch_size):
    X, y = problem(45, d=4)
    trainer = gdcore.Trainer(loss=LOSSES[kind](), lr=0.05, epochs=8, tol=0.0,
                             batch_size=batch_size, random_state=3, backend=backend)
    lin = gdcore.LinearModel(4)
    net = gdcore.MLP([4, 1], activation="identity")
    net.params = np.zeros(5)  # the linear model starts at zero
    h_lin, h_net = trainer.fit(lin, X, y), trainer.fit(net, X, y)
    np.testing.assert_allclose(h_net.loss, h_lin.loss, rtol=1e-12)
    np.testing.assert_allclose(net.weights[0][:, 0], lin.w, rtol=1e-12, atol=1e-14)
    assert net.biases[0][0] == pytest.approx(lin.b, rel=1e-12, abs=1e-14)
    assert h_net.grad_norm == pytest.approx(h_lin.grad_norm, rel=1e-10)
    # paths, epoch by epoch
    r_lin = start(lin, backend, kind, X, y, 0.05, 5, batch_size, 3).advance(5)
    r_net = start(net, backend, kind, X, y, 0.05, 5, batch_size, 3).advance(5)
    np.testing.assert_allclose(r_net.path, r_lin.path, rtol=1e-12, atol=1e-14)


def test_auto_lr_of_a_network_without_hidden_layer_is_the_linear_one():
    X, y = problem(200, d=3)
    for batch_size in (None, 16):
        t = gdcore.Trainer(optimizer="gd", precondition=None, batch_size=batch_size)
        assert t.learning_rate(gdcore.MLP([3, 1]), X) == pytest.approx(
            t.learning_rate(gdcore.LinearModel(3), X), rel=1e-12)
    # with a hidden layer, the hidden layer's curvature adds to the input's
    gd = gdcore.Trainer(optimizer="gd", precondition=None)
    assert (gd.learning_rate(gdcore.MLP([3, 16, 1], random_state=0), X)
            < gd.learning_rate(gdcore.LinearModel(3), X))


def test_network_learns_sine():
    x = np.linspace(-math.pi, math.pi, 200)
    m = gdcore.MLP([1, 32, 1], activation="tanh", random_state=0)
    hist = gdcore.Trainer(lr=0.05, epochs=3000, tol=0.0, batch_size=32,
                          random_state=0).fit(m, x, np.sin(x))
    mse = float(np.mean((m.predict(x) - np.sin(x)) ** 2))
    assert mse < 1e-3
    assert mse == pytest.approx(hist.final_loss, rel=1e-9)
    assert hist.loss[0] > 100 * mse  # it learned


def test_auto_lr_fits_and_full_batch_loss_falls():
    x = np.linspace(-math.pi, math.pi, 100)
    m = gdcore.MLP([1, 16, 1], random_state=0)
    hist = gdcore.Trainer(optimizer="gd", epochs=300, tol=0.0).fit(m, x, np.sin(x))
    assert hist.status == "max_epochs"
    assert np.all(np.diff(hist.loss) <= 0)  # a safe step: the loss falls every epoch
    assert hist.final_loss < 0.2 * hist.loss[0]


def test_chunks_resume_exactly():
    X, y = problem(50)
    whole = gdcore.MLP([3, 6, 1], random_state=0)
    res_whole = start(whole, "cython", "mse", X, y, 0.05, 20, 8, 1, False).advance(20)
    parts = gdcore.MLP([3, 6, 1], random_state=0)
    run = start(parts, "cython", "mse", X, y, 0.05, 20, 8, 1, False)
    assert run.advance(7) is None and run.advance(6) is None
    res = run.advance(100)
    np.testing.assert_array_equal(res.loss, res_whole.loss)
    np.testing.assert_array_equal(parts.params, whole.params)


@pytest.mark.parametrize("backend", BACKENDS)
def test_tol_stops_before_any_update(backend):
    X, y = problem(20)
    m = gdcore.MLP([3, 4, 1], random_state=0)
    before = m.params.copy()
    hist = gdcore.Trainer(lr=0.1, epochs=50, tol=1e6, backend=backend).fit(m, X, y)
    assert hist.converged and hist.n_epochs == 0
    np.testing.assert_array_equal(m.params, before)
    hist = gdcore.Trainer(lr=0.1, epochs=5, tol=0.0, backend=backend).fit(m, X, y)
    assert hist.status == "max_epochs" and not hist.converged and hist.n_epochs == 5


@pytest.mark.parametrize("batch_size", [None, 10])
@pytest.mark.parametrize("backend", BACKENDS)
def test_divergence_restores_last_good_parameters(backend, batch_size):
    X, y = problem(40)
    X = X * 100
    m = gdcore.MLP([3, 8, 1], activation="relu", random_state=0)
    with pytest.raises(gdcore.DivergenceError) as info:
        gdcore.Trainer(lr=10.0, epochs=100, tol=0.0, batch_size=batch_size,
                       backend=backend).fit(m, X, y)
    assert "lr=10" in str(info.value)
    assert np.all(np.isfinite(m.params))
    assert info.value.history.status == "diverged"
    assert math.isfinite(info.value.history.final_loss)


# -------------------------------------------------------------- bad input --

@pytest.mark.parametrize("sizes", [[3], [], [3, 0, 1], [3, 4, 2], [3, 2.5, 1], [True, 1], "31", 5])
def test_bad_layer_sizes(sizes):
    with pytest.raises(ValueError, match="layer"):
        gdcore.MLP(sizes)


def test_bad_model_arguments():
    with pytest.raises(ValueError, match="activation"):
        gdcore.MLP([2, 1], activation="softmax")
    with pytest.raises(TypeError, match="dtype"):
        gdcore.MLP([2, 1], dtype=np.int32)
    with pytest.raises(ValueError, match="random_state"):
        gdcore.MLP([2, 1], random_state=-1)
    m = gdcore.MLP([2, 3, 1])
    with pytest.raises(ValueError, match="params"):
        m.params = np.zeros(3)
    with pytest.raises(ValueError, match="finite"):
        m.params = np.full(m.params.size, np.nan)


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_data_rejected_before_any_work(backend):
    m = gdcore.MLP([3, 4, 1], random_state=0)
    before = m.params.copy()
    t = gdcore.Trainer(lr=0.1, epochs=3, backend=backend)
    X, y = problem(10)
    bad_X = X.copy()
    bad_X[2, 1] = np.nan
    cases = [
        (bad_X, y, ValueError, "X contains NaN"),
        (X, np.where(np.arange(10) == 3, np.inf, y), ValueError, "y contains NaN"),
        (X[:, :2], y, ValueError, "features"),
        (X, y[:9], ValueError, "different lengths"),
        (X[:0], y[:0], ValueError, "empty"),
        (X[None], y, ValueError, "1-D or 2-D"),
        (X, y[:, None], ValueError, "y must be 1-D"),
        (X.astype(complex), y, TypeError, "complex"),
        (np.array([["a"] * 3] * 10), y, TypeError, "numeric"),
    ]
    for Xb, yb, exc, match in cases:
        with pytest.raises(exc, match=match):
            t.fit(m, Xb, yb)
    with pytest.raises(ValueError, match="batch_size"):
        gdcore.Trainer(batch_size=11, backend=backend).fit(m, X, y)
    with pytest.raises(ValueError, match="features"):
        m.predict(X[:, :2])
    np.testing.assert_array_equal(m.params, before)


def test_inputs_not_modified_and_used_in_place():
    X, y = problem(30)
    X_copy, y_copy = X.copy(), y.copy()
    m = gdcore.MLP([3, 4, 1], random_state=0)
    gdcore.Trainer(lr=0.1, epochs=5, batch_size=4, random_state=0).fit(m, X, y)
    gdcore.Trainer(lr=0.1, epochs=5).fit(m, X, y)
    m.predict(X)
    gdcore.gradient_check(m, gdcore.MSELoss(), X, y)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y, y_copy)
    # lists, ints and non-contiguous arrays are accepted and give the same fit
    a = gdcore.MLP([3, 4, 1], random_state=0)
    b = gdcore.MLP([3, 4, 1], random_state=0)
    Xf = np.asfortranarray(X)
    gdcore.Trainer(lr=0.1, epochs=3).fit(a, Xf, y.tolist())
    gdcore.Trainer(lr=0.1, epochs=3).fit(b, X, y)
    np.testing.assert_array_equal(a.params, b.params)


def test_demo_prints_falling_loss(capsys):
    from gdcore.cli import main
    assert main(["demo", "--mlp"]) == 0
    out = capsys.readouterr().out
    losses = [float(line.split()[1]) for line in out.splitlines()
              if line.strip() and line.split()[0].isdigit() and len(line.split()) == 2]
    assert len(losses) > 8 and losses[-1] < losses[0] / 50
    final = float(out.split("final MSE ")[1].split()[0])
    assert final < 1e-3


def test_kernel_rejects_inconsistent_shapes_instead_of_crashing():
    from gdcore import _pass_mlp
    X, y = problem(10)
    sizes = np.array([3, 4, 1], dtype=np.intp)
    params = np.zeros(21)
    out = np.empty(10)
    _pass_mlp.predict(X, params, sizes, "tanh", out)  # consistent: fine
    for bad_sizes, bad_params in [([3, 4, 2], params), ([2, 4, 1], params), ([3, 0, 1], params),
                                  ([3, 4, 1], np.zeros(20)), ([3], params)]:
        with pytest.raises(ValueError):
            _pass_mlp.predict(X, bad_params, np.array(bad_sizes, dtype=np.intp), "tanh", out)
        with pytest.raises(ValueError):
            _pass_mlp.MLPObjective("mse", 0.0, X, y, bad_sizes, "tanh").sums(bad_params)
    with pytest.raises(ValueError):
        _pass_mlp.MLPObjective("mse", 0.0, X, y[:5], sizes, "tanh")
    with pytest.raises(ValueError):
        _pass_mlp.MLPObjective("mse", 0.0, X, y, sizes, "softmax")
    with pytest.raises(ValueError):
        _pass_mlp.predict(X, params, sizes, "tanh", np.empty(9))


@pytest.mark.parametrize("backend", BACKENDS)
def test_run_finish_reports_loss_and_gradient_at_current_parameters(backend):
    X, y = problem(20)
    m = gdcore.MLP([3, 4, 1], random_state=0)
    run = start(m, backend, "mse", X, y, 0.05, 100, 5, 1, False)
    assert run.advance(3) is None
    result = run.finish()
    assert result.status == "stopped" and result.n_epochs == 3
    assert result.final_loss == pytest.approx(ref_loss("mse", m, X, y), rel=1e-12)
    assert result.grad_norm == pytest.approx(np.linalg.norm(ref_grad("mse", m, X, y)), rel=1e-6)
