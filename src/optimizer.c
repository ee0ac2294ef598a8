/*
 * optimizer.c -- Adam, AdamW, SGD (momentum) and RMSprop, each written as
 * torch.optim writes it so that a model trained here follows the same
 * trajectory as in PyTorch, plus gradient clipping by each tensor's norm
 * (Keras' clipnorm), by the global norm (PyTorch's clip_grad_norm_, Keras'
 * global_clipnorm) and by value.
 */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

typedef struct optim_kind optim_kind_t;

struct seqcls_optimizer {
    const optim_kind_t *kind;
    double lr, beta1, beta2, eps, weight_decay, momentum, rho, clipnorm, clipvalue;
    double clipnorm_tensor;        /* 1.1 */
    int64_t steps;
    /* Adam's step size lr / (1 - beta1^t) and sqrt(1 - beta2^t) of the
     * step being taken: computed once a step, not once a chunk or row */
    real step_size, sbc2;
    uint64_t model_id;             /* the model the state belongs to (seqcls_model.id), or 0 */
    int nparams;
    real **m1;                     /* Adam first moment / momentum buffer */
    real **m2;                     /* Adam second moment / RMSprop square average */
};

/* One update of n elements of a parameter p with gradient g and state m1, m2. */
typedef void (*optim_step_fn)(const seqcls_optimizer_t *o, real *p, const real *g, real *m1,
                              real *m2, size_t n);

/* What distinguishes the optimiser kinds (the table, optim_kinds, follows
 * the update functions). */
struct optim_kind {
    int id;                  /* SEQCLS_OPTIM_*: also its id in OPTM */
    int moments;             /* state arrays per parameter: m1, or m1 and m2 */
    double weight_decay;     /* its default */
    int decoupled;           /* AdamW: decay the weights, not through the gradient */
    optim_step_fn step;
};

static const optim_kind_t *optim_kind(int64_t kind);

/* Each hyperparameter's valid values, one check for the setter and the
 * loader alike.  The setter takes floats, so a value must also be one. */
static int hyper_ok(int option, double v)
{
    if (!isfinite(v) || fabs(v) > FLT_MAX)
        return 0;
    switch (option) {
    case SEQCLS_OPTIM_LR:
    case SEQCLS_OPTIM_EPS:       /* 0 would divide by zero for untouched parameters */
        return v > 0;
    case SEQCLS_OPTIM_BETA1:
    case SEQCLS_OPTIM_BETA2:
    case SEQCLS_OPTIM_MOMENTUM:
    case SEQCLS_OPTIM_RHO:
        return v >= 0 && v < 1;
    default:                     /* weight decay, clipnorm (both), clipvalue */
        return v >= 0;
    }
}

/* The field of each SEQCLS_OPTIM_* option, in the order OPTM stores them:
 * the first OPTIM_OPTIONS_V1 in every version, the others (defaults 0) in
 * OPTM version 2, written only when one of them is set. */
#define OPTIM_OPTIONS 10
#define OPTIM_OPTIONS_V1 9
static double *hyper(seqcls_optimizer_t *o, int option)
{
    double *h[OPTIM_OPTIONS + 1] = {
        [SEQCLS_OPTIM_LR] = &o->lr,
        [SEQCLS_OPTIM_BETA1] = &o->beta1,
        [SEQCLS_OPTIM_BETA2] = &o->beta2,
        [SEQCLS_OPTIM_EPS] = &o->eps,
        [SEQCLS_OPTIM_WEIGHT_DECAY] = &o->weight_decay,
        [SEQCLS_OPTIM_MOMENTUM] = &o->momentum,
        [SEQCLS_OPTIM_RHO] = &o->rho,
        [SEQCLS_OPTIM_CLIPNORM] = &o->clipnorm,
        [SEQCLS_OPTIM_CLIPVALUE] = &o->clipvalue,
        [SEQCLS_OPTIM_CLIPNORM_PER_TENSOR] = &o->clipnorm_tensor,
    };
    return option >= 1 && option <= OPTIM_OPTIONS ? h[option] : NULL;
}

