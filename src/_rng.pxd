# SplitMix64 and Fisher-Yates, bit for bit as gdcore/_random.py does them, so
# the compiled and reference backends visit mini-batches in the same order.
from libc.stdint cimport uint64_t


cdef inline uint64_t splitmix64_next(uint64_t* state) noexcept nogil:
    state[0] += <uint64_t>0x9E3779B97F4A7C15ULL
    cdef uint64_t z = state[0]
    z = (z ^ (z >> 30)) * <uint64_t>0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * <uint64_t>0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef inline double splitmix64_uniform(uint64_t* state) noexcept nogil:
    """A double in [0, 1) from the top 53 bits."""
    return <double>(splitmix64_next(state) >> 11) * (1.0 / 9007199254740992.0)


cdef inline uint64_t below(uint64_t x, uint64_t bound) noexcept nogil:
    """A 64-bit random x mapped to [0, bound): multiply-shift, no division."""
    if bound <= (<uint64_t>1) << 32:
        return ((x >> 32) * bound) >> 32
    return x % bound


cdef inline Py_ssize_t shuffle_steps(Py_ssize_t* order, Py_ssize_t i, Py_ssize_t count,
                                     uint64_t* state) noexcept nogil:
    """Fisher-Yates's steps i, i - 1, ... on order[0 .. i] (at most ``count``, none below
    1); returns the next step's i (0: done). ``shuffle`` is all of them from n - 1."""
    # The state lives in a local while the loop runs: through the pointer, which
    # may alias order, every draw waited on a store and a reload.
    cdef Py_ssize_t j, tmp, stop = i - count if i > count else 0
    cdef uint64_t local = state[0]
    while i > stop:
        j = <Py_ssize_t>below(splitmix64_next(&local), <uint64_t>(i + 1))
        tmp = order[i]
        order[i] = order[j]
        order[j] = tmp
        i -= 1
    state[0] = local
    return i


cdef extern from "_prefetch.h" nogil:
    void ask_line "gd_ask_line"(const void* at)

cdef enum:
    DRAWN_AHEAD = 64  # shuffle's steps drawn before they are taken (a power of two)
    CACHED_ORDER = 1 << 17  # entries (1 MiB): shorter orders are shuffled step by step


cdef inline void shuffle(Py_ssize_t* order, Py_ssize_t n, uint64_t* state) noexcept nogil:
    """All of Fisher-Yates's steps, n - 1 down to 1 (shuffle_steps's). In an order
    larger than the caches every swap would wait for memory, so there each step is
    drawn DRAWN_AHEAD steps before it is taken and the entry it swaps asked for
    meanwhile: a draw does not depend on the order, so the draws and swaps are the
    same (in the caches the bookkeeping costs more than it saves)."""
    if n <= CACHED_ORDER:
        shuffle_steps(order, n - 1, n, state)
        return
    cdef Py_ssize_t i, drawn = n - 1, j, tmp
    cdef Py_ssize_t ahead[DRAWN_AHEAD]  # step i's j at i % DRAWN_AHEAD
    cdef uint64_t local = state[0]  # (see shuffle_steps)
    while drawn > 0 and drawn > n - 1 - DRAWN_AHEAD:
        j = <Py_ssize_t>below(splitmix64_next(&local), <uint64_t>(drawn + 1))
        ahead[drawn & (DRAWN_AHEAD - 1)] = j
        ask_line(&order[j])
        drawn -= 1
    for i in range(n - 1, 0, -1):
        j = ahead[i & (DRAWN_AHEAD - 1)]
        if drawn > 0:  # step i - DRAWN_AHEAD's, into the slot just read
            tmp = <Py_ssize_t>below(splitmix64_next(&local), <uint64_t>(drawn + 1))
            ahead[drawn & (DRAWN_AHEAD - 1)] = tmp
            ask_line(&order[tmp])
            drawn -= 1
        tmp = order[i]
        order[i] = order[j]
        order[j] = tmp
    state[0] = local


# gdcore/_random.py's shuffle_blocks: order rewritten whole, the blocks (of
# ``block`` rows, the last one shorter) in a random order (``shuffle`` of their
# numbers, into ``blocks``: scratch for ceil(n / block) entries), then the rows
# within each block in turn. A Block is one of them on its way: its rows
# written in place and its Fisher-Yates steps taken a few at a time, so that
# an epoch can shuffle the next block while it reads the current one and draw
# the same numbers, in the same order, as shuffle_blocks.

cdef struct Block:
    Py_ssize_t k       # blocks[k] is its number
    Py_ssize_t at      # its first entry in the order
    Py_ssize_t first   # its first row
    Py_ssize_t m       # its rows
    Py_ssize_t i       # its next Fisher-Yates step (0: shuffled)
    Py_ssize_t warmed  # its rows asked into the cache (by the epoch loop)


cdef inline void block_begin(Block* b, Py_ssize_t* order, Py_ssize_t n, Py_ssize_t block,
                             const Py_ssize_t* blocks, Py_ssize_t k,
                             Py_ssize_t at) noexcept nogil:
    """Block blocks[k] at order[at ..], in row order, none of its steps taken."""
    cdef Py_ssize_t r
    b.k, b.at, b.first = k, at, blocks[k] * block
    b.m = block if n - b.first > block else n - b.first
    for r in range(b.m):
        order[at + r] = b.first + r
    b.i = b.m - 1 if b.m > 1 else 0
    b.warmed = 0


cdef inline void block_steps(Block* b, Py_ssize_t* order, Py_ssize_t count,
                             uint64_t* state) noexcept nogil:
    b.i = shuffle_steps(order + b.at, b.i, count, state)
