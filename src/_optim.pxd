# The optimizer step and the learning-rate schedule, once per gradient (O(p)).
#
# The epoch loop (_loop.pyx) calls, after every gradient g of the loss at the
# coordinates x: lr_t = lr * lr_factor(schedule, ...), then step(x, g, lr_t),
# which updates x in place. x is either the model's parameters (in their
# dtype: the step is computed in double and rounded once) or the double
# coordinates of a preconditioned fit. The readable references are the
# ``update`` methods of gdcore/optim; both follow torch.optim's formulas
# operation by operation, so the trajectories agree to rounding.
#
# An optimizer's state is the caller's: up to three vectors (``slot``, in
# the order of the Python class's ``slots``) and the COUNTERS, all in one
# double buffer so that the loop snapshots it with one copy.
from cython cimport floating
from libc.math cimport M_PI, cos, floor, pow, sqrt

cdef enum OptimizerKind:
    SGD = 0          # torch.optim.SGD; slot 0: momentum buffer (momentum != 0)
    ADAM = 1         # torch.optim.Adam, AdamW (decoupled); exp_avg, exp_avg_sq, max_exp_avg_sq
    RMSPROP = 2      # torch.optim.RMSprop; square_avg, momentum buffer, grad_avg
    ADAGRAD = 3      # torch.optim.Adagrad; state sum
    ACCELERATED = 4  # Nesterov/FISTA momentum with gradient restart; x_prev

cdef enum ScheduleKind:
    CONSTANT = 0
    INVERSE_SCALING = 1   # 1 / (t + 1)^power_t, t the steps taken before this one
    STEP_DECAY = 2        # gamma^floor(epoch / step_size)
    EXPONENTIAL = 3       # gamma^epoch
    COSINE = 4            # linear warm-up over ``warmup`` epochs, then a half cosine to min_factor at ``total``
    PLATEAU = 5           # times gamma when the epoch loss has not improved for ``patience`` epochs

cdef enum:                # Counter: the scalars of the state, after its vectors
    STEP = 0              # optimizer steps taken
    MOMENTUM_T = 1        # ACCELERATED: t_k of the momentum sequence (1 at the start, and after a restart)
    LR_FACTOR = 2         # PLATEAU: the factor reached so far
    PLATEAU_BEST = 3      # PLATEAU: the best epoch loss
    PLATEAU_BAD = 4       # PLATEAU: epochs since it improved
    PLATEAU_COOLDOWN = 5  # PLATEAU: epochs left before it may reduce again
    BETA1_POWER = 6       # ADAM: beta1^t and beta2^t, kept as running products (1 at the
    BETA2_POWER = 7       #   start): two multiplies a step, not two calls of pow
    N_COUNTERS = 8


cdef struct Hyper:
    int kind
    double lr
    double momentum
    double dampening
    double weight_decay
    double beta1
    double beta2
    double eps
    double alpha            # RMSprop's smoothing constant
    double lr_decay         # Adagrad
    bint nesterov
    bint amsgrad
    bint decoupled          # AdamW: p <- p (1 - lr weight_decay) before the Adam step
    bint centered           # RMSprop
    bint restart            # ACCELERATED: adaptive (gradient) restart
    const double* l1        # SGD, ACCELERATED: a penalty's weights on |x_j| and x_j^2 / 2 (NULL:
    const double* l2        # none): x_j <- soft(x_j, lr l1_j) / (1 + lr l2_j) after the step


cdef struct Schedule:
    int kind
    double power_t
    double gamma
    double step_size
    double warmup
    double total
    double min_factor
    double patience
    double threshold
    double cooldown
    double min_factor_plateau


cdef inline double lerp(double start, double end, double weight) noexcept nogil:
    """torch.lerp's formula (exact at both ends); a select, not a branch, so loops that
    call it still vectorise."""
    return start + weight * (end - start) if weight < 0.5 else end - (end - start) * (1 - weight)


cdef inline double soft(double v, double t) noexcept nogil:
    """The proximal map of t |v|: v - t above t, v + t below -t, else 0."""
    return v - t if v > t else (v + t if v < -t else 0.0)