int seqcls_optimizer_create(seqcls_optimizer_t **out, int kind, float lr)
{
    seqcls_optimizer_t *o;
    seqcls__clear_error();
    if (!out)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "seqcls_optimizer_create: out is NULL");
    *out = NULL;
    if (!optim_kind(kind))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "seqcls_optimizer_create: unknown kind %d", kind);
    if (!hyper_ok(SEQCLS_OPTIM_LR, lr))
        return seqcls__fail(SEQCLS_E_INVALID_ARG,
                            "seqcls_optimizer_create: lr %g must be positive and finite", (double)lr);
    o = seqcls__calloc(1, sizeof *o);
    if (!o)
        return seqcls__fail(SEQCLS_E_NOMEM, "seqcls_optimizer_create: out of memory");
    o->kind = optim_kind(kind);
    o->lr = lr;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->weight_decay = o->kind->weight_decay;
    o->rho = 0.99;
    *out = o;
    return SEQCLS_OK;
}

static void free_state(seqcls_optimizer_t *o)
{
    int i;
    for (i = 0; i < o->nparams; i++) {
        if (o->m1)
            seqcls__dealloc(o->m1[i]);
        if (o->m2)
            seqcls__dealloc(o->m2[i]);
    }
    seqcls__dealloc(o->m1);
    seqcls__dealloc(o->m2);
    o->m1 = o->m2 = NULL;
    o->nparams = 0;
    o->model_id = 0;
}

void seqcls_optimizer_free(seqcls_optimizer_t *o)
{
    if (!o)
        return;
    free_state(o);
    seqcls__dealloc(o);
}

int64_t seqcls_optimizer_steps(const seqcls_optimizer_t *o) { return o ? o->steps : 0; }

int seqcls_optimizer_set_float(seqcls_optimizer_t *o, int option, float value)
{
    const char *func = "seqcls_optimizer_set_float";
    seqcls__clear_error();
    if (!o)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: optimizer is NULL", func);
    if (!hyper(o, option))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: unknown option %d", func, option);
    if (!isfinite(value))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: value is not finite", func);
    if (!hyper_ok(option, value))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: value %g is out of range for option %d",
                            func, (double)value, option);
    *hyper(o, option) = value;
    return SEQCLS_OK;
}

int optimizer_check_model(const seqcls_optimizer_t *o, const seqcls_model_t *m, const char *func)
{
    if (o->model_id && (o->model_id != m->id || o->nparams != m->nparams))
        return seqcls__fail(SEQCLS_E_STATE,
                            "%s: this optimizer holds state for another model (or the model's "
                            "parameters changed)",
                            func);
    return SEQCLS_OK;
}

/* Bind the optimiser to `m` on first use, creating zeroed state. */
static int bind_model(seqcls_optimizer_t *o, const seqcls_model_t *m, const char *func)
{
    int i, n = m->nparams, rc = optimizer_check_model(o, m, func);
    if (rc || o->model_id)
        return rc;
    o->m1 = seqcls__calloc((size_t)n + 1, sizeof *o->m1);
    o->m2 = seqcls__calloc((size_t)n + 1, sizeof *o->m2);
    o->nparams = n;
    if (!o->m1 || !o->m2)
        goto nomem;
    for (i = 0; i < n; i++) {
        /* State for frozen parameters too, so unfreezing later just works. */
        size_t k = m->params[i].value->numel;
        o->m1[i] = seqcls__calloc(k, sizeof(real));
        if (!o->m1[i])
            goto nomem;
        if (o->kind->moments > 1 && !(o->m2[i] = seqcls__calloc(k, sizeof(real))))
            goto nomem;
    }
    o->model_id = m->id;
    return SEQCLS_OK;
nomem:
    free_state(o);
    return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory for optimizer state", func);
}

