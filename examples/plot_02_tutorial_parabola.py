"""
The tutorial's worked example: a ball rolling down a parabola
=============================================================

The tutorial fits :math:`\\hat y = w x` (no intercept) to the points
:math:`(1, 1), (2, 2), (3, 3), (4, 4)`. Its loss is a parabola in :math:`w`:

.. math::

   L(w) = \\frac{1}{4}\\sum_{i=1}^{4} (y_i - w x_i)^2 = 7.5 (1 - w)^2
        = 7.5 w^2 - 15 w + 7.5 .

The tutorial prints :math:`+15w`, a sign slip: :math:`(1 - w)^2 = 1 - 2w +
w^2`. With :math:`+15w` the minimum would be at :math:`w = -1`, a line
sloping the wrong way through points on :math:`y = x`. The derivative
:math:`L'(w) = 15 w - 15` is zero at :math:`w = 1`, and gradient descent
rolls there: :math:`w \\leftarrow w - \\eta L'(w)`.
"""

import matplotlib.pyplot as plt
import numpy as np

import gdcore

x = np.array([1.0, 2.0, 3.0, 4.0])
y = x.copy()

# %%
# gdcore's MSE agrees with the corrected expansion at every :math:`w`, and its
# gradient with :math:`15 w - 15`:

mse = gdcore.MSELoss()
ws = np.linspace(-1.5, 3.0, 200)
L = np.array([mse(y, w * x) for w in ws])
assert np.allclose(L, 7.5 * ws ** 2 - 15 * ws + 7.5)

model = gdcore.LinearModel(1, fit_intercept=False)   # the tutorial's y = w x
model.w = [0.25]
dL_dw, _ = mse.gradient(model, x, y)
print(f"at w = 0.25: dL/dw = {dL_dw[0]:.4f}, 15 w - 15 = {15 * 0.25 - 15:.4f}")

# %%
# Now roll the ball: two fits from :math:`w = 0`, recording every step. The
# curvature is :math:`L''(w) = 15`, so any step :math:`\eta < 2/15 \approx
# 0.133` converges. A small one rolls down one side; one near the limit
# overshoots, crossing the valley at every step while the swings shrink.

fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained", sharey=True)
for ax, lr in zip(axes, (0.02, 0.12)):
    model = gdcore.LinearModel(1, fit_intercept=False)
    history = gdcore.Trainer(lr=lr, epochs=200, tol=1e-6, record_path=True).fit(model, x, y)
    w_path = np.append(history.path[:, 0], model.w[0])
    ax.plot(ws, L, color="0.3", label="$L(w) = 7.5w^2 - 15w + 7.5$")
    ax.plot(ws, 7.5 * ws ** 2 + 15 * ws + 7.5, "--", color="0.6",
            label="the tutorial's $+15w$ (minimum at $w = -1$)")
    ax.plot(w_path, 7.5 * (1 - w_path) ** 2, "o-", color="C3", ms=5, lw=0.8,
            label=f"gradient descent, $\\eta$ = {lr}")
    ax.plot([1], [0], "*", color="gold", mec="black", ms=16, label="minimum, w = 1")
    ax.set(xlabel="w", ylim=(-1, 40),
           title=f"$\\eta$ = {lr}: w = {model.w[0]:.6f} after {history.n_epochs} steps")
    print(f"lr = {lr}: {history.status} after {history.n_epochs} epochs, w = {model.w[0]:.8f}")
axes[0].set_ylabel("L(w)")
axes[0].legend(loc="upper left", fontsize="small")
plt.show()

# %%
# The exact minimiser, for comparison (``closed_form`` solves the normal
# equations; without intercept here):

w, b = gdcore.closed_form(x, y, fit_intercept=False)
print(f"closed form: w = {w[0]:.12f}, b = {b}")
