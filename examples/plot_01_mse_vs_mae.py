"""
MSE against MAE, with outliers
==============================

A loss turns "how far are the predictions from the data" into one number.
The tutorial starts with the absolute error and moves to the squared error,
which is smooth everywhere. The choice also decides what the fit listens to:
a square weighs an error of 10 a hundred times more than an error of 1, so a
few wild points drag the least-squares line towards them, while the mean
absolute error (MAE) fit follows the bulk of the data.

Both losses are the tutorial's, with :math:`y_i` where it prints :math:`y_1`
(each prediction is compared with its own target):

.. math::

   \\text{MAE} = \\frac{1}{N}\\sum_i |y_i - \\hat y_i| , \\qquad
   \\text{MSE} = \\frac{1}{N}\\sum_i (y_i - \\hat y_i)^2 .
"""

import matplotlib.pyplot as plt
import numpy as np

import gdcore

rng = np.random.default_rng(0)
x = rng.uniform(0, 10, 60)
y = 2.0 * x + 1.0 + rng.normal(0, 0.5, x.size)
y[np.argsort(x)[-6:]] -= 25.0  # six points at large x read far too low

# %%
# The default fit of each loss: ``Trainer()`` certifies least squares for the
# MSE, and the least-absolute-deviations optimum for the MAE.

fits = {}
for loss in (gdcore.MSELoss(), gdcore.MAELoss()):
    model = gdcore.LinearModel(1)
    history = gdcore.Trainer(loss=loss).fit(model, x, y)
    fits[type(loss).__name__] = model
    print(f"{type(loss).__name__}: y = {model.w[0]:.3f} x + {model.b:.3f} "
          f"({history.status}, {history.n_epochs} epochs)")
print("true line: y = 2.000 x + 1.000")

# %%
# The MSE line tilts towards the outliers; the MAE line stays on the other
# 54 points. On the right, each loss's penalty for one residual: beyond 1 the
# square grows much faster than the absolute value.

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
left.scatter(x, y, s=14, color="0.4", label="data")
grid = np.linspace(0, 10, 2)
for (name, model), colour in zip(fits.items(), ("C3", "C0")):
    left.plot(grid, model.predict(grid), color=colour, lw=2,
              label=f"{name}: y = {model.w[0]:.2f} x + {model.b:.2f}")
left.set(xlabel="x", ylabel="y", title="Fits with six outliers")
left.legend()

r = np.linspace(-3, 3, 301)
right.plot(r, r ** 2, color="C3", label="squared error $r^2$")
right.plot(r, np.abs(r), color="C0", label="absolute error $|r|$")
right.set(xlabel="residual r = y - ŷ", ylabel="penalty", title="One residual's penalty")
right.legend()
plt.show()

# %%
# The loss objects compute the same numbers as the formulas above:

mse, mae = gdcore.MSELoss(), gdcore.MAELoss()
for name, model in fits.items():
    pred = model.predict(x)
    assert np.isclose(mse(y, pred), np.mean((y - pred) ** 2))
    assert np.isclose(mae(y, pred), np.mean(np.abs(y - pred)))
    print(f"{name} fit: MSE {mse(y, pred):.2f}, MAE {mae(y, pred):.2f}")