/*
 * The parts of a parameter's gradient that can be non-zero: the whole
 * tensor (one span), or for a sparse parameter its listed rows.  Calls
 * fn(ctx, g, n) on each span; the sum of what it returns.
 */
typedef double (*span_fn)(void *ctx, real *g, size_t n, size_t offset);
static double each_span(const param_t *p, span_fn fn, void *ctx)
{
    const sparse_rows_t *s = p->sparse;
    double sum = 0;
    int r;
    if (!s)
        return fn(ctx, p->grad->data, p->grad->numel, 0);
    for (r = 0; r < s->n; r++)
        sum += fn(ctx, sparse_listed_grad(s, r), (size_t)s->row_len,
                  (size_t)s->rows[r] * s->row_len);
    return sum;
}

/* The first non-finite element (+1, as a double so that 0 = none). */
static double span_bad(void *ctx, real *g, size_t n, size_t offset)
{
    size_t *first = ctx, k = vec_first_not_finite(g, n);
    if (k < n && *first == SIZE_MAX)
        *first = offset + k;
    return 0;
}

static double span_sumsq(void *ctx, real *g, size_t n, size_t offset)
{
    double sum = 0;
    size_t k;
    (void)ctx;
    (void)offset;
    for (k = 0; k < n; k++)
        sum += (double)g[k] * g[k];
    return sum;
}

/* The same over the short rows of a sparse parameter, vectorised: squares
 * summed in RNN_BLOCK double lanes, then the lanes (another order of
 * additions than span_sumsq's, which dense parameters keep). */
SEQCLS_CLONE_INLINE void lanes_sumsq(double *restrict lane, const real *restrict g, int k, int n)
{
    int i;
    for (i = 0; i < n; i++)
        lane[i] += (double)g[k + i] * g[k + i];
}

SEQCLS_VECTORISED
static double span_sumsq_lanes(void *ctx, real *g, size_t n, size_t offset)
{
    double lane[RNN_BLOCK] = {0}, sum = 0;
    int i;
    (void)ctx;
    (void)offset;
    RNN_SPANS((int)n, lanes_sumsq, lane, g);
    for (i = 0; i < RNN_BLOCK; i++)
        sum += lane[i];
    return sum;
}

/* The sum of squares a parameter's spans use: the dense one's in order,
 * a sparse one's rows in lanes. */
static span_fn sumsq_of(const param_t *p)
{
    return p->sparse ? span_sumsq_lanes : span_sumsq;
}

static double span_scale(void *ctx, real *g, size_t n, size_t offset)
{
    const real scale = *(const real *)ctx;
    size_t k;
    (void)offset;
    for (k = 0; k < n; k++)
        g[k] *= scale;
    return 0;
}

static double span_clip(void *ctx, real *g, size_t n, size_t offset)
{
    const real c = *(const real *)ctx;
    size_t k;
    (void)offset;
    for (k = 0; k < n; k++)
        g[k] = g[k] > c ? c : g[k] < -c ? -c : g[k];
    return 0;
}

/* Clip the gradients in place: each tensor to its own L2 norm
 * (clipnorm_tensor, Keras' clipnorm: g * c / max(|g|, c)), then all of them
 * to the global L2 norm (clipnorm), then each element (clipvalue).  Of a
 * sparse parameter only its listed rows are visited: the others are zero. */
