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


cdef inline void shuffle(Py_ssize_t* order, Py_ssize_t n, uint64_t* state) noexcept nogil:
    # The state lives in a local while the loop runs: through the pointer, which
    # may alias order, every draw waited on a store and a reload.
    cdef Py_ssize_t i, j, tmp
    cdef uint64_t local = state[0]
    for i in range(n - 1, 0, -1):
        j = <Py_ssize_t>below(splitmix64_next(&local), <uint64_t>(i + 1))
        tmp = order[i]
        order[i] = order[j]
        order[j] = tmp
    state[0] = local


cdef inline void shuffle_blocks(Py_ssize_t* order, Py_ssize_t n, Py_ssize_t block,
                                Py_ssize_t* blocks, uint64_t* state) noexcept nogil:
    # gdcore/_random.py's shuffle_blocks: order rewritten whole, the blocks (of
    # ``block`` rows, the last one shorter) in a random order, then the rows within
    # each; ``blocks`` is scratch for ceil(n / block) entries.
    cdef Py_ssize_t k, i, lo, m, at = 0, n_blocks = (n + block - 1) // block
    for k in range(n_blocks):
        blocks[k] = k
    shuffle(blocks, n_blocks, state)
    for k in range(n_blocks):
        lo = blocks[k] * block
        m = block if n - lo > block else n - lo
        for i in range(m):
            order[at + i] = lo + i
        shuffle(order + at, m, state)
        at += m
