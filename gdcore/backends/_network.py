"""How a multi-layer perceptron's parameters are laid out, shared by every backend.

A network ``sizes = [n_0, n_1, ..., n_L]`` (``n_L = 1``) keeps all its
parameters in one flat array, layer by layer: the weights ``W_l`` of shape
``(n_l, n_{l+1})`` (row-major, so a layer computes ``a @ W_l + b_l``), then
the biases ``b_l`` of shape ``(n_{l+1},)``. The gradient has the same layout.
Every parameter is free (stepped by the optimizer), so the stopping test
uses the norm of the gradient of all of them.
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

def layer_slices(sizes: Sequence[int]) -> List[Tuple[int, int, int, int]]:
    """For each layer: (start of W_l, start of b_l, n_in, n_out) in the flat parameters."""
    out, p = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        out.append((p, p + n_in * n_out, n_in, n_out))
        p += n_in * n_out + n_out
    return out


def n_params(sizes: Sequence[int]) -> int:
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))