static int clip_gradients(const seqcls_optimizer_t *o, seqcls_model_t *m, const char *func)
{
    double sumsq = 0;
    int i;
    for (i = 0; i < m->nparams; i++) {
        size_t bad = SIZE_MAX;
        if (!m->params[i].trainable)
            continue;
        each_span(&m->params[i], span_bad, &bad);
        if (bad != SIZE_MAX)
            return seqcls__fail(SEQCLS_E_NUMERIC,
                                "%s: gradient of %s is not finite at element %zu; nothing "
                                "was updated",
                                func, m->params[i].name, bad);
    }
    for (i = 0; o->clipnorm_tensor > 0 && i < m->nparams; i++) {
        const double norm =
            m->params[i].trainable ? sqrt(each_span(&m->params[i], sumsq_of(&m->params[i]), NULL))
                                   : 0;
        if (norm > o->clipnorm_tensor) {
            real scale = (real)(o->clipnorm_tensor / norm);
            each_span(&m->params[i], span_scale, &scale);
        }
    }
    for (i = 0; o->clipnorm > 0 && i < m->nparams; i++)
        if (m->params[i].trainable)
            sumsq += each_span(&m->params[i], sumsq_of(&m->params[i]), NULL);
    if (o->clipnorm > 0 && sqrt(sumsq) > o->clipnorm) {
        real scale = (real)(o->clipnorm / sqrt(sumsq));
        for (i = 0; i < m->nparams; i++)
            if (m->params[i].trainable)
                each_span(&m->params[i], span_scale, &scale);
    }
    if (o->clipvalue > 0) {
        real c = (real)o->clipvalue;
        for (i = 0; i < m->nparams; i++)
            if (m->params[i].trainable)
                each_span(&m->params[i], span_clip, &c);
    }
    return SEQCLS_OK;
}

/* The constants of one Adam update, in the element type. */
typedef struct {
    real step_size, sbc2, b1, b2, a1, a2, eps, wd, keep;
} adam_t;

/* The square root of a float, correctly rounded (as (float)sqrt(double)):
 * sqrtf, which the vectoriser turns into one instruction. */
#ifdef SEQCLS_REAL_DOUBLE
#define REAL_SQRT sqrt
#else
#define REAL_SQRT sqrtf
#endif

/* The update is vectorised in blocks of RNN_BLOCK; this file is built
 * with -fno-math-errno (Makefile), without which the square root stays a
 * call to libm in case it sets errno (m2 >= 0: it never does). */

/* Adam on [k, k + n) with L2 weight decay through the gradient (Adam), or
 * decoupled from it (AdamW): the expressions of torch.optim, in this order. */
SEQCLS_CLONE_INLINE void adam_span(real *restrict p, const real *restrict g, real *restrict m1,
                                   real *restrict m2, const adam_t c, int k, int n)
{
    int i;
    for (i = k; i < k + n; i++) {
        const real gk = g[i] + c.wd * p[i];
        m1[i] = c.b1 * m1[i] + c.a1 * gk;
        m2[i] = c.b2 * m2[i] + c.a2 * gk * gk;
        p[i] -= c.step_size * m1[i] / (REAL_SQRT(m2[i]) / c.sbc2 + c.eps);
    }
}

SEQCLS_CLONE_INLINE void adamw_span(real *restrict p, const real *restrict g, real *restrict m1,
                                    real *restrict m2, const adam_t c, int k, int n)
{
    int i;
    for (i = k; i < k + n; i++) {
        const real gk = g[i];
        p[i] *= c.keep;
        m1[i] = c.b1 * m1[i] + c.a1 * gk;
        m2[i] = c.b2 * m2[i] + c.a2 * gk * gk;
        p[i] -= c.step_size * m1[i] / (REAL_SQRT(m2[i]) / c.sbc2 + c.eps);
    }
}

SEQCLS_VECTORISED
static void step_adam(const seqcls_optimizer_t *o, real *p, const real *g, real *m1, real *m2,
                      size_t n)
{
    adam_t c;
    size_t k;
    c.step_size = o->step_size;
    c.sbc2 = o->sbc2;
    c.b1 = (real)o->beta1;
    c.b2 = (real)o->beta2;
    c.a1 = 1 - c.b1;
    c.a2 = 1 - c.b2;
    c.eps = (real)o->eps;
    c.wd = (real)o->weight_decay;
    c.keep = 1 - (real)o->lr * c.wd;
    for (k = 0; k < n; k += INT_MAX / 2) {
        const int len = n - k < INT_MAX / 2 ? (int)(n - k) : INT_MAX / 2;
        if (o->kind->decoupled)
            RNN_SPANS(len, adamw_span, p + k, g + k, m1 + k, m2 + k, c);
        else
            RNN_SPANS(len, adam_span, p + k, g + k, m1 + k, m2 + k, c);
    }
}


