# cython: language_level=3
"""The epoch loop: one loop for every model, optimizer, schedule and preconditioner.

A ``Run`` drives an Objective (a pass module's sums over rows, see
_common.pxd) and, after every gradient, one optimizer step (_optim.pxd):

    g = sums / rows  ->  g in the fit's coordinates  ->  lr_t = lr * schedule(t)
      ->  step(x, g, lr_t) [then a penalty's proximal step]  ->  parameters from the coordinates

The coordinates are the parameters themselves, or (``precondition``) the
standardised coordinates of a linear model, v = s w, c = b + m . w, whose
gradient follows by the chain rule from the one over the raw X. The run keeps
all its state in buffers it owns, so it pauses between epochs and resumes
exactly (``advance``), snapshots parameters and optimizer state together
before every step (full batch) or epoch (mini-batch) and restores both when
the loss diverges. Its semantics are written out in gdcore/loop.py, the
reference loop the python and numpy backends run, which mirrors this one
line for line.
"""

import numpy as np

from cpython.pycapsule cimport PyCapsule_GetPointer
from cython cimport floating
from libc.math cimport INFINITY, NAN, fabs, isfinite, sqrt
from libc.stdint cimport uint64_t
from libc.string cimport memcpy, memmove

from _common cimport address, OBJECTIVE_CAPSULE, Objective, warm_rows, warm_targets
from _optim cimport (ACCELERATED, ADAGRAD, ADAM, COSINE, CONSTANT, EXPONENTIAL,
                     INVERSE_SCALING, LR_FACTOR, MOMENTUM_T, N_COUNTERS, PLATEAU,
                     PLATEAU_BAD, PLATEAU_BEST, PLATEAU_COOLDOWN, RMSPROP, SGD, STEP,
                     STEP_DECAY, Hyper, Schedule, epoch_end, lr_factor, step)
from _rng cimport Block, block_begin, block_steps, shuffle

cdef enum Status:
    CONVERGED = 0
    MAX_EPOCHS = 1
    DIVERGED = 2
    STALLED = 3
    PAUSED = 4

cdef enum Order:  # of a mini-batch epoch's rows (gdcore/loop.py's SHUFFLES)
    ROWS = 0      # all rows reshuffled
    BLOCKS = 1    # blocks of contiguous rows in a random order, each block's rows shuffled
    IN_ORDER = 2  # 0..n-1 every epoch

STATUS = {CONVERGED: "converged", MAX_EPOCHS: "max_epochs", DIVERGED: "diverged",
          STALLED: "stalled"}
OPTIMIZERS = {"sgd": SGD, "adam": ADAM, "rmsprop": RMSPROP, "adagrad": ADAGRAD,
              "accelerated": ACCELERATED}
SCHEDULES = {"constant": CONSTANT, "inverse_scaling": INVERSE_SCALING,
             "step_decay": STEP_DECAY, "exponential": EXPONENTIAL, "cosine": COSINE,
             "plateau": PLATEAU}
#: The optimizer state's scalars, in the order of _optim.pxd's Counter.
COUNTERS = ("step", "momentum_t", "lr_factor", "plateau_best", "plateau_bad",
            "plateau_cooldown", "beta1_power", "beta2_power")
assert len(COUNTERS) == N_COUNTERS

# shuffle="blocks" keeps a window of its order (next_block): WINDOW_BLOCKS runs of a
# block and a batch, plus WINDOW_AHEAD entries for the rows a pass asks for ahead
# (GD_AHEAD, _simd.h); its entries move to the front when a block would end within
# WINDOW_MARGIN runs of its end.
cdef enum:
    WINDOW_BLOCKS = 8
    WINDOW_MARGIN = 2
    WINDOW_AHEAD = 64


cdef struct Stop:
    double abs_tol        # converged when stop_measure <= abs_tol + rel_tol ||params[:rel_len]||
    double rel_tol        # (params in the user's units; see holds)
    Py_ssize_t rel_len
    const double* error_map  # if not NULL, 2 n_free x n_free: see stop_measure
    double coords_abs_tol    # with error_map: the floor of the standardised slopes' test
    Py_ssize_t patience   # stalled after this many epochs without a smaller measure (0: never)
    double blowup         # diverged when the loss passes blowup x max(reference, blowup_floor)
    double blowup_floor   # (the reference: the first loss; the floor: a trivial predictor's)


cdef struct Precondition:
    # A linear model [w (d), b]: coordinates v_j = s_j w_j and, with an
    # intercept, c = b + sum_j m_j w_j (gdcore/precondition.py).
    Py_ssize_t d
    bint intercept
    const double* scale            # s
    const double* shift            # m
    const double* shift_over_scale  # m / s


cdef struct Penalty:
    # gdcore/loop.py's Penalty (the coordinates' weights are opt.l1 and opt.l2 too, but
    # for in_gradient, when l2_step is 0 and l2 p joins the gradient)
    const double* l2
    const double* l1
    const double* l2_step
    const double* l2_coords
    const double* l1_coords
    bint in_gradient


