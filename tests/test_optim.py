"""Optimizers and schedules: the compiled step is the reference step, and both are torch's.

* ``_loop.optimizer_step`` (src/_optim.pxd) against ``Optimizer.update`` (NumPy), bit for
  bit, float64 and float32, every setting;
* 1,000 steps of each optimizer on a quadratic against torch.optim's trajectory, to
  1e-12 relative (when torch is installed);
* the schedules, compiled against the references and against torch.optim.lr_scheduler.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gdcore import _dispatch, _loop, optim

SETTINGS = [
    optim.SGD(lr=0.1),
    optim.SGD(lr=0.05, momentum=0.9),
    optim.SGD(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01),
    optim.SGD(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1),
    optim.Adam(lr=0.01),
    optim.Adam(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05),
    optim.Adam(lr=0.02, amsgrad=True),
    optim.Adam(lr=0.02, betas=(0.3, 0.9)),  # beta1 < 0.5: the other branch of lerp
    optim.AdamW(lr=0.01),
    optim.AdamW(lr=0.01, weight_decay=0.1, amsgrad=True),
    optim.RMSprop(lr=0.01),
    optim.RMSprop(lr=0.01, alpha=0.9, centered=True),
    optim.RMSprop(lr=0.005, momentum=0.9, weight_decay=0.01),
    optim.RMSprop(lr=0.005, momentum=0.5, centered=True),
    optim.Adagrad(lr=0.1),
    optim.Adagrad(lr=0.1, lr_decay=0.01, weight_decay=0.02, initial_accumulator_value=0.5),
    optim.Accelerated(lr=0.1),
    optim.Accelerated(lr=0.1, restart=False),
]
IDS = [repr(s) for s in SETTINGS]


def quadratic(n=7, seed=0):
    """f(p) = 0.5 p^T A p - c^T p with A well but not trivially conditioned."""
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    A = Q @ np.diag(np.linspace(0.5, 5.0, n)) @ Q.T
    return A, rng.standard_normal(n)


@pytest.mark.parametrize("variant", _dispatch.available("_loop"))
@pytest.mark.parametrize("opt", SETTINGS, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compiled_step_is_the_reference_step_bit_for_bit(opt, dtype, variant):
    """Every ISA build of the loop: 37 parameters fill vectors of every width and
    leave a remainder."""
    step = _dispatch.load("_loop", variant).optimizer_step
    A, c = quadratic(37)
    x_ref = np.linspace(-1, 1, 37).astype(dtype)
    x_cmp = x_ref.copy()
    s_ref = opt.new_state(37)
    s_cmp = opt.new_state(37).array
    for t in range(200):
        g = A @ x_ref.astype(np.float64) - c + (0.0 if t % 7 else 1e-3)  # some uphill noise
        opt.update(x_ref, g, s_ref, 0.1 if opt.lr == "auto" else opt.lr)
        step(opt.settings(0.1 if opt.lr == "auto" else opt.lr), x_cmp, g,
             s_cmp, len(opt.slots), 0.1 if opt.lr == "auto" else opt.lr)
        np.testing.assert_array_equal(x_cmp, x_ref)
        np.testing.assert_array_equal(s_cmp, s_ref.array)


def _torch_optimizer(torch, opt, params):
    if isinstance(opt, optim.AdamW):
        return torch.optim.AdamW(params, lr=opt.lr, betas=opt.betas, eps=opt.eps,
                                 weight_decay=opt.weight_decay, amsgrad=opt.amsgrad,
                                 foreach=False)
    if isinstance(opt, optim.Adam):
        return torch.optim.Adam(params, lr=opt.lr, betas=opt.betas, eps=opt.eps,
                                weight_decay=opt.weight_decay, amsgrad=opt.amsgrad,
                                foreach=False)
    if isinstance(opt, optim.SGD):
        return torch.optim.SGD(params, lr=opt.lr, momentum=opt.momentum,
                               dampening=opt.dampening, nesterov=opt.nesterov,
                               weight_decay=opt.weight_decay, foreach=False)
    if isinstance(opt, optim.RMSprop):
        return torch.optim.RMSprop(params, lr=opt.lr, alpha=opt.alpha, eps=opt.eps,
                                   weight_decay=opt.weight_decay, momentum=opt.momentum,
                                   centered=opt.centered, foreach=False)
    if isinstance(opt, optim.Adagrad):
        return torch.optim.Adagrad(params, lr=opt.lr, lr_decay=opt.lr_decay,
                                   weight_decay=opt.weight_decay, eps=opt.eps,
                                   initial_accumulator_value=opt.initial_accumulator_value,
                                   foreach=False)
    return None


@pytest.mark.parametrize("opt", [s for s in SETTINGS if not isinstance(s, optim.Accelerated)],
                         ids=[i for s, i in zip(SETTINGS, IDS)
                              if not isinstance(s, optim.Accelerated)])
def test_a_thousand_steps_follow_torch_optim(opt):
    """The same 1,000 gradients (a drift plus noise, so every state moves) fed to torch's
    optimizer and to the compiled step: the parameters agree to 1e-12 at every step.
    (Gradients of the iterates themselves would feed rounding back: near the optimum
    Adam and RMSprop oscillate, and their trajectories part chaotically after a few
    hundred steps, from a difference of one ulp.)"""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    grads = 0.3 + rng.standard_normal((1000, 9)) * np.linspace(0.1, 3.0, 9)
    x0 = np.linspace(-2, 2, 9)
    p = torch.tensor(x0.copy(), dtype=torch.float64, requires_grad=True)
    reference = _torch_optimizer(torch, opt, [p])
    x, state = x0.copy(), opt.new_state(9).array
    for g in grads:
        reference.zero_grad()
        p.grad = torch.tensor(g)
        reference.step()
        _loop.optimizer_step(opt.settings(opt.lr), x, g, state, len(opt.slots), opt.lr)
        expected = p.detach().numpy()
        np.testing.assert_allclose(x, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())


def test_accelerated_with_restart_beats_plain_steps_at_the_predicted_rate():
    """kappa = 100: plain steps of 1/L need about kappa ln(1e8) = 1,840 steps for 1e-8;
    accelerated with restart about sqrt(kappa) ln(1e8), a few hundred."""
    n = 20
    rng = np.random.default_rng(1)
    Q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    A = Q @ np.diag(np.linspace(1.0, 100.0, n)) @ Q.T
    x_star = rng.standard_normal(n)
    c = A @ x_star

    def steps(opt):
        x, state = np.zeros(n), opt.new_state(n)
        for k in range(20_000):
            if np.linalg.norm(x - x_star) <= 1e-8 * np.linalg.norm(x_star):
                return k
            opt.update(x, A @ x - c, state, 1 / 100.0)
        return k

    plain, fast = steps(optim.SGD(lr=0.01)), steps(optim.Accelerated(lr=0.01))
    assert 1000 < plain < 3000
    assert fast < 3 * math.sqrt(100) * math.log(1e8), fast
    assert steps(optim.Accelerated(lr=0.01, restart=False)) > fast  # restart helps here


def test_accelerated_restart_resets_the_momentum():
    opt = optim.Accelerated(lr=1.0)
    state = opt.new_state(1)
    x = np.array([0.0])
    opt.update(x, np.array([-1.0]), state, 1.0)   # x = 1, no momentum yet
    opt.update(x, np.array([-1.0]), state, 1.0)   # downhill again: momentum builds
    assert state["momentum_t"] > 1.0
    # a small gradient against the motion: the momentum still carries x uphill, so restart
    opt.update(x, np.array([0.1]), state, 1.0)
    assert state["momentum_t"] == 1.0


@pytest.mark.parametrize("bad", [
    lambda: optim.SGD(lr=-1), lambda: optim.SGD(momentum=1.0), lambda: optim.SGD(nesterov=True),
    lambda: optim.SGD(momentum=0.5, dampening=0.5, nesterov=True), lambda: optim.Adam(betas=(1, 0.9)),
    lambda: optim.Adam(betas=0.9), lambda: optim.Adam(eps=-1), lambda: optim.RMSprop(alpha=1.5),
    lambda: optim.Adagrad(lr_decay=-1), lambda: optim.Adam(lr=float("nan")),
    lambda: optim.StepDecay(step_size=0), lambda: optim.ReduceOnPlateau(patience=-1),
    lambda: optim.CosineWarmup(min_factor=2.0), lambda: optim.InverseScaling(power_t=-1)])
def test_bad_settings_name_the_argument(bad):
    with pytest.raises((ValueError, TypeError)) as info:
        bad()
    assert any(word in str(info.value) for word in
               ("lr", "momentum", "nesterov", "betas", "eps", "alpha", "lr_decay",
                "step_size", "patience", "min_factor", "power_t"))


def test_optimizer_names_build_what_they_say():
    assert optim.get_optimizer("gd") == optim.SGD()
    assert optim.get_optimizer("momentum", 0.1) == optim.SGD(lr=0.1, momentum=0.9)
    assert optim.get_optimizer("nesterov").nesterov
    assert optim.get_optimizer("adam").lr == 1e-3
    assert optim.get_optimizer("adam", 0.5).lr == 0.5
    assert isinstance(optim.get_optimizer("adamw"), optim.AdamW)
    with pytest.raises(ValueError, match="optimizer"):
        optim.get_optimizer("lbfgs")


# ----------------------------------------------------------------- schedules --

SCHEDULES = [optim.Constant(), optim.InverseScaling(0.5), optim.StepDecay(3, 0.5),
             optim.ExponentialDecay(0.9), optim.CosineWarmup(warmup=2, min_factor=0.1),
             optim.CosineWarmup(total=5), optim.ReduceOnPlateau(gamma=0.5, patience=2, cooldown=1,
                                                                 min_factor=0.1)]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=[repr(s) for s in SCHEDULES])
def test_compiled_schedule_is_the_reference(schedule):
    state = optim.State((), 1, False)
    counters = state.counters.copy()
    losses = [5, 4, 4.5, 4.2, 4.1, 4.3, 4.4, 4.4, 4.35, 3, 3, 3.1, 3.2, 3.3]
    steps_per_epoch = 4.0
    for epoch, loss in enumerate(losses):
        for batch in range(4):
            step = epoch * 4 + batch
            state["step"] = step
            counters[0] = step
            ref = schedule.factor(state, epoch, steps_per_epoch, len(losses))
            assert _loop.schedule_factor(schedule.settings(len(losses)), counters, epoch,
                                         steps_per_epoch) == ref
        schedule.epoch_end(state, loss)
        _loop.schedule_factor(schedule.settings(len(losses)), counters, epoch, steps_per_epoch,
                              loss=loss)
        np.testing.assert_array_equal(counters, state.counters)


def test_schedules_follow_torch_lr_schedulers():
    torch = pytest.importorskip("torch")
    p = torch.zeros(1, requires_grad=True)
    cases = [(optim.StepDecay(3, 0.5), lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5)),
             (optim.ExponentialDecay(0.9), lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.9)),
             (optim.ReduceOnPlateau(gamma=0.5, patience=2, cooldown=1, min_factor=0.1),
              lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(
                  o, factor=0.5, patience=2, cooldown=1, min_lr=0.1))]
    losses = [5, 4, 4.5, 4.2, 4.1, 4.3, 4.4, 4.4, 4.35, 3, 3, 3.1, 3.2, 3.3, 3.3, 3.3]
    for ours, make in cases:
        opt = torch.optim.SGD([p], lr=1.0)
        theirs = make(opt)
        state = optim.State((), 1, False)
        for epoch, loss in enumerate(losses):
            assert ours.factor(state, epoch, 1.0, 100) == pytest.approx(
                opt.param_groups[0]["lr"], rel=1e-15), (ours, epoch)
            ours.epoch_end(state, loss)
            if isinstance(ours, optim.ReduceOnPlateau):
                theirs.step(loss)
            else:
                theirs.step()
            state["step"] = epoch + 1


def test_cosine_warmup_shape():
    s = optim.CosineWarmup(warmup=2, min_factor=0.0)
    state = optim.State((), 1, False)
    factors = []
    for t in range(12):
        state["step"] = t
        factors.append(s.factor(state, t / 1.0, 1.0, 10))
    assert factors[0] == pytest.approx(0.5) and factors[1] == pytest.approx(1.0)  # warm-up
    assert factors[2] == pytest.approx(1.0) and factors[6] == pytest.approx(0.5)  # half way
    assert factors[10] == pytest.approx(0.0, abs=1e-15) and factors[11] == factors[10]
    assert all(a >= b for a, b in zip(factors[1:], factors[2:]))