static void step_sgd(const seqcls_optimizer_t *o, real *p, const real *g, real *buf, real *unused,
                     size_t n)
{
    const real lr = (real)o->lr, wd = (real)o->weight_decay, mom = (real)o->momentum;
    size_t k;
    (void)unused;
    for (k = 0; k < n; k++) {
        real gk = g[k] + wd * p[k];
        if (mom > 0) {
            /* torch.optim.SGD starts the buffer at the first gradient */
            buf[k] = o->steps == 1 ? gk : mom * buf[k] + gk;
            gk = buf[k];
        }
        p[k] -= lr * gk;
    }
}

static void step_rmsprop(const seqcls_optimizer_t *o, real *p, const real *g, real *buf,
                         real *sq, size_t n)
{
    const real lr = (real)o->lr, wd = (real)o->weight_decay, mom = (real)o->momentum;
    const real rho = (real)o->rho, eps = (real)o->eps;
    size_t k;
    for (k = 0; k < n; k++) {
        real gk = g[k] + wd * p[k], d;
        sq[k] = rho * sq[k] + (1 - rho) * gk * gk;
        d = gk / ((real)sqrt(sq[k]) + eps);
        if (mom > 0) {
            buf[k] = mom * buf[k] + d;
            d = buf[k];
        }
        p[k] -= lr * d;
    }
}

static const optim_kind_t optim_kinds[] = {
    [SEQCLS_OPTIM_ADAM] = {.id = SEQCLS_OPTIM_ADAM, .moments = 2, .step = step_adam},
    [SEQCLS_OPTIM_SGD] = {.id = SEQCLS_OPTIM_SGD, .moments = 1, .step = step_sgd},
    /* m1 is the momentum buffer, m2 the square average (OPTM stores them in that order) */
    [SEQCLS_OPTIM_RMSPROP] = {.id = SEQCLS_OPTIM_RMSPROP, .moments = 2, .step = step_rmsprop},
    [SEQCLS_OPTIM_ADAMW] = {.id = SEQCLS_OPTIM_ADAMW, .moments = 2, .weight_decay = 0.01,
                            .decoupled = 1, .step = step_adam},
};
#define OPTIM_KINDS ((int)(sizeof optim_kinds / sizeof optim_kinds[0]) - 1)

static const optim_kind_t *optim_kind(int64_t kind)
{
    return kind >= 1 && kind <= OPTIM_KINDS && optim_kinds[kind].step ? &optim_kinds[kind] : NULL;
}

/* The update of every element is independent of the others: parameters
 * are cut into chunks that the pool's threads take as they come free. */
#define STEP_CHUNK 65536

typedef struct {
    const seqcls_optimizer_t *o;
    const seqcls_model_t *m;
} step_job_t;

/* Ask for the cache lines of n reals at x (rows used at random: their
 * misses overlap instead of coming one after the other). */
static inline void prefetch_row(const real *x, size_t n, int write)
{
#if defined(__GNUC__) || defined(__clang__)
    size_t k;
    for (k = 0; k < n; k += 64 / sizeof(real)) {
        if (write)
            __builtin_prefetch(x + k, 1);
        else
            __builtin_prefetch(x + k, 0);
    }
#else
    (void)x;
    (void)n;
    (void)write;
#endif
}

/* The rows a sparse step will touch a few rows ahead. */
#define PREFETCH_AHEAD 4

/* Step elements [k0, k0 + n) of parameter i, whose gradient is at g. */
static void step_chunk(const seqcls_optimizer_t *o, const param_t *p, int i, size_t k0, size_t n,
                       const real *g)
{
    real *v = (real *)p->value->data + k0;
    real *m1 = o->m1[i] + k0, *m2 = o->m2[i] ? o->m2[i] + k0 : NULL;
    o->kind->step(o, v, g, m1, m2, n);
}