cdef struct Loop:
    Objective* obj
    Hyper opt
    Schedule sched
    Stop stop
    bint preconditioned
    Precondition pre
    bint penalised
    Penalty pen
    Py_ssize_t n, p, n_free, epochs, batch_size
    Py_ssize_t first_epoch  # epochs run before this run (a continued fit): the schedule's count
    double steps_per_epoch
    # the state: coordinates (preconditioned fits), optimizer vectors, counters
    double* state
    double* saved_state
    Py_ssize_t state_size
    double* coords
    double* slot[3]
    double* counters
    void* saved_params
    double saved_loss, saved_norm
    double coords_error      # stop_measure's ||dv||, the standardised slopes' error
    # work
    double* grad         # the mean gradient (p values)
    double* zgrad        # ... in the fit's coordinates (n_free; grad itself when not preconditioned)
    double* epoch_grad   # the mean of an epoch's batch gradients (n_free)
    double* errors       # stop_measure's image of the gradient under the error map (2 n_free)
    double* subgrad      # with a penalty: the subgradient the stopping rule reads (n_free)
    # record: epochs 0, stride, 2 stride, ... below n_epochs, at most max_records of them
    double* history
    void* path           # capacity x p parameters, or NULL
    Py_ssize_t capacity, max_records, n_records, stride, next_record, n_epochs, path_itemsize
    double first_loss, last_loss, previous_loss
    Py_ssize_t* order    # ROWS: the epoch's order; BLOCKS: its entries from position base on
    Py_ssize_t base      # (a window: see next_block)
    Py_ssize_t window    # the entries L.order holds
    uint64_t rng
    Order shuffle
    Py_ssize_t block     # rows per block (BLOCKS)
    Py_ssize_t* blocks   # ... and scratch for the blocks' order
    bint started
    double reference     # mini-batch: the loss before the first epoch
    double best_norm
    Py_ssize_t since_best
    double final_loss, final_norm


#: Sums of squares in this range are exact enough; outside it (overflow, underflow,
#: data near 1e-160 or 1e160) the norm is taken again on values scaled by their largest.
cdef double SQUARES_MIN = 1e-280
cdef double SQUARES_MAX = 1e280


cdef inline double norm_of(const floating* v, Py_ssize_t n) noexcept nogil:
    """||v||, summed left to right, without overflow or underflow."""
    cdef double sq = 0.0, x, big = 0.0
    cdef Py_ssize_t j
    for j in range(n):
        x = <double>v[j]
        sq += x * x
    if SQUARES_MIN <= sq <= SQUARES_MAX:
        return sqrt(sq)
    for j in range(n):
        x = fabs(<double>v[j])
        if x != x:
            return NAN
        if x > big:
            big = x
    if big == 0.0 or big == INFINITY:
        return big
    sq = 0.0
    for j in range(n):
        x = <double>v[j] / big
        sq += x * x
    return big * sqrt(sq)


cdef inline double norm2(const double* g, Py_ssize_t n) noexcept nogil:
    return norm_of(g, n)


cdef inline double x_norm(Loop* L, floating* params) noexcept nogil:
    return norm_of(params, L.stop.rel_len)


cdef double stop_measure(Loop* L, const double* g) noexcept nogil:
    """What the stopping rule reads: ||g||, or with an error map M (2 n_free rows) the
    error itself: rows 0 .. n_free-1 take g to (w, b) - (w*, b*) in the user's units
    (returned), the next rows to z - z* in standardised coordinates (its slopes' norm
    is kept in L.coords_error): for least squares, the Newton step."""
    cdef double gj
    cdef Py_ssize_t i, j, k = L.n_free
    if L.stop.error_map == NULL:
        return norm2(g, k)
    # column by column: each row's sum in the order of j, as the reference's, but the
    # rows' sums advance side by side instead of one chain of dependent additions
    for i in range(2 * k):
        L.errors[i] = 0.0
    for j in range(k):
        gj = g[j]
        for i in range(2 * k):
            L.errors[i] += L.stop.error_map[i * k + j] * gj
    L.coords_error = norm_of(L.errors + k, L.pre.d)
    return norm_of(L.errors, k)


cdef inline double composite(double g, double x, double t1, double t2) noexcept nogil:
    """The minimum-norm subgradient of f + t2 x^2 / 2 + t1 |x| from f's derivative g
    (loop.py's composite)."""
    if x > 0:
        return g + t2 * x + t1
    if x < 0:
        return g + t2 * x - t1
    return g - t1 if g > t1 else (g + t1 if g < -t1 else 0.0)


cdef double fit_measure(Loop* L, floating* params, const double* zgrad) noexcept nogil:
    """stop_measure of a gradient in the fit's coordinates (with a penalty, of the
    objective's subgradient it gives at the coordinates)."""
    cdef Py_ssize_t j
    cdef double x
    if not L.penalised:
        return stop_measure(L, zgrad)
    for j in range(L.n_free):
        x = L.coords[j] if L.preconditioned else <double>params[j]
        L.subgrad[j] = composite(zgrad[j], x, L.pen.l1_coords[j], L.pen.l2_coords[j])
    return stop_measure(L, L.subgrad)


cdef double grad_norm(Loop* L, floating* params) noexcept nogil:
    """||gradient|| over the free parameters (the objective's subgradient's, with a penalty)."""
    cdef Py_ssize_t j
    if not L.penalised:
        return norm2(L.grad, L.n_free)
    for j in range(L.n_free):
        L.subgrad[j] = composite(L.grad[j], <double>params[j], L.pen.l1[j], L.pen.l2_step[j])
    return norm2(L.subgrad, L.n_free)


cdef double penalty_value(Loop* L, const floating* params) noexcept nogil:
    """sum (l2 p^2 / 2 + l1 |p|), left to right."""
    cdef double total = 0.0, w
    cdef Py_ssize_t j
    for j in range(L.p):
        w = <double>params[j]
        total += 0.5 * L.pen.l2[j] * w * w + L.pen.l1[j] * fabs(w)
    return total


cdef bint holds(Loop* L, floating* params, double norm) noexcept nogil:
    """The stopping rule at ``norm`` (stop_measure's value): relative to the parameters
    in the user's units and, with an error map, to the standardised slopes as well."""
    if not norm <= L.stop.abs_tol + L.stop.rel_tol * x_norm(L, params):  # NaN: never
        return False
    if L.stop.error_map == NULL:
        return True
    return L.coords_error <= (L.stop.coords_abs_tol
                              + L.stop.rel_tol * norm_of(<const double*>L.coords, L.pre.d))


