"""
A network learns sin by back-propagation
========================================

A network with one hidden layer of 32 tanh units, ``[1, 32, 1]``, learns
:math:`\\sin x` on :math:`[-\\pi, \\pi]`. Each training step is a forward
pass (the layers in turn, keeping their activations), a backward pass (the
chain rule from the loss back to the input, reusing those activations) and
an update: the tutorial's last section, run.
"""

import matplotlib.pyplot as plt
import numpy as np

import gdcore
from gdcore import plot

x = np.linspace(-np.pi, np.pi, 200)
y = np.sin(x)
net = gdcore.MLP([1, 32, 1], activation="tanh", random_state=0)

# %%
# Plain SGD with mini-batches of 32 for 3000 epochs; a callback keeps the
# network's curve at a few epochs along the way.

snapshots = {0: net.predict(x)}


def keep(epoch, loss, model):
    if epoch in (30, 300):
        snapshots[epoch] = model.predict(x)


trainer = gdcore.Trainer(lr=0.05, epochs=3000, tol=0, batch_size=32, random_state=0)
history = trainer.fit(net, x, y, callback=keep, callback_every=30)
snapshots[history.n_epochs] = net.predict(x)
print(f"{history.n_epochs} epochs in {history.seconds:.2f} s, "
      f"final MSE {gdcore.MSELoss()(y, net.predict(x)):.2e}")

# %%
# Back-propagation against finite differences of the forward pass, at the
# trained weights: the largest relative error over all 97 parameters. (At the
# initial weights the data's symmetry makes some gradients exactly zero, where
# a relative error measures only the rounding of the differences.)

print(f"gradient check: {gdcore.gradient_check(net, gdcore.MSELoss(), x, y):.1e}")

# %%
# The loss falls by three orders of magnitude; the curve bends into shape.

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
plot.plot_loss(history, ax=left)
left.set_title("Loss per epoch (mean over the epoch's batches)")
right.plot(x, y, color="black", lw=3, alpha=0.3, label="sin x")
for (epoch, pred), colour in zip(snapshots.items(), ("C7", "C1", "C0", "C3")):
    right.plot(x, pred, color=colour, label=f"after {epoch} epochs")
right.set(xlabel="x", ylabel="y", title="The network's curve")
right.legend()
plt.show()