/* Part `part` takes chunk c of the model's trainable parameters for c = part,
 * part + parts, ...: chunks are numbered over the parameters in order.  A
 * sparse parameter is updated only in its listed rows (lazily: the moments
 * of the other rows wait, as in torch.optim.SparseAdam), in chunks of rows. */
static void step_part(void *arg, int part, int parts)
{
    const step_job_t *J = arg;
    size_t c = 0;
    int i;
    for (i = 0; i < J->m->nparams; i++) {
        const param_t *p = &J->m->params[i];
        const sparse_rows_t *s = p->sparse;
        size_t k0;
        if (!p->trainable)
            continue;
        if (s) {
            const int per = s->row_len >= STEP_CHUNK ? 1 : STEP_CHUNK / s->row_len;
            int r0, r;
            for (r0 = 0; r0 < s->n; r0 += per, c++)
                if (c % (size_t)parts == (size_t)part)
                    for (r = r0; r < s->n && r < r0 + per; r++) {
                        if (r + PREFETCH_AHEAD < s->n) {
                            const size_t ahead = (size_t)s->rows[r + PREFETCH_AHEAD] * s->row_len;
                            prefetch_row((real *)p->value->data + ahead, s->row_len, 1);
                            prefetch_row(J->o->m1[i] + ahead, s->row_len, 1);
                            if (J->o->m2[i])
                                prefetch_row(J->o->m2[i] + ahead, s->row_len, 1);
                            if (!s->compact_on)
                                prefetch_row(sparse_listed_grad(s, r + PREFETCH_AHEAD),
                                             s->row_len, 0);
                        }
                        step_chunk(J->o, p, i, (size_t)s->rows[r] * s->row_len,
                                   (size_t)s->row_len, sparse_listed_grad(s, r));
                    }
            continue;
        }
        for (k0 = 0; k0 < p->value->numel; k0 += STEP_CHUNK, c++)
            if (c % (size_t)parts == (size_t)part)
                step_chunk(J->o, p, i, k0,
                           p->value->numel - k0 < STEP_CHUNK ? p->value->numel - k0 : STEP_CHUNK,
                           (const real *)p->grad->data + k0);
    }
}

static int optimizer_step(seqcls_optimizer_t *o, seqcls_model_t *m, int zero_sparse,
                          const char *func)
{
    step_job_t J;
    size_t total = 0;
    int i, rc;
    if (!o || !m)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: %s is NULL", func, o ? "model" : "optimizer");
    rc = model_check_float(m, func);
    if (rc)
        return rc;
    rc = bind_model(o, m, func);
    if (rc)
        return rc;
    rc = clip_gradients(o, m, func);
    if (rc)
        return rc;
    o->steps++;
    {
        const double bc1 = 1 - pow(o->beta1, (double)o->steps);
        const double bc2 = 1 - pow(o->beta2, (double)o->steps);
        o->step_size = (real)(o->lr / bc1);
        o->sbc2 = (real)sqrt(bc2);
    }
    for (i = 0; i < m->nparams; i++)
        if (m->params[i].trainable)
            total += m->params[i].sparse
                         ? (size_t)m->params[i].sparse->n * m->params[i].sparse->row_len
                         : m->params[i].value->numel;
    J.o = o;
    J.m = m;
    seqcls__parallel(total >= 4 * STEP_CHUNK ? seqcls__parallel_parts() : 1, step_part, &J);
    for (i = 0; zero_sparse && i < m->nparams; i++)
        if (m->params[i].sparse && m->params[i].sparse->key)
            sparse_clear(m->params[i].sparse);
    return SEQCLS_OK;
}

int seqcls_optimizer_step(seqcls_optimizer_t *o, seqcls_model_t *m)
{
    seqcls__clear_error();
    return optimizer_step(o, m, 0, "seqcls_optimizer_step");
}