cdef inline bint is_bad(Loop* L, double loss, double reference) noexcept nogil:
    """Non-finite, or exploded past ``blowup`` times the reference (NaN: none yet) or
    its floor, whichever is larger: a fit started near a zero loss may still move."""
    if not isfinite(loss):
        return True
    if reference != reference:
        return False
    return loss > L.stop.blowup * (reference if reference > L.stop.blowup_floor
                                   else L.stop.blowup_floor)


cdef double evaluate(Loop* L, floating* params, const Py_ssize_t* rows, Py_ssize_t first,
                     Py_ssize_t m) noexcept nogil:
    """Mean loss over the rows; mean gradient into L.grad and, in coordinates, L.zgrad."""
    cdef double loss = L.obj.sums(L.obj.ctx, params, rows, first, m, L.grad)
    cdef double scale = 1.0 / m
    cdef Py_ssize_t j, d = L.pre.d
    for j in range(L.p):
        L.grad[j] *= scale
    loss = loss * scale
    if L.penalised:
        loss = loss + penalty_value(L, params)
        if L.pen.in_gradient:
            for j in range(L.p):
                L.grad[j] = L.grad[j] + L.pen.l2[j] * <double>params[j]
    if L.preconditioned:  # the chain rule through w = v / s, b = c - m . w
        for j in range(d):
            if L.pre.intercept:
                L.zgrad[j] = L.grad[j] / L.pre.scale[j] - L.pre.shift_over_scale[j] * L.grad[d]
            else:
                L.zgrad[j] = L.grad[j] / L.pre.scale[j]
        if L.pre.intercept:
            L.zgrad[d] = L.grad[d]
    return loss


cdef void take_step(Loop* L, floating* params, double epoch) noexcept nogil:
    """One optimizer step from the current gradient; the parameters follow the coordinates."""
    cdef double lr = L.opt.lr * lr_factor(&L.sched, L.counters, epoch, L.steps_per_epoch)
    cdef Py_ssize_t j, d = L.pre.d
    cdef double w, b
    if not L.preconditioned:
        step(&L.opt, params, L.zgrad, L.slot, L.counters, lr, L.n_free)
        return
    step(&L.opt, L.coords, L.zgrad, L.slot, L.counters, lr, L.n_free)
    b = L.coords[d] if L.pre.intercept else <double>params[d]
    for j in range(d):
        w = L.coords[j] / L.pre.scale[j]
        params[j] = <floating>w
        if L.pre.intercept:
            b = b - L.pre.shift[j] * w
    params[d] = <floating>b


cdef inline void snapshot(Loop* L, floating* params) noexcept nogil:
    memcpy(L.saved_state, L.state, L.state_size * sizeof(double))
    memcpy(L.saved_params, params, L.p * sizeof(floating))


cdef inline void restore(Loop* L, floating* params) noexcept nogil:
    memcpy(L.state, L.saved_state, L.state_size * sizeof(double))
    memcpy(params, L.saved_params, L.p * sizeof(floating))


