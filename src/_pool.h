/* Worker threads for a pass cut into chunks, on which the caller never waits.
 *
 * A pass (one call of gd_pool_run) computes n_chunks independent sums of
 * `width` doubles; chunk c's sums depend on c alone, so whoever computes
 * them gets the same bits. The caller and the workers claim chunks from one
 * counter. When the counter runs out, the caller takes over every chunk not
 * yet finished -- even one a worker is in the middle of -- and computes it
 * itself; the worker's result is then dropped. So a worker descheduled by a
 * busy machine costs the caller at most the chunks it held, never a wait at a
 * barrier (an OpenMP barrier waits for the slowest thread, which on a shared
 * core can take a scheduler time slice: milliseconds for a pass of
 * microseconds).
 *
 * Ownership of a chunk in pass g is one atomic word, (g << 9) | done << 8 |
 * owner (owner 0 is the caller, workers are 1 .. 255): a worker claims a free
 * chunk by compare-and-swap and publishes its sums by a second one, which
 * fails if the caller took the chunk over, or if the pass has moved on (the
 * generation in the word is then newer). Each thread writes its sums into a
 * slot of its own per chunk, so a late worker can never overwrite sums that
 * someone reads. Before taking over a chunk a worker is computing, the caller
 * waits as long as two chunks take it: on a quiet machine the worker
 * finishes first and no work is done twice. A late worker may still be reading the previous pass's
 * parameters while the caller writes the next ones: whatever it computes is
 * dropped by the generation check. Workers sleep on a condition variable
 * between passes (no spinning: on a busy machine a spinning thread takes the
 * time of the threads doing the work).
 */
#ifndef GD_POOL_H
#define GD_POOL_H

#include <Python.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GD_POOL_MAX_THREADS 256   /* the caller and up to 255 workers */
#define GD_DONE ((uint64_t)256)
#define GD_OWNER(s) ((int)((s) & 255))
#define GD_GEN(s) ((s) >> 9)
#define GD_TICKET_SHIFT 36        /* ticket = (pass mod 2^28) << 36 | next chunk */
#define GD_TICKET_INDEX(t) ((Py_ssize_t)((t) & ((((uint64_t)1) << GD_TICKET_SHIFT) - 1)))

typedef void (*gd_chunk_fn)(void* ctx, Py_ssize_t chunk, int thread, double* out);

typedef struct gd_pool gd_pool;

typedef struct {
    gd_pool* pool;
    int index;                    /* 1 .. n_workers */
} gd_worker;

struct gd_pool {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    uint64_t gen;                 /* the current pass; written under lock */
    int stop;                     /* under lock */
    uint64_t ticket;              /* atomic */
    uint64_t* owner;              /* atomic, one per chunk */
    int64_t* started;             /* atomic, one per chunk: when a worker began it (ns) */
    int64_t chunk_ns;             /* the longest chunk of the caller's last pass */
    double* slots;                /* (n_workers + 1) x n_chunks x width */
    const double** result;        /* after a pass: the sums of each chunk */
    Py_ssize_t n_chunks, width;
    gd_chunk_fn fn;
    void* ctx;
    int n_workers;
    pthread_t* threads;
    gd_worker* workers;
};

#if defined(__x86_64__) || defined(__i386__)
#define GD_PAUSE() __builtin_ia32_pause()
#else
#define GD_PAUSE() ((void)0)
#endif

static inline int64_t gd_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static inline double* gd_slot(gd_pool* p, int thread, Py_ssize_t c) {
    return p->slots + ((size_t)thread * (size_t)p->n_chunks + (size_t)c) * (size_t)p->width;
}