int optimizer_step_fit(seqcls_optimizer_t *o, seqcls_model_t *m)
{
    return optimizer_step(o, m, 1, "seqcls_optimizer_step");
}

double optimizer_lr(const seqcls_optimizer_t *o) { return o->lr; }

void optimizer_set_lr(seqcls_optimizer_t *o, double lr) { o->lr = lr; }

/* ---- state in a model file (OPTM section; docs/file-format.md) ---- */

/* Version 1 (seqcls 1.0) holds the first OPTIM_OPTIONS_V1 options; version
 * 2 (1.1) a count of options and that many, written only when an option
 * beyond those is set, so that 1.0 reads every other checkpoint. */
#define OPTM_VERSION 1
#define OPTM_VERSION_COUNTED 2
/* write a little-endian integer at p and move past it */
#define PUT(bits, v) (le_put##bits(p, v), p += (bits) / 8)

int optimizer_serialize(const seqcls_optimizer_t *o, const seqcls_model_t *m, void **buf,
                        size_t *len)
{
    const int moments = o->kind->moments;
    const int n = o->model_id ? o->nparams : 0;
    int i, j, noptions = OPTIM_OPTIONS_V1;
    size_t bytes, k;
    unsigned char *p;
    for (i = OPTIM_OPTIONS_V1 + 1; i <= OPTIM_OPTIONS; i++)
        if (*hyper((seqcls_optimizer_t *)o, i) != 0)
            noptions = OPTIM_OPTIONS;
    bytes = 4 + 4 + (noptions > OPTIM_OPTIONS_V1 ? 4 : 0) + 8 * (size_t)noptions + 8 + 4;
    if (o->model_id && o->model_id != m->id)
        return seqcls__fail(SEQCLS_E_STATE, "the optimizer holds state for another model");
    for (i = 0; i < n; i++)
        bytes += 8 + (size_t)moments * 4 * m->params[i].value->numel;
    if (!(p = seqcls__alloc(bytes)))
        return seqcls__fail(SEQCLS_E_NOMEM, "out of memory for the optimizer state");
    *buf = p;
    *len = bytes;
    PUT(32, noptions > OPTIM_OPTIONS_V1 ? OPTM_VERSION_COUNTED : OPTM_VERSION);
    PUT(32, (uint32_t)o->kind->id);
    if (noptions > OPTIM_OPTIONS_V1)
        PUT(32, (uint32_t)noptions);
    for (i = 1; i <= noptions; i++) {
        double v = *hyper((seqcls_optimizer_t *)o, i);
        uint64_t bits;
        memcpy(&bits, &v, sizeof bits);
        PUT(64, bits);
    }
    PUT(64, (uint64_t)o->steps);
    PUT(32, (uint32_t)n);
    for (i = 0; i < n; i++) {
        size_t numel = m->params[i].value->numel;
        PUT(64, numel);
        for (j = 0; j < moments; j++) {
            const real *s = j ? o->m2[i] : o->m1[i];
            for (k = 0; k < numel; k++) {
                float f = (float)s[k];
                uint32_t bits;
                memcpy(&bits, &f, sizeof bits);
                PUT(32, bits);
            }
        }
    }
    return SEQCLS_OK;
}