cdef void thin(Loop* L) noexcept nogil:
    """Keep every other record (epochs 0, 2 stride, ...): the stride doubles."""
    cdef Py_ssize_t i
    cdef size_t row = L.p * L.path_itemsize
    for i in range((L.n_records + 1) // 2):
        L.history[i] = L.history[2 * i]
        if L.path != NULL:
            memcpy(<char*>L.path + i * row, <char*>L.path + 2 * i * row, row)
    L.n_records = (L.n_records + 1) // 2
    L.stride *= 2
    L.next_record = L.n_records * L.stride


cdef inline void record(Loop* L, double loss, const floating* params) noexcept nogil:
    """Epoch n_epochs ends with ``loss``: recorded if it falls on the stride."""
    if L.n_epochs == 0:
        L.first_loss = loss
    L.previous_loss, L.last_loss = L.last_loss, loss
    if L.n_epochs == L.next_record and L.n_records == L.max_records:
        thin(L)
    if L.n_epochs == L.next_record:  # epochs 0, stride, 2 stride, ...
        L.history[L.n_records] = loss
        if L.path != NULL:
            memcpy(<floating*>L.path + L.n_records * L.p, params, L.p * sizeof(floating))
        L.n_records += 1
        L.next_record += L.stride
    L.n_epochs += 1


cdef inline void unrecord(Loop* L) noexcept nogil:
    """Forget the last epoch (its step was undone)."""
    L.n_epochs -= 1
    if L.n_epochs == L.next_record - L.stride:
        L.n_records -= 1
        L.next_record -= L.stride
    L.last_loss = L.previous_loss


#: A stall is ``patience`` epochs in a row with ||g|| within this factor of its best
#: and no new best: precision's noise floor. Further above, the iterate is moving
#: (momentum's excursions past a lucky early minimum), whatever its best was.
cdef double STALL_BAND = 100.0


cdef int stop_test(Loop* L, floating* params, double norm) noexcept nogil:
    """CONVERGED or STALLED when the fit should stop at ``norm`` (stop_measure's), else -1."""
    if holds(L, params, norm):
        return CONVERGED
    if norm < L.best_norm:
        L.best_norm = norm
        L.since_best = 0
    elif norm > STALL_BAND * L.best_norm:  # far above its best: moving, not stuck
        L.since_best = 0
    else:
        L.since_best += 1
        if L.stop.patience > 0 and L.since_best >= L.stop.patience:
            return STALLED
    return -1


cdef int full_batch(Loop* L, floating* params, Py_ssize_t stop_at) noexcept nogil:
    """Epochs on all rows until the fit ends or ``stop_at`` epochs are done (PAUSED)."""
    cdef double loss, norm
    cdef int status
    while True:
        if L.n_epochs == stop_at and L.n_epochs < L.epochs:
            return PAUSED
        loss = evaluate(L, params, NULL, 0, L.n)
        if is_bad(L, loss, L.first_loss if L.n_epochs > 0 else NAN):
            if L.n_epochs > 0:  # undo the step that blew up, optimizer state with it
                restore(L, params)
                unrecord(L)
                L.final_loss, L.final_norm = L.saved_loss, L.saved_norm
            else:
                L.final_loss, L.final_norm = loss, NAN
            return DIVERGED
        norm = fit_measure(L, params, L.zgrad)
        status = stop_test(L, params, norm)
        if status >= 0 or L.n_epochs == L.epochs:
            L.final_loss, L.final_norm = loss, grad_norm(L, params)
            return status if status >= 0 else MAX_EPOCHS
        record(L, loss, params)
        snapshot(L, params)
        L.saved_loss, L.saved_norm = loss, grad_norm(L, params)
        take_step(L, params, L.first_epoch + L.n_epochs - 1)
        epoch_end(&L.sched, L.counters, loss)


cdef void warm(Loop* L, Block* b, Py_ssize_t rows) noexcept nogil:
    """Up to ``rows`` more of block b's rows asked into the cache, in row order."""
    cdef Py_ssize_t first = b.first + b.warmed
    rows = min(rows, b.m - b.warmed)
    if rows > 0:
        warm_rows(L.obj, first, rows)
    b.warmed += max(rows, 0)


cdef void sweep(Loop* L, Block* b, Py_ssize_t rows) noexcept nogil:
    """Up to ``rows`` more of block b's rows asked for by the next pass (its targets and
    weights now): one row each time it sums one, if the objective sweeps (Rows.sweep),
    else all at once (warm)."""
    cdef Py_ssize_t first = b.first + b.warmed
    rows = min(rows, b.m - b.warmed)
    if not L.obj.rows.sweeps or L.obj.rows.X == NULL:
        warm(L, b, rows)
    elif rows > 0:
        L.obj.rows.sweep = L.obj.rows.X + first * L.obj.rows.row_bytes
        warm_targets(L.obj, first, rows)
        b.warmed += rows


cdef Py_ssize_t next_block(Loop* L, Block* b, Py_ssize_t n_blocks, Py_ssize_t lo) noexcept nogil:
    """Block b finished (shuffled and warmed), the next one begun; the position in the
    epoch's order where b ends.

    shuffle="blocks" spreads the shuffling and warming of each block over the
    batches of the one before it, so that the block is in L2 when its batches
    run. The draws are those of gdcore/_random.py's shuffle_blocks, in its
    order: the blocks' order, then block after block.

    L.order holds a window of the order, L.window entries from position L.base
    (a few blocks, not a row's entry per row of the data): when the next block
    would end too near its end, the entries from the batch at position ``lo`` on
    move to its front. Every entry a pass reads (its batch, the rows it asks
    for ahead, a block on for a file's reads) then lies in the window."""
    cdef Py_ssize_t end = b.at + b.m, keep = lo - L.base
    block_steps(b, L.order, b.m, &L.rng)
    warm(L, b, b.m)
    if b.k + 1 < n_blocks:
        if end + WINDOW_MARGIN * (L.block + L.batch_size) > L.window and keep > 0:
            memmove(L.order, L.order + keep, (end - keep) * sizeof(Py_ssize_t))
            L.base, end = lo, end - keep
        block_begin(b, L.order, L.n, L.block, L.blocks, b.k + 1, end)
    return L.base + end


cdef inline void add_batch(Loop* L, Py_ssize_t m, double loss, double* loss_sum,
                           double* grad_sum) noexcept nogil:
    """A batch of m rows' mean loss and gradient (in coordinates) added m times to an
    epoch's sums."""
    cdef Py_ssize_t j
    loss_sum[0] += m * loss
    for j in range(L.n_free):
        grad_sum[j] += m * L.zgrad[j]


cdef bint batches(Loop* L, floating* params, const Py_ssize_t* rows, Py_ssize_t n,
                  Py_ssize_t epoch, double* loss_sum, double* grad_sum) noexcept nogil:
    """One step on each run of L.batch_size of rows[0 .. n-1] (the last may be shorter)
    in epoch ``epoch``, each batch added to the sums; True (and no step on it) at a batch
    whose loss is not finite. Part of an epoch whose order is run elsewhere (a chunk's
    rows on a cluster's worker: gdcore/dask.py). Rows in order (shuffle=False) are
    summed as contiguous rows, as mini_batch sums them."""
    cdef Py_ssize_t lo = 0, m
    cdef double loss
    while lo < n:
        m = L.batch_size if n - lo > L.batch_size else n - lo
        loss = evaluate(L, params, NULL if L.shuffle == IN_ORDER else rows, lo, m)
        if not isfinite(loss):
            return True
        add_batch(L, m, loss, loss_sum, grad_sum)
        take_step(L, params, L.first_epoch + epoch)
        lo += m
    return False


cdef int mini_batch(Loop* L, floating* params, Py_ssize_t stop_at) noexcept nogil:
    """Mini-batch epochs over rows reshuffled every epoch (L.shuffle says how); stops and
    reports as full_batch."""
    cdef Py_ssize_t lo, m, j, block_end = L.n
    cdef Py_ssize_t n_blocks = (L.n + L.block - 1) // L.block if L.block > 0 else 0
    cdef Block ahead  # shuffle="blocks": the block after the one being read
    cdef double loss, epoch_loss, norm = INFINITY, inv_n = 1.0 / L.n
    cdef bint stopped = False, diverged = False
    cdef int status = -1
    if not L.started and stop_at > 0:
        L.started = True
        L.reference = L.obj.sums(L.obj.ctx, params, NULL, 0, L.n, NULL) * (1.0 / L.n)  # loss only
        if L.penalised:
            L.reference = L.reference + penalty_value(L, params)
        if not isfinite(L.reference):
            L.final_loss, L.final_norm = L.reference, NAN
            return DIVERGED
    while L.n_epochs < stop_at:
        if L.shuffle == ROWS:
            shuffle(L.order, L.n, &L.rng)
        elif L.shuffle == BLOCKS:  # the blocks' order, then the first block (see next_block)
            for j in range(n_blocks):
                L.blocks[j] = j
            shuffle(L.blocks, n_blocks, &L.rng)
            L.base = 0
            block_begin(&ahead, L.order, L.n, L.block, L.blocks, 0, 0)
            block_end = next_block(L, &ahead, n_blocks, 0)
        snapshot(L, params)  # the epoch's start
        epoch_loss = 0.0
        for j in range(L.n_free):
            L.epoch_grad[j] = 0.0
        lo = 0
        while lo < L.n:
            m = L.batch_size if L.n - lo > L.batch_size else L.n - lo
            if L.shuffle == BLOCKS:
                while lo + m > block_end:
                    block_end = next_block(L, &ahead, n_blocks, lo)
            if L.shuffle == BLOCKS and block_end < L.n:  # the next block, m rows' worth
                sweep(L, &ahead, m)
            if L.shuffle == IN_ORDER:
                loss = evaluate(L, params, NULL, lo, m)
            else:
                loss = evaluate(L, params, L.order, lo - L.base, m)
            L.obj.rows.sweep = NULL
            if L.shuffle == BLOCKS and block_end < L.n:
                block_steps(&ahead, L.order, m, &L.rng)
            if not isfinite(loss):
                diverged = True
                break
            add_batch(L, m, loss, &epoch_loss, L.epoch_grad)
            take_step(L, params, L.first_epoch + L.n_epochs)
            lo += m
        while block_end < L.n:  # (a diverged epoch) the rest of the blocks' draws
            block_end = next_block(L, &ahead, n_blocks, lo)
        if not diverged:
            epoch_loss /= L.n
            diverged = is_bad(L, epoch_loss, L.reference)
            for j in range(L.p):
                if not isfinite(params[j]):
                    diverged = True
        if diverged:  # back to the parameters and state this epoch started from
            restore(L, params)
            break
        record(L, epoch_loss, <floating*>L.saved_params)
        epoch_end(&L.sched, L.counters, epoch_loss)
        for j in range(L.n_free):
            L.epoch_grad[j] = inv_n * L.epoch_grad[j]
        status = stop_test(L, params, fit_measure(L, params, L.epoch_grad))
        if status >= 0:
            stopped = True
            break
    if not (stopped or diverged or L.n_epochs == L.epochs):
        return PAUSED
    loss = evaluate(L, params, NULL, 0, L.n)
    L.final_loss = loss
    if not isfinite(loss):
        L.final_norm = NAN
        return DIVERGED
    L.final_norm = grad_norm(L, params)
    if diverged:
        return DIVERGED
    if stopped:
        return status
    norm = fit_measure(L, params, L.zgrad)
    return CONVERGED if holds(L, params, norm) else MAX_EPOCHS


cdef int run_loop(Loop* L, floating* params, Py_ssize_t stop_at) noexcept nogil:
    if L.batch_size == 0:
        return full_batch(L, params, stop_at)
    return mini_batch(L, params, stop_at)


cdef Hyper _hyper(dict h) except *:
    cdef Hyper out
    out.kind = OPTIMIZERS[h["kind"]]
    out.lr = h["lr"]
    out.momentum = h.get("momentum", 0.0)
    out.dampening = h.get("dampening", 0.0)
    out.weight_decay = h.get("weight_decay", 0.0)
    out.beta1 = h.get("beta1", 0.9)
    out.beta2 = h.get("beta2", 0.999)
    out.eps = h.get("eps", 1e-8)
    out.alpha = h.get("alpha", 0.99)
    out.lr_decay = h.get("lr_decay", 0.0)
    out.nesterov = h.get("nesterov", False)
    out.amsgrad = h.get("amsgrad", False)
    out.decoupled = h.get("decoupled", False)
    out.centered = h.get("centered", False)
    out.restart = h.get("restart", True)
    out.l1 = out.l2 = NULL
    return out


def _schedule(dict s):
    cdef Schedule out
    out.kind = SCHEDULES[s["kind"]]
    out.power_t = s.get("power_t", 0.0)
    out.gamma = s.get("gamma", 1.0)
    out.step_size = s.get("step_size", 1.0)
    out.warmup = s.get("warmup", 0.0)
    out.total = s.get("total", 1.0)
    out.min_factor = s.get("min_factor", 0.0)
    out.patience = s.get("patience", 10.0)
    out.threshold = s.get("threshold", 1e-4)
    out.cooldown = s.get("cooldown", 0.0)
    out.min_factor_plateau = s.get("min_factor_plateau", 0.0)
    return out


def _doubles(a):
    """``a`` as float64 values the loop may load: C order and aligned (an array that
    arrived in a message, on a cluster's worker, can start at any byte)."""
    return np.require(a, dtype=np.float64, requirements=["C_CONTIGUOUS", "ALIGNED"])


cdef class Run:
    """A fit in the compiled loop; the state the loop resumes from lives here.

    ``objective`` has ``capsule()`` (a pass module's objective) and, if its
    sums call back into Python, ``reraise()``: what they raised, raised once the
    loop has returned (their loss NaN ended it); ``params``
    is the model's flat parameter array (updated in place, its dtype the
    objective's); ``state`` the optimizer state, one float64 array laid out
    as [coordinates (preconditioned fits)] [n_slots vectors of n_free]
    [COUNTERS] (gdcore/loop.py builds it); ``optimizer`` and ``schedule``
    dicts of settings (``kind`` and the names of _optim.pxd's Hyper and
    Schedule); ``precondition`` None or (scale, shift, shift_over_scale,
    intercept). The history (and path) grow by doubling up to ``max_records``
    (even) entries, then keep every other one as the fit goes on (see thin).
    """

    cdef Loop L
    cdef object objective, params, state, saved_state, saved_params, grad, zgrad
    cdef object epoch_grad, errors, history, path, order, precondition, error_map
    cdef object penalty, subgrad, blocks, reraise
    cdef readonly Py_ssize_t n_slots
    cdef bint is_double

    def __init__(self, objective, params, state, *, dict optimizer, dict schedule,
                 Py_ssize_t n_slots, precondition, Py_ssize_t n_free, Py_ssize_t epochs,
                 Py_ssize_t batch_size, uint64_t seed, double abs_tol, double rel_tol,
                 Py_ssize_t rel_len, Py_ssize_t patience, double blowup, bint record_path,
                 Py_ssize_t max_records, double blowup_floor=0.0, error_map=None,
                 double coords_abs_tol=0.0, penalty=None, Py_ssize_t first_epoch=0,
                 order=None, shuffle="rows", Py_ssize_t block=0,
                 Py_ssize_t initial_capacity=1 << 16):
        cdef Objective* obj = <Objective*>PyCapsule_GetPointer(objective.capsule(),
                                                                 OBJECTIVE_CAPSULE)
        cdef Py_ssize_t p = obj.n_params, n = obj.n_rows, k, n_coords
        if not (isinstance(params, np.ndarray) and params.ndim == 1 and params.shape[0] == p
                and params.flags.c_contiguous and params.flags.writeable and params.flags.aligned
                and params.dtype.itemsize == obj.itemsize
                and params.dtype in (np.float32, np.float64)):
            raise ValueError(f"params must be a writeable, aligned C-contiguous float array "
                             f"of {p} values of the objective's dtype")
        if not 0 <= n_free <= p or not 0 <= rel_len <= n_free or not 0 <= n_slots <= 3:
            raise ValueError("n_free, rel_len or n_slots out of range")
        if epochs < 0 or batch_size < 0 or batch_size > n:
            raise ValueError("epochs or batch_size out of range")
        if max_records < 2 or max_records % 2:
            raise ValueError("max_records must be even and at least 2")
        n_coords = n_free if precondition is not None else 0
        if not (isinstance(state, np.ndarray) and state.dtype == np.float64 and state.ndim == 1
                and state.flags.c_contiguous and state.flags.aligned
                and state.shape[0] == n_coords + n_slots * n_free + N_COUNTERS):
            raise ValueError("state must be an aligned float64 array laid out as the Run's "
                             "docstring says")
        self.objective, self.params, self.state = objective, params, state
        self.reraise = getattr(objective, "reraise", None)
        self.is_double = params.dtype == np.float64
        self.n_slots = n_slots
        self.L.obj = obj
        self.L.opt = _hyper(optimizer)
        self.L.sched = _schedule(schedule)
        self.L.stop.abs_tol, self.L.stop.rel_tol = abs_tol, rel_tol
        self.L.stop.rel_len, self.L.stop.patience, self.L.stop.blowup = rel_len, patience, blowup
        self.L.stop.blowup_floor = blowup_floor
        self.L.stop.error_map = NULL
        if error_map is not None:
            self.error_map = _doubles(error_map)
            if self.error_map.shape != (2 * n_free, n_free) or precondition is None:
                raise ValueError("error_map must be 2 n_free x n_free, for a preconditioned fit")
            self.L.stop.error_map = <const double*>address(self.error_map)
        self.L.stop.coords_abs_tol = coords_abs_tol
        self.L.coords_error = 0.0
        self.L.n, self.L.p, self.L.n_free = n, p, n_free
        self.L.epochs, self.L.batch_size = epochs, batch_size
        self.L.steps_per_epoch = 1.0 if batch_size == 0 else <double>((n + batch_size - 1) // batch_size)
        self.L.preconditioned = precondition is not None
        self.L.pre.d = p - 1
        if precondition is not None:
            scale, shift, shift_over_scale, intercept = precondition
            self.precondition = [_doubles(a)
                                 for a in (scale, shift, shift_over_scale)]
            if any(a.shape != (p - 1,) for a in self.precondition):
                raise ValueError("precondition arrays must have one value per feature")
            if n_free != p - 1 + bool(intercept):
                raise ValueError("a preconditioned fit steps every weight and, with an intercept, b")
            self.L.pre.intercept = bool(intercept)
            self.L.pre.scale = <const double*>address(self.precondition[0])
            self.L.pre.shift = <const double*>address(self.precondition[1])
            self.L.pre.shift_over_scale = <const double*>address(self.precondition[2])
        self.L.penalised = penalty is not None
        self.L.opt.l1 = self.L.opt.l2 = NULL
        if penalty is not None:
            l2, l1, l2_coords, l1_coords, in_gradient = penalty
            self.penalty = [_doubles(a)
                            for a in (l2, l1, l2_coords, l1_coords)]
            if ([a.shape for a in self.penalty] != [(p,), (p,), (n_free,), (n_free,)]):
                raise ValueError("penalty must be (l2, l1) with one value per parameter and "
                                 "(l2_coords, l1_coords) with one per coordinate")
            self.penalty.append(np.zeros(p) if in_gradient else self.penalty[0])
            self.L.pen.l2 = <const double*>address(self.penalty[0])
            self.L.pen.l1 = <const double*>address(self.penalty[1])
            self.L.pen.l2_coords = <const double*>address(self.penalty[2])
            self.L.pen.l1_coords = <const double*>address(self.penalty[3])
            self.L.pen.l2_step = <const double*>address(self.penalty[4])
            self.L.pen.in_gradient = bool(in_gradient)
            if not in_gradient:
                self.L.opt.l1, self.L.opt.l2 = self.L.pen.l1_coords, self.L.pen.l2_coords
        self.subgrad = np.zeros(max(n_free, 1))
        self.L.subgrad = <double*>address(self.subgrad)
        self.saved_state = np.empty_like(state)
        self.saved_params = np.empty_like(params)
        self.L.state = <double*>address(state)
        self.L.saved_state = <double*>address(self.saved_state)
        self.L.state_size = state.shape[0]
        self.L.coords = self.L.state if n_coords else NULL
        for k in range(3):
            self.L.slot[k] = self.L.state + n_coords + min(k, max(n_slots - 1, 0)) * n_free
        self.L.counters = self.L.state + n_coords + n_slots * n_free
        self.L.saved_params = <void*>address(self.saved_params)
        self.grad = np.zeros(p)
        self.zgrad = np.zeros(n_free) if n_coords else self.grad
        self.epoch_grad = np.zeros(max(n_free, 1))
        self.L.grad = <double*>address(self.grad)
        self.L.zgrad = <double*>address(self.zgrad)
        self.L.epoch_grad = <double*>address(self.epoch_grad)
        self.errors = np.zeros(max(2 * n_free, 1))
        self.L.errors = <double*>address(self.errors)
        self.L.max_records = max_records
        capacity = max(1, min(epochs, initial_capacity, max_records))
        self.history = np.empty(capacity)
        self.path = np.empty((capacity, p), dtype=params.dtype) if record_path else None
        self.L.path_itemsize = params.dtype.itemsize
        self._point_at_records()
        self.L.n_epochs = self.L.n_records = 0
        self.L.stride = 1
        self.L.next_record = 0
        self.L.first_loss = self.L.last_loss = self.L.previous_loss = NAN
        if shuffle is False:
            self.L.shuffle = IN_ORDER
        elif shuffle == "rows":
            self.L.shuffle = ROWS
        elif shuffle == "blocks":
            self.L.shuffle = BLOCKS
        else:
            raise ValueError(f"shuffle must be 'rows', 'blocks' or False, got {shuffle!r}")
        if self.L.shuffle == BLOCKS and batch_size and block < 1:
            raise ValueError("shuffle='blocks' needs block >= 1 rows")
        self.L.block = block
        # the row order: whole for "rows" (each epoch reshuffles the last one), a window
        # of a few blocks for "blocks" (each epoch draws its own: see next_block), none in
        # order
        self.L.window = 1
        if batch_size and self.L.shuffle == ROWS:
            self.L.window = n
        elif batch_size and self.L.shuffle == BLOCKS:
            self.L.window = min(n, WINDOW_BLOCKS * (block + batch_size) + WINDOW_AHEAD)
        self.order = np.arange(self.L.window, dtype=np.intp)
        if order is not None and self.L.shuffle == ROWS and batch_size:
            # a continued fit's row order (the mini-batch stream)
            if not (isinstance(order, np.ndarray) and order.shape == self.order.shape
                    and np.array_equal(np.sort(order), self.order)):
                raise ValueError("order must be a permutation of the rows")
            self.order[:] = order
        self.L.order = <Py_ssize_t*>address(self.order)
        self.L.base = 0
        self.blocks = np.empty(max((n + block - 1) // block, 1) if block > 0 else 1, dtype=np.intp)
        self.L.blocks = <Py_ssize_t*>address(self.blocks)
        self.L.rng = seed
        if first_epoch < 0:
            raise ValueError("first_epoch must be >= 0")
        self.L.first_epoch = first_epoch
        self.L.started = False
        self.L.reference = NAN
        self.L.best_norm = INFINITY
        self.L.since_best = 0
        self.L.saved_loss = self.L.saved_norm = NAN

    def _point_at_records(self):
        self.L.history = <double*>address(self.history)
        self.L.path = <void*>address(self.path) if self.path is not None else NULL
        self.L.capacity = self.history.shape[0]

    @property
    def n_epochs(self):
        return self.L.n_epochs

    @property
    def stream(self):
        """(random state, row order): what a continued fit starts its mini-batches from
        (the run's own order array, not a copy: read it once the run has ended). The
        order is None but for shuffle="rows", whose epochs reshuffle it."""
        carried = self.L.shuffle == ROWS and self.L.batch_size > 0
        return int(self.L.rng), self.order if carried else None

    @property
    def last_loss(self):
        return self.L.last_loss

    def advance(self, Py_ssize_t epochs):
        """Run at most ``epochs`` more epochs: (status, final_loss, grad_norm), or None if paused."""
        cdef Py_ssize_t target = min(self.L.epochs, self.L.n_epochs + epochs), stop_at
        cdef int status
        cdef void* params = <void*>address(self.params)
        while True:
            # while the records may still grow, pause when they fill up (stride 1 till then)
            stop_at = min(target, self.L.capacity) if self.L.capacity < self.L.max_records else target
            with nogil:
                if self.is_double:
                    status = run_loop(&self.L, <double*>params, stop_at)
                else:
                    status = run_loop(&self.L, <float*>params, stop_at)
            if self.reraise is not None:
                self.reraise()
            if status != PAUSED:
                return STATUS[status], self.L.final_loss, self.L.final_norm
            if self.L.n_epochs == target:
                return None
            self._grow()

    def _grow(self):
        capacity = min(self.L.epochs, 2 * self.L.capacity, self.L.max_records)
        self.history = np.resize(self.history, capacity)
        if self.path is not None:
            self.path = np.resize(self.path, (capacity, self.L.p))
        self._point_at_records()

    def records(self):
        """(losses, path or None, stride) recorded so far, as new arrays: epochs 0,
        stride, 2 stride, ... below n_epochs."""
        n = self.L.n_records
        return (self.history[:n].copy(), None if self.path is None else self.path[:n].copy(),
                self.L.stride)

    def evaluate(self):
        """(mean loss, ||gradient|| over the free parameters, what the stopping rule
        reads: the gradient in the fit's coordinates, or its error map's image) at the
        current parameters."""
        cdef double loss
        cdef void* params = <void*>address(self.params)
        with nogil:
            if self.is_double:
                loss = evaluate(&self.L, <double*>params, NULL, 0, self.L.n)
            else:
                loss = evaluate(&self.L, <float*>params, NULL, 0, self.L.n)
        if self.reraise is not None:
            self.reraise()
        if self.is_double:
            return (loss, grad_norm(&self.L, <double*>params),
                    fit_measure(&self.L, <double*>params, self.L.zgrad))
        return (loss, grad_norm(&self.L, <float*>params),
                fit_measure(&self.L, <float*>params, self.L.zgrad))

    def batches(self, rows, Py_ssize_t epoch, double loss_sum, grad_sum):
        """gdcore.loop.ReferenceRun.batches in C: a step on each batch of ``rows`` (an
        order of the objective's n rows) in epoch ``epoch``; (loss_sum, grad_sum) plus
        each batch's rows times its mean loss and gradient, and whether a batch's loss
        was not finite."""
        cdef Py_ssize_t n = self.L.n
        cdef bint diverged
        cdef void* params = <void*>address(self.params)
        if self.L.batch_size == 0:
            raise ValueError("batches needs a mini-batch Run (batch_size >= 1)")
        if not (isinstance(rows, np.ndarray) and rows.dtype == np.intp and rows.ndim == 1
                and rows.flags.c_contiguous and rows.flags.aligned and rows.shape[0] == n
                and rows.min() >= 0 and rows.max() < n):
            raise ValueError(f"rows must be a C-contiguous intp array of the {n} rows")
        if self.L.shuffle == IN_ORDER and not np.array_equal(rows, np.arange(n)):
            raise ValueError("rows must be in order (0 .. n-1) in a Run of shuffle=False")
        sums = np.array(grad_sum, dtype=np.float64)
        if sums.shape != (self.L.n_free,):
            raise ValueError(f"grad_sum must have {self.L.n_free} values")
        cdef double* g = <double*>address(sums) if self.L.n_free else NULL
        cdef const Py_ssize_t* listed = <const Py_ssize_t*>address(rows)
        with nogil:
            if self.is_double:
                diverged = batches(&self.L, <double*>params, listed, n, epoch, &loss_sum, g)
            else:
                diverged = batches(&self.L, <float*>params, listed, n, epoch, &loss_sum, g)
        if self.reraise is not None:
            self.reraise()
        return loss_sum, sums, bool(diverged)

    @property
    def steps_per_epoch(self):
        """Steps an epoch takes, as the schedule counts them (an epoch of several
        chunks' batches counts them all)."""
        return self.L.steps_per_epoch

    @steps_per_epoch.setter
    def steps_per_epoch(self, double steps):
        if not steps >= 1.0:
            raise ValueError("steps_per_epoch must be at least 1")
        self.L.steps_per_epoch = steps

    def converged_at(self, double norm):
        """Whether the stopping rule holds at ``norm`` (evaluate()'s third value)."""
        cdef void* params = <void*>address(self.params)
        if self.is_double:
            return bool(holds(&self.L, <double*>params, norm))
        return bool(holds(&self.L, <float*>params, norm))


def optimizer_step(dict optimizer, x, const double[::1] g, double[::1] state,
                   Py_ssize_t n_slots, double lr, prox=None):
    """One compiled step on x (float32/64) in place, state laid out as for Run without
    coordinates (with ``prox`` = (t1, t2), a penalty's proximal step): the reference
    steps of gdcore/optim are tested against it."""
    cdef Hyper h = _hyper(optimizer)
    cdef const double[::1] t1, t2
    if prox is not None:
        t1 = np.ascontiguousarray(prox[0], dtype=np.float64)
        t2 = np.ascontiguousarray(prox[1], dtype=np.float64)
        if t1.shape[0] != g.shape[0] or t2.shape[0] != g.shape[0]:
            raise ValueError("optimizer_step: prox must hold one value per coordinate")
        h.l1, h.l2 = &t1[0], &t2[0]
    cdef Py_ssize_t n = g.shape[0], k
    cdef double* slot[3]
    if state.shape[0] != n_slots * n + N_COUNTERS or x.shape[0] != n:
        raise ValueError("optimizer_step: sizes do not match")
    for k in range(3):
        slot[k] = &state[0] + min(k, max(n_slots - 1, 0)) * n
    cdef double[::1] x64
    cdef float[::1] x32
    if x.dtype == np.float64:
        x64 = x
        step(&h, &x64[0], &g[0], slot, &state[n_slots * n], lr, n)
    else:
        x32 = x
        step(&h, &x32[0], &g[0], slot, &state[n_slots * n], lr, n)


def schedule_factor(dict schedule, double[::1] counters, double epoch, double steps_per_epoch,
                    loss=None):
    """The compiled schedule's factor for the next step (after ``epoch_end(loss)`` if a
    loss is given): the reference schedules of gdcore/optim are tested against it."""
    cdef Schedule s = _schedule(schedule)
    if counters.shape[0] != N_COUNTERS:
        raise ValueError("counters must have one value per COUNTERS entry")
    if loss is not None:
        epoch_end(&s, &counters[0], loss)
    return lr_factor(&s, &counters[0], epoch, steps_per_epoch)