/* The next chunk of pass g, or -1 when the pass has none left (or has moved on). */
static inline Py_ssize_t gd_claim(gd_pool* p, uint64_t g) {
    uint64_t tag = (g & ((((uint64_t)1) << 28) - 1)) << GD_TICKET_SHIFT;
    uint64_t t = __atomic_load_n(&p->ticket, __ATOMIC_ACQUIRE);
    for (;;) {
        if ((t & ~((((uint64_t)1) << GD_TICKET_SHIFT) - 1)) != tag
                || GD_TICKET_INDEX(t) >= p->n_chunks)
            return -1;
        if (__atomic_compare_exchange_n(&p->ticket, &t, t + 1, 1, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            return GD_TICKET_INDEX(t);
    }
}

static inline const double* gd_compute(gd_pool* p, int thread, Py_ssize_t c) {
    double* out = gd_slot(p, thread, c);
    memset(out, 0, (size_t)p->width * sizeof(double));
    p->fn(p->ctx, c, thread, out);
    return out;
}

static void gd_worker_pass(gd_pool* p, uint64_t g, int k) {
    Py_ssize_t c;
    while ((c = gd_claim(p, g)) >= 0) {
        uint64_t seen = __atomic_load_n(&p->owner[c], __ATOMIC_ACQUIRE);
        uint64_t mine = (g << 9) | (uint64_t)k;
        __atomic_store_n(&p->started[c], gd_now(), __ATOMIC_RELAXED);  /* published by the CAS */
        if (GD_GEN(seen) >= g ||
                !__atomic_compare_exchange_n(&p->owner[c], &seen, mine, 0, __ATOMIC_ACQ_REL,
                                             __ATOMIC_ACQUIRE))
            continue;                      /* the caller has taken it over */
        gd_compute(p, k, c);
        /* Publish; fails (and the sums are dropped) if the caller took it over. */
        __atomic_compare_exchange_n(&p->owner[c], &mine, mine | GD_DONE, 0, __ATOMIC_RELEASE,
                                    __ATOMIC_RELAXED);
    }
}

static void* gd_worker_main(void* arg) {
    gd_worker* w = (gd_worker*)arg;
    gd_pool* p = w->pool;
    uint64_t seen = 0;
    for (;;) {
        int stop;
        pthread_mutex_lock(&p->lock);
        while (p->gen == seen && !p->stop)
            pthread_cond_wait(&p->wake, &p->lock);
        stop = p->stop;
        seen = p->gen;
        pthread_mutex_unlock(&p->lock);
        if (stop)
            return NULL;
        gd_worker_pass(p, seen, w->index);
    }
}

/* A pass: every chunk computed once, results in p->result[c]. */
static void gd_pool_run(gd_pool* p) {
    uint64_t g, s;
    int64_t longest = 0;
    Py_ssize_t c;
    pthread_mutex_lock(&p->lock);
    g = ++p->gen;
    __atomic_store_n(&p->ticket, (g & ((((uint64_t)1) << 28) - 1)) << GD_TICKET_SHIFT,
                     __ATOMIC_RELEASE);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    while ((c = gd_claim(p, g)) >= 0) {
        int64_t t0 = gd_now();
        __atomic_store_n(&p->owner[c], g << 9, __ATOMIC_RELEASE);
        p->result[c] = gd_compute(p, 0, c);
        t0 = gd_now() - t0;
        longest = t0 > longest ? t0 : longest;
    }
    if (longest > 0)
        p->chunk_ns = longest;
    for (c = 0; c < p->n_chunks; c++) {
        int64_t deadline = 0;
        s = __atomic_load_n(&p->owner[c], __ATOMIC_ACQUIRE);
        for (;;) {
            if (GD_GEN(s) == g && GD_OWNER(s) == 0)          /* the caller's own */
                break;
            if (GD_GEN(s) == g && (s & GD_DONE)) {           /* a worker's, finished */
                p->result[c] = gd_slot(p, GD_OWNER(s), c);
                break;
            }
            if (GD_GEN(s) == g) {                            /* a worker's, under way */
                if (deadline == 0)
                    deadline = __atomic_load_n(&p->started[c], __ATOMIC_RELAXED)
                               + 2 * p->chunk_ns;
                if (gd_now() < deadline) {
                    GD_PAUSE();
                    s = __atomic_load_n(&p->owner[c], __ATOMIC_ACQUIRE);
                    continue;
                }
            }
            if (__atomic_compare_exchange_n(&p->owner[c], &s, g << 9, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE)) {
                p->result[c] = gd_compute(p, 0, c);        /* not started, or late */
                break;
            }
        }
    }
}

static void gd_pool_free(gd_pool* p) {
    int k;
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (k = 0; k < p->n_workers; k++)
        pthread_join(p->threads[k], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p->owner);
    free(p->started);
    free(p->slots);
    free((void*)p->result);
    free(p->threads);
    free(p->workers);
    free(p);
}

/* A pool of up to n_workers threads besides the caller (fewer if the system
 * refuses some: the caller alone can do every pass), or NULL without memory. */
static gd_pool* gd_pool_new(int n_workers, Py_ssize_t n_chunks, Py_ssize_t width,
                            gd_chunk_fn fn, void* ctx) {
    gd_pool* p;
    int k;
    if (n_workers < 1 || n_workers >= GD_POOL_MAX_THREADS || n_chunks < 1 || width < 1)
        return NULL;
    p = (gd_pool*)calloc(1, sizeof(gd_pool));
    if (p == NULL)
        return NULL;
    p->n_chunks = n_chunks;
    p->width = width;
    p->fn = fn;
    p->ctx = ctx;
    p->owner = (uint64_t*)calloc((size_t)n_chunks, sizeof(uint64_t));
    p->started = (int64_t*)calloc((size_t)n_chunks, sizeof(int64_t));
    p->slots = (double*)calloc((size_t)(n_workers + 1) * (size_t)n_chunks * (size_t)width,
                               sizeof(double));
    p->result = (const double**)calloc((size_t)n_chunks, sizeof(double*));
    p->threads = (pthread_t*)calloc((size_t)n_workers, sizeof(pthread_t));
    p->workers = (gd_worker*)calloc((size_t)n_workers, sizeof(gd_worker));
    if (!p->owner || !p->started || !p->slots || !p->result || !p->threads || !p->workers
            || pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p->owner); free(p->started); free(p->slots); free((void*)p->result); free(p->threads);
        free(p->workers); free(p);
        return NULL;
    }
    pthread_cond_init(&p->wake, NULL);
    for (k = 0; k < n_workers; k++) {
        p->workers[k].pool = p;
        p->workers[k].index = k + 1;
        if (pthread_create(&p->threads[k], NULL, gd_worker_main, &p->workers[k]) != 0)
            break;
        p->n_workers = k + 1;
    }
    return p;
}

#endif
