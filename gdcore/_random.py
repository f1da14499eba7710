"""The random stream that orders mini-batches, identical in every backend.

SplitMix64 (Steele, Lea & Flood 2014) is tiny, fast, and easy to write the
same way in C and in Python, so the compiled kernel and the reference
backends visit the same rows in the same order for the same seed. Shuffling
is Fisher-Yates, drawing ``j`` in ``[0, i]`` by multiply-shift,
``j = ((next() >> 32) * (i + 1)) >> 32`` (a division per row would cost more
than the row's arithmetic; the bias is below 2**-32), or ``next() % (i + 1)``
for ``i >= 2**32``.
"""

from __future__ import annotations

from typing import Any, List

MASK64 = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15


class SplitMix64:
    """64-bit generator; ``state`` is the seed reduced modulo 2**64."""

    def __init__(self, seed: int) -> None:
        self.state = seed & MASK64

    def next(self) -> int:
        self.state = (self.state + GOLDEN_GAMMA) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def uniform(self) -> float:
        """A float in [0, 1) from the top 53 bits."""
        return (self.next() >> 11) * (1.0 / (1 << 53))


def shuffle(order: Any, rng: SplitMix64) -> None:  # a list or an int array
    """Fisher-Yates, in place, exactly as the compiled kernel does it."""
    for i in range(len(order) - 1, 0, -1):
        j = below(rng.next(), i + 1)
        order[i], order[j] = order[j], order[i]


def shuffle_blocks(order: Any, block: int, rng: SplitMix64) -> None:
    """``order`` rewritten as the rows 0..n-1 in blocks of ``block`` contiguous rows (the
    last one shorter): the blocks in a random order, then the rows within each block
    (``shuffle`` of the block numbers, then of each block's rows in turn), exactly as
    the compiled kernel does it."""
    n = len(order)
    blocks = list(range(-(-n // block)))
    shuffle(blocks, rng)
    at = 0
    for k in blocks:
        m = min(block, n - k * block)
        order[at:at + m] = k * block + shuffled(m, rng)  # shuffle's order, compiled
        at += m


def shuffled(n: int, rng: SplitMix64) -> Any:
    """0..n-1 as ``shuffle`` leaves them, compiled (``_util.shuffled``), and ``rng`` moved
    past its n - 1 draws (each adds GOLDEN_GAMMA to the state)."""
    from . import _util
    order = _util.shuffled(n, rng.state, 1)
    rng.state = (rng.state + max(n - 1, 0) * GOLDEN_GAMMA) & MASK64
    return order


def below(x: int, bound: int) -> int:
    """A 64-bit random ``x`` mapped to ``[0, bound)``."""
    if bound <= 1 << 32:
        return ((x >> 32) * bound) >> 32
    return x % bound


def start_vector(n: int) -> List[float]:
    """Deterministic start of the power iteration: entries in [0.5, 1.5)."""
    rng = SplitMix64(POWER_SEED)
    return [0.5 + rng.uniform() for _ in range(n)]


#: Seed of the power iteration's start vector (shared by all backends).
POWER_SEED = 0x5EED
