/* Software prefetches that survive the optimiser.
 *
 * GCC (12, at -O1 and above) deletes a loop whose body only prefetches, and
 * the prefetches after it with it, once the loop is inlined: a prefetch has no
 * effect it must keep. The empty volatile asm in GD_PREFETCH is an effect, so
 * each one stays where it is written (checked in the built modules'
 * disassembly: tests/test_kernels.py). */
#ifndef GDCORE_PREFETCH_H
#define GDCORE_PREFETCH_H

#include <Python.h>

#if defined(__GNUC__)
#define GD_PREFETCH(address, locality) \
    do { __asm__ __volatile__(""); __builtin_prefetch((address), 0, (locality)); } while (0)
#else
#define GD_PREFETCH(address, locality) ((void)(address))
#endif

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