cdef inline double proximal(double v, double lr, const Hyper* o, Py_ssize_t j) noexcept nogil:
    """The penalty's proximal map of coordinate j (gdcore/optim/base.py's proximal)."""
    return soft(v, lr * o.l1[j]) / (1 + lr * o.l2[j])


cdef inline double forward(double x, double g, double lr, const Hyper* o,
                           Py_ssize_t j) noexcept nogil:
    """The accelerated method's gradient step from x (with a penalty, its proximal step)."""
    return x - lr * g if o.l1 == NULL else proximal(x - lr * g, lr, o, j)


cdef inline double sgd_direction(const Hyper* o, double g, double x, double* s0, double t,
                                Py_ssize_t j) noexcept nogil:
    """torch.optim.SGD's direction d for coordinate j (updating its momentum buffer)."""
    cdef double d = g, buf
    if o.weight_decay != 0:
        d = d + o.weight_decay * x
    if o.momentum != 0:
        buf = d if t == 0 else s0[j] * o.momentum + (1 - o.dampening) * d
        s0[j] = buf
        d = d + o.momentum * buf if o.nesterov else buf
    return d


cdef inline void step(const Hyper* h, floating* x, const double* g, double** slot,
                      double* counters, double lr, Py_ssize_t n) noexcept nogil:
    """One step of the optimizer on x[:n] with gradient g[:n] and learning rate lr.

    The hyperparameters and slot pointers are read into locals first: the
    compiler then knows the stores to x and the slots cannot change them, and
    hoists the tests out of the loops (and vectorises them)."""
    cdef Hyper o = h[0]
    cdef double* s0 = slot[0]
    cdef double* s1 = slot[1]
    cdef double* s2 = slot[2]
    cdef Py_ssize_t j
    cdef double t = counters[STEP], d, buf, denom, bc1, bc2_sqrt, step_size, clr
    cdef double dot, t_next, beta, x_new, shrink, m, v, v_max
    cdef floating xj
    cdef bint coupled
    if o.kind == SGD:
        if o.l1 == NULL:  # (its own loop: the one below does not vectorise)
            for j in range(n):
                x[j] = <floating>(x[j] + (-lr) * sgd_direction(&o, g[j], x[j], s0, t, j))
        else:  # the penalty's proximal step after the step; momentum follows the iterates
            for j in range(n):
                xj = x[j]
                x[j] = <floating>(x[j] + (-lr) * sgd_direction(&o, g[j], x[j], s0, t, j))
                x_new = proximal(x[j], lr, &o, j)
                if o.momentum != 0:
                    s0[j] = (xj - x_new) / lr
                x[j] = <floating>x_new
    elif o.kind == ADAM:
        counters[BETA1_POWER] = counters[BETA1_POWER] * o.beta1
        counters[BETA2_POWER] = counters[BETA2_POWER] * o.beta2
        bc1 = 1 - counters[BETA1_POWER]
        bc2_sqrt = sqrt(1 - counters[BETA2_POWER])
        step_size = lr / bc1
        # The options' tests choose between values computed either way (no branch in
        # the loop, so it vectorises); each value is the formula's, rounded alike.
        coupled = o.weight_decay != 0 and not o.decoupled
        shrink = 1 - lr * o.weight_decay if o.decoupled else 1.0  # x * 1.0 is x exactly
        for j in range(n):
            xj = <floating>(x[j] * shrink)
            d = g[j] + o.weight_decay * xj if coupled else g[j]
            m = lerp(s0[j], d, 1 - o.beta1)
            v = s1[j] * o.beta2 + (1 - o.beta2) * d * d
            v_max = v if v > s2[j] else s2[j]
            s0[j], s1[j] = m, v
            s2[j] = v_max if o.amsgrad else s2[j]
            denom = sqrt(v_max if o.amsgrad else v) / bc2_sqrt + o.eps
            x[j] = <floating>(xj + (-step_size) * m / denom)
    elif o.kind == RMSPROP:
        for j in range(n):
            d = g[j]
            if o.weight_decay != 0:
                d = d + o.weight_decay * x[j]
            s0[j] = s0[j] * o.alpha + (1 - o.alpha) * d * d
            if o.centered:
                s2[j] = lerp(s2[j], d, 1 - o.alpha)
                denom = sqrt(s0[j] + (-1.0) * s2[j] * s2[j]) + o.eps
            else:
                denom = sqrt(s0[j]) + o.eps
            if o.momentum > 0:
                s1[j] = s1[j] * o.momentum + d / denom
                x[j] = <floating>(x[j] + (-lr) * s1[j])
            else:
                x[j] = <floating>(x[j] + (-lr) * d / denom)
    elif o.kind == ADAGRAD:
        clr = lr / (1 + t * o.lr_decay)
        for j in range(n):
            d = g[j]
            if o.weight_decay != 0:
                d = d + o.weight_decay * x[j]
            s0[j] = s0[j] + d * d
            x[j] = <floating>(x[j] + (-clr) * d / (sqrt(s0[j]) + o.eps))
    else:  # ACCELERATED: x holds the extrapolated point y_k, slot[0] the iterate x_{k-1}
        if t == 0:
            for j in range(n):
                s0[j] = x[j]
        dot = 0.0
        if o.l1 == NULL:
            for j in range(n):
                dot += g[j] * ((x[j] - lr * g[j]) - s0[j])
        else:  # the proximal gradient (y_k - x_k) / lr in place of g (lr > 0: same sign)
            for j in range(n):
                x_new = forward(x[j], g[j], lr, &o, j)
                dot += (x[j] - x_new) * (x_new - s0[j])
        if o.restart and dot > 0:  # the step went uphill of the momentum: start it again
            counters[MOMENTUM_T] = 1.0
            for j in range(n):
                x_new = forward(x[j], g[j], lr, &o, j)
                s0[j] = x_new
                x[j] = <floating>x_new
        else:
            t_next = (1 + sqrt(1 + 4 * counters[MOMENTUM_T] * counters[MOMENTUM_T])) / 2
            beta = (counters[MOMENTUM_T] - 1) / t_next
            counters[MOMENTUM_T] = t_next
            for j in range(n):
                x_new = forward(x[j], g[j], lr, &o, j)
                x[j] = <floating>(x_new + beta * (x_new - s0[j]))
                s0[j] = x_new
    counters[STEP] = t + 1