int optimizer_deserialize(seqcls_optimizer_t **out, seqcls_model_t *m, const void *buf,
                          size_t len, const char *func)
{
    const unsigned char *p = buf, *end = p + len;
    seqcls_optimizer_t *o = NULL;
    uint32_t kind, n, version, noptions = OPTIM_OPTIONS_V1;
    int i, j, moments, rc;
    size_t k;

    *out = NULL;
    if (len < 4 + 4 + 8 * OPTIM_OPTIONS_V1 + 8 + 4)
        return seqcls__fail(SEQCLS_E_FORMAT, "%s: OPTM: %zu bytes is too short", func, len);
    version = le_get32(p);
    if (version != OPTM_VERSION && version != OPTM_VERSION_COUNTED)
        return seqcls__fail(SEQCLS_E_VERSION, "%s: OPTM: optimizer state version %u is unknown",
                            func, (unsigned)version);
    kind = (uint32_t)le_get32(p + 4);
    if (!optim_kind(kind))
        return seqcls__fail(SEQCLS_E_FORMAT, "%s: OPTM: optimizer kind %u is unknown", func,
                            (unsigned)kind);
    p += 8;
    if (version == OPTM_VERSION_COUNTED) {
        noptions = le_get32(p);
        p += 4;
        if (noptions > OPTIM_OPTIONS)
            return seqcls__fail(SEQCLS_E_VERSION,
                                "%s: OPTM: %u optimizer options, this version of seqcls knows %d",
                                func, (unsigned)noptions, OPTIM_OPTIONS);
        if (noptions < OPTIM_OPTIONS_V1 ||
            (size_t)(end - p) < 8 * (size_t)noptions + 8 + 4)
            return seqcls__fail(SEQCLS_E_FORMAT, "%s: OPTM: %u optimizer options in %zu bytes",
                                func, (unsigned)noptions, len);
    }
    if ((rc = seqcls_optimizer_create(&o, (int)kind, 1.0f)))
        return rc;
    for (i = 1; i <= (int)noptions; i++, p += 8) {
        uint64_t bits = le_get64(p);
        double v;
        memcpy(&v, &bits, sizeof v);
        if (!hyper_ok(i, v)) {
            seqcls_optimizer_free(o);
            return seqcls__fail(SEQCLS_E_FORMAT, "%s: OPTM: option %d is %g, out of its range",
                                func, i, v);
        }
        *hyper(o, i) = v;
    }
    o->steps = (int64_t)le_get64(p);
    n = (uint32_t)le_get32(p + 8);
    p += 12;
    if (o->steps < 0 || (n != 0 && n != (uint32_t)m->nparams)) {
        seqcls_optimizer_free(o);
        return seqcls__fail(SEQCLS_E_FORMAT, "%s: OPTM: state for %u parameters, the model has %d",
                            func, (unsigned)n, m->nparams);
    }
    if (n && (rc = bind_model(o, m, func))) {
        seqcls_optimizer_free(o);
        return rc;
    }
    moments = o->kind->moments;
    for (i = 0; i < (int)n; i++) {
        size_t numel = m->params[i].value->numel;
        if ((size_t)(end - p) < 8 || le_get64(p) != numel ||
            (size_t)(end - p - 8) / 4 / (size_t)moments < numel) {
            seqcls_optimizer_free(o);
            return seqcls__fail(SEQCLS_E_FORMAT, "%s: OPTM: the state of parameter %d (%s) does not "
                                "fit", func, i, m->params[i].name);
        }
        p += 8;
        for (j = 0; j < moments; j++)
            for (k = 0; k < numel; k++, p += 4) {
                uint32_t bits = (uint32_t)le_get32(p);
                float f;
                memcpy(&f, &bits, sizeof f);
                /* the second array is a mean of squares for every kind that has one */
                if (!isfinite(f) || (j == 1 && f < 0)) {
                    seqcls_optimizer_free(o);
                    return seqcls__fail(SEQCLS_E_FORMAT, "%s: OPTM: state of %s is %s", func,
                                        m->params[i].name, isfinite(f) ? "negative" : "not finite");
                }
                (j ? o->m2[i] : o->m1[i])[k] = (real)f;
            }
    }
    if (p != end) {
        seqcls_optimizer_free(o);
        return seqcls__fail(SEQCLS_E_FORMAT, "%s: OPTM: %zu bytes after the state", func,
                            (size_t)(end - p));
    }
    *out = o;
    return SEQCLS_OK;
}

void optimizer_take_state(seqcls_optimizer_t *o, seqcls_optimizer_t *from)
{
    free_state(o);
    *o = *from;
    from->m1 = from->m2 = NULL;
    from->nparams = 0;
    seqcls_optimizer_free(from);
}
