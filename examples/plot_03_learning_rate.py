"""
The learning rate: too small, right, too large
==============================================

Gradient descent steps against the gradient, :math:`w \\leftarrow w - \\eta
\\, \\partial L/\\partial w` and :math:`b \\leftarrow b - \\eta \\, \\partial
L/\\partial b`. (The tutorial updates :math:`b` with :math:`\\partial
L/\\partial w`; each parameter must follow its own partial derivative, or
:math:`b` would move with the slope's error instead of its own.)

The MSE is quadratic, with Hessian :math:`H = \\frac{2}{N} A^\\top A`,
:math:`A = [X \\; 1]`, and gradient descent converges exactly when
:math:`0 < \\eta < 2/\\lambda_{\\max}(H)`. ``lr="auto"`` takes the safe step
:math:`1/\\lambda_{\\max}`. Below it the fit crawls; above twice it, every
step overshoots further than the last, and gdcore stops the fit with a
:class:`~gdcore.DivergenceError` that names a safe step.
"""

import matplotlib.pyplot as plt
import numpy as np

import gdcore
from gdcore import plot

x = np.array([1.0, 2.0, 3.0, 4.0])   # the tutorial's data, now with the intercept b
y = x.copy()

# %%
# The step ``lr="auto"`` would take for plain gradient descent in these
# units, and the largest curvature it comes from:

safe = gdcore.Trainer(optimizer="gd", precondition=None).learning_rate(gdcore.LinearModel(1), x)
A = np.column_stack([x, np.ones_like(x)])
lam_max = np.linalg.eigvalsh(2 / x.size * A.T @ A).max()
print(f"lambda_max(H) = {lam_max:.4f}; 1/lambda_max = {1 / lam_max:.5f} (auto: {safe:.5f}); "
      f"divergence beyond 2/lambda_max = {2 / lam_max:.5f}")

# %%
# Three fits of at most 2000 epochs from :math:`w = b = 0`, stopping when the
# gradient's norm is below 1e-8: a tenth of the safe step, the safe step, and
# 2.2 times it.

runs = {}
for label, lr in (("too small", 0.1 * safe), ("right: 1/L", safe), ("too large", 2.2 * safe)):
    model = gdcore.LinearModel(1)
    trainer = gdcore.Trainer(lr=lr, epochs=2000, tol=1e-8)
    try:
        history = trainer.fit(model, x, y)
        print(f"lr = {lr:.4f} ({label}): {history.status} after {history.n_epochs} epochs, "
              f"w = {model.w[0]:.6f}, b = {model.b:.6f}")
    except gdcore.DivergenceError as err:
        history = err.history
        print(f"lr = {lr:.4f} ({label}): DivergenceError after {history.n_epochs} epochs; "
              f"it suggests lr = {err.suggested_lr:.4f}; the model keeps its last finite "
              f"parameters, w = {model.w[0]:.3g}")
    runs[f"{label}, lr = {lr:.3f}"] = history

# %%
# Left, the loss per epoch: the safe step meets the tolerance; the small one
# is still short of it when its 2000 epochs run out; the large one grows until
# the fit is stopped, a million times above where it started. Right, the first
# steps of the large one on the contours of :math:`L(w, b)`: it crosses the
# valley, further each time.

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
plot.plot_loss(runs, ax=left)
left.set_title("Loss per epoch")
model = gdcore.LinearModel(1)
first = gdcore.Trainer(lr=2.2 * safe, epochs=7, tol=0.0, record_path=True).fit(
    model, x, y)  # seven steps: far from the million-fold blow-up
plot.plot_path(first, x, y, model=model, ax=right)
right.set_title(f"The first 7 steps with lr = {first.lr:.3f}")
plt.show()