cdef inline double lr_factor(const Schedule* s, const double* counters, double epoch,
                             double steps_per_epoch) noexcept nogil:
    """The schedule's factor on lr for the next step (``epoch`` epochs finished)."""
    cdef double t = counters[STEP], tau, progress
    if s.kind == INVERSE_SCALING:
        return 1.0 / pow(t + 1, s.power_t)
    if s.kind == STEP_DECAY:
        return pow(s.gamma, floor(epoch / s.step_size))
    if s.kind == EXPONENTIAL:
        return pow(s.gamma, epoch)
    if s.kind == COSINE:
        tau = t / steps_per_epoch
        if tau < s.warmup:
            return (t + 1) / (s.warmup * steps_per_epoch)
        progress = (tau - s.warmup) / (s.total - s.warmup) if s.total > s.warmup else 1.0
        if progress > 1:
            progress = 1
        return s.min_factor + (1 - s.min_factor) * (1 + cos(M_PI * progress)) / 2
    if s.kind == PLATEAU:
        return counters[LR_FACTOR]
    return 1.0


cdef inline void epoch_end(const Schedule* s, double* counters, double loss) noexcept nogil:
    """torch's ReduceLROnPlateau (mode "min", relative threshold) after an epoch of loss ``loss``."""
    if s.kind != PLATEAU:
        return
    if loss < counters[PLATEAU_BEST] * (1 - s.threshold):
        counters[PLATEAU_BEST] = loss
        counters[PLATEAU_BAD] = 0
    else:
        counters[PLATEAU_BAD] += 1
    if counters[PLATEAU_COOLDOWN] > 0:
        counters[PLATEAU_COOLDOWN] -= 1
        counters[PLATEAU_BAD] = 0
    if counters[PLATEAU_BAD] > s.patience:
        if counters[LR_FACTOR] * s.gamma > s.min_factor_plateau:
            counters[LR_FACTOR] = counters[LR_FACTOR] * s.gamma
        else:
            counters[LR_FACTOR] = s.min_factor_plateau
        counters[PLATEAU_COOLDOWN] = s.cooldown
        counters[PLATEAU_BAD] = 0
