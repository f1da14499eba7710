/* Software prefetches that survive the optimiser.
 *
 * GCC 12 (at -O1 and above) deleted every prefetch of gd_prefetch_listed
 * once inlined: a loop whose body only prefetches, followed by another
 * prefetch. A prefetch has no effect the compiler must keep; the empty
 * volatile asm in GD_PREFETCH is one, so each prefetch stays where it is
 * written. tests/test_kernels.py reads the built modules' disassembly. */
#ifndef GDCORE_PREFETCH_H
#define GDCORE_PREFETCH_H

#include <Python.h>

#if defined(__GNUC__)
#define GD_PREFETCH(address, locality) \
    do { __asm__ __volatile__(""); __builtin_prefetch((address), 0, (locality)); } while (0)
#else
#define GD_PREFETCH(address, locality) ((void)(address))
#endif

/* Ask for the line at `at` into L1. */
static inline void gd_ask_line(const void* at)
{
    GD_PREFETCH(at, 3);
}

/* Ask for bytes [start, start + size) into the core's L2 cache, a line at a time
   in address order (which also trains the hardware's stream prefetchers). */
static inline void gd_warm_bytes(const void* start, Py_ssize_t size)
{
    const char* at = (const char*)start;
    Py_ssize_t line;
    for (line = 0; line < size; line += 64)
        GD_PREFETCH(at + line, 2);
    if (size > 0)
        GD_PREFETCH(at + size - 1, 2);
}

#endif
