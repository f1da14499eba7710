"""
Paths over L(w, b): plain steps, momentum and Adam
==================================================

The loss of a linear model is a surface over its parameters; for the MSE and
one feature, a bowl over :math:`(w, b)`. On the tutorial's data the bowl is a
long, narrow valley: its curvature along the valley is 56 times smaller than
across it, and plain gradient descent, whose safe step is set by the steep
direction, creeps along the floor. Momentum remembers past steps and builds
up speed along the floor, overshooting and swinging across it on the way;
Adam scales each coordinate by its own gradient history.

``Trainer(record_path=True)`` keeps the parameters of every epoch and
:func:`gdcore.plot.plot_path` draws them over the contours of :math:`L(w, b)`.
"""

import matplotlib.pyplot as plt
import numpy as np

import gdcore
from gdcore import plot

x = np.array([1.0, 2.0, 3.0, 4.0])
y = x.copy()

# %%
# Three optimizers, 150 epochs each, in the raw coordinates (no
# standardisation, so the valley stays narrow) from :math:`w = b = 0`.
# Plain steps and momentum take ``lr="auto"`` (:math:`1/L`); Adam takes a
# step of 0.1.

fits = {}
for name, lr in (("adam", 0.1), ("momentum", "auto"), ("gd", "auto")):  # the last drawn on top
    model = gdcore.LinearModel(1)
    history = gdcore.Trainer(optimizer=name, lr=lr, precondition=None, epochs=150, tol=0.0,
                             record_path=True).fit(model, x, y)
    fits[plot.optimizer_label(history)] = history
    print(f"{plot.optimizer_label(history):>16}: w = {model.w[0]:.5f}, b = {model.b:+.5f}, "
          f"loss {history.final_loss:.2e}")

# %%
# The routes. Plain steps go straight down the steep side, then creep along
# the valley floor towards the minimum at :math:`(1, 0)`; momentum 0.9 swings
# across the floor but gets there far sooner; Adam's first steps have the
# same size in both coordinates, whatever the slope.

fig, ax = plt.subplots(figsize=(8, 6), layout="constrained")
plot.plot_path(fits, x, y, ax=ax)
plt.show()

# %%
# The loss along the routes: plain steps lose a constant fraction per epoch,
# set by the valley's condition number; momentum's loss ripples as it swings,
# and falls faster.

fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
plot.plot_loss(fits, ax=ax)
plt.show()
