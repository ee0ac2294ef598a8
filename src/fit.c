/*
 * fit.c -- seqcls_fit: the training loop (batches, shuffling, bucketing
 * by length, validation, best-checkpoint keeping, early stopping,
 * learning-rate schedule, callbacks).
 */
#include "internal.h"

#include <math.h>
#include <string.h>

struct seqcls_fit_config {
    int64_t batch_size, epochs, shuffle, seed, patience, restore_best, bucketing, initial_epoch;
    float valid_split;
    seqcls_batch_fn on_batch;
    seqcls_epoch_fn on_epoch;
    seqcls_lr_schedule_fn lr_schedule;
    void *user;
};

/* The defaults documented with the SEQCLS_FIT_* settings in seqcls.h. */
static const seqcls_fit_config_t defaults = {
    .batch_size = 32,
    .epochs = 10,
    .shuffle = 1,       /* reshuffle every epoch */
    .seed = 0,
    .patience = 0,      /* no early stopping */
    .restore_best = 1,  /* end with the best validation loss's weights */
    .bucketing = 1,     /* batch rows of similar length */
    .initial_epoch = 0,
    .valid_split = 0,   /* no validation rows held out */
    .on_batch = NULL,
    .on_epoch = NULL,
    .lr_schedule = NULL,
    .user = NULL,
};

/* Batches per bucket: rows are sorted by length within pools of this many
 * batches, so batches are homogeneous but still drawn at random. */
#define BUCKET_POOL 32

int seqcls_fit_config_create(seqcls_fit_config_t **out)
{
    seqcls__clear_error();
    if (!out)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "seqcls_fit_config_create: out is NULL");
    *out = seqcls__alloc(sizeof **out);
    if (!*out)
        return seqcls__fail(SEQCLS_E_NOMEM, "seqcls_fit_config_create: out of memory");
    **out = defaults;
    return SEQCLS_OK;
}

void seqcls_fit_config_free(seqcls_fit_config_t *c) { seqcls__dealloc(c); }

int seqcls_fit_config_set_int(seqcls_fit_config_t *c, int setting, int64_t value)
{
    const char *func = "seqcls_fit_config_set_int";
    int64_t *field, lo = 0, hi = INT32_MAX;
    seqcls__clear_error();
    if (!c)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: config is NULL", func);
    switch (setting) {
    case SEQCLS_FIT_BATCH_SIZE: field = &c->batch_size; lo = 1; hi = 1 << 20; break;
    case SEQCLS_FIT_EPOCHS: field = &c->epochs; break;
    case SEQCLS_FIT_SHUFFLE: field = &c->shuffle; hi = 1; break;
    case SEQCLS_FIT_SEED: field = &c->seed; lo = INT64_MIN; hi = INT64_MAX; break;
    case SEQCLS_FIT_PATIENCE: field = &c->patience; break;
    case SEQCLS_FIT_RESTORE_BEST: field = &c->restore_best; hi = 1; break;
    case SEQCLS_FIT_BUCKETING: field = &c->bucketing; hi = 1; break;
    case SEQCLS_FIT_INITIAL_EPOCH: field = &c->initial_epoch; break;
    default:
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: unknown integer setting %d", func, setting);
    }
    if (value < lo || value > hi)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: value %lld for setting %d is outside [%lld, %lld]",
                            func, (long long)value, setting, (long long)lo, (long long)hi);
    *field = value;
    return SEQCLS_OK;
}

int seqcls_fit_config_set_float(seqcls_fit_config_t *c, int setting, float value)
{
    const char *func = "seqcls_fit_config_set_float";
    seqcls__clear_error();
    if (!c)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: config is NULL", func);
    if (setting != SEQCLS_FIT_VALID_SPLIT)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: unknown float setting %d", func, setting);
    if (!(value >= 0 && value < 1))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: validation split %g is outside [0, 1)", func,
                            (double)value);
    c->valid_split = value;
    return SEQCLS_OK;
}

int seqcls_fit_config_set_callbacks(seqcls_fit_config_t *c, seqcls_batch_fn on_batch,
                                    seqcls_epoch_fn on_epoch, seqcls_lr_schedule_fn lr_schedule,
                                    void *user)
{
    seqcls__clear_error();
    if (!c)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "seqcls_fit_config_set_callbacks: config is NULL");
    c->on_batch = on_batch;
    c->on_epoch = on_epoch;
    c->lr_schedule = lr_schedule;
    c->user = user;
    return SEQCLS_OK;
}

/* ---- the loop ---- */

typedef struct {
    seqcls_model_t *m;
    seqcls_optimizer_t *o;
    const seqcls_fit_config_t *c;
    dataset_t train, valid;
    int have_valid;
    int ntrain;              /* rows of `train` used for training (the rest validate) */
    int *order;              /* [ntrain] */
    int *scratch;            /* [ntrain] */
    int *perm;               /* [batches] */
    int fixed_steps;
    rng_t rng;
    batch_t bt;
    seqcls_tensor_t *logits;
    real **best;             /* best weights, one copy per parameter */
    int zeroed;              /* every gradient was zeroed once: from then on the
                              * gradients outside the listed rows of a sparse
                              * parameter stay zero, and only those are zeroed */
} fit_t;

static void shuffle(rng_t *rng, int *a, int n)
{
    int i;
    for (i = n - 1; i > 0; i--) {
        int j = (int)(rng_next(rng) % (uint64_t)(i + 1)), t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* Insertion sort of rows by length, stable; pools are small. */
static void sort_by_length(const dataset_t *d, int *a, int n)
{
    int i, j;
    for (i = 1; i < n; i++) {
        int v = a[i], len = dataset_length(d, v);
        for (j = i; j > 0 && dataset_length(d, a[j - 1]) > len; j--)
            a[j] = a[j - 1];
        a[j] = v;
    }
}

/* Order the training rows for one epoch: shuffled; with bucketing, sorted
 * by length inside pools and then the batches themselves shuffled.  The
 * order depends only on the seed and the epoch, so a run resumed at
 * SEQCLS_FIT_INITIAL_EPOCH sees what an uninterrupted one would. */
static void epoch_order(fit_t *f, int epoch)
{
    const int B = (int)f->c->batch_size, n = f->ntrain;
    int i, nb = (n + B - 1) / B;
    rng_seed(&f->rng, (uint64_t)f->c->seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(epoch + 1)));
    for (i = 0; i < n; i++)
        f->order[i] = i;
    if (f->c->shuffle)
        shuffle(&f->rng, f->order, n);
    if (!f->c->bucketing || f->fixed_steps)
        return;
    for (i = 0; i < n; i += B * BUCKET_POOL)
        sort_by_length(&f->train, f->order + i, n - i < B * BUCKET_POOL ? n - i : B * BUCKET_POOL);
    if (f->c->shuffle && nb > 1) {
        /* Shuffle whole batches (the last, possibly short, one included). */
        int k, out = 0;
        for (k = 0; k < nb; k++)
            f->perm[k] = k;
        shuffle(&f->rng, f->perm, nb);
        for (k = 0; k < nb; k++) {
            int s = f->perm[k] * B, e = s + B < n ? s + B : n;
            memcpy(f->scratch + out, f->order + s, (size_t)(e - s) * sizeof *f->scratch);
            out += e - s;
        }
        memcpy(f->order, f->scratch, (size_t)n * sizeof *f->order);
    }
}

static int save_best(fit_t *f)
{
    int i;
    if (!f->best) {
        f->best = seqcls__calloc((size_t)f->m->nparams, sizeof *f->best);
        if (!f->best)
            return seqcls__fail(SEQCLS_E_NOMEM, "seqcls_fit: out of memory for the best weights");
        for (i = 0; i < f->m->nparams; i++)
            if (!(f->best[i] = seqcls__calloc(f->m->params[i].value->numel, sizeof(real))))
                return seqcls__fail(SEQCLS_E_NOMEM, "seqcls_fit: out of memory for the best weights");
    }
    for (i = 0; i < f->m->nparams; i++)
        memcpy(f->best[i], f->m->params[i].value->data, f->m->params[i].value->numel * sizeof(real));
    return SEQCLS_OK;
}

static void restore_best(fit_t *f)
{
    int i;
    for (i = 0; i < f->m->nparams; i++)
        memcpy(f->m->params[i].value->data, f->best[i], f->m->params[i].value->numel * sizeof(real));
}

/* One training batch: forward, loss, backward, step.  *count is what the
 * loss is a mean over and *right counts from: rows, or the valid steps of
 * a per-step model. */
static int train_batch(fit_t *f, const int *rows, int n, double *loss_sum, int64_t *right,
                       int64_t *count)
{
    const int C = f->m->layers[f->m->nlayers - 1]->out_F;
    int i, t, Tb = 1, rc, ndim;
    float loss;
    int64_t shape[3];
    for (i = 0; i < n; i++)
        if (dataset_length(&f->train, rows[i]) > Tb)
            Tb = dataset_length(&f->train, rows[i]);
    if (f->fixed_steps || !f->c->bucketing)
        Tb = f->train.T;
    if ((rc = batch_gather(&f->bt, &f->train, rows, n, Tb, "seqcls_fit")))
        return rc;
    seqcls_tensor_free(f->logits);
    f->logits = NULL;
    ndim = model_output_shape(f->m, n, Tb, shape);
    if ((rc = seqcls_tensor_create(&f->logits, SEQCLS_F32, ndim, shape)))
        return rc;
    model_zero_grad(f->m, f->zeroed);
    f->zeroed = 1;
    if ((rc = seqcls_forward(f->m, f->bt.x, f->bt.len, f->logits, 1)) ||
        (rc = seqcls_loss_backward(f->m, f->bt.y, &loss)) ||
        (rc = optimizer_step_fit(f->o, f->m)))
        return rc;
    *right = 0;
    *count = 0;
    for (i = 0; i < n; i++) {
        const real *z = (const real *)f->logits->data;
        const int32_t *y = f->bt.ybuf;
        if (ndim == 2) {
            *right += loss_predicted_class(z + (size_t)i * C, C) == y[i];
            ++*count;
            continue;
        }
        for (t = 0; t < f->bt.len[i]; t++)
            *right += loss_predicted_class(z + ((size_t)i * Tb + t) * C, C) ==
                      y[(size_t)i * Tb + t];
        *count += f->bt.len[i];
    }
    *loss_sum = loss;
    return SEQCLS_OK;
}

static int validate(fit_t *f, double *loss, double *acc)
{
    seqcls_metrics_t *mt = NULL;
    seqcls_tensor_t *x = NULL, *y = NULL;
    const dataset_t *d = &f->valid;
    int64_t shape[3] = {d->N, d->T, d->F}, yshape[2] = {d->N, d->T};
    int rc = seqcls_tensor_wrap(&x, d->is_ids ? SEQCLS_I32 : SEQCLS_F32, d->rank, shape,
                                (void *)d->x);
    if (rc == SEQCLS_OK)
        rc = seqcls_tensor_wrap(&y, SEQCLS_I32, d->steps ? 2 : 1, yshape, (void *)d->y);
    if (rc == SEQCLS_OK)
        rc = seqcls_evaluate(f->m, x, d->len, y, (int)f->c->batch_size, &mt);
    if (rc == SEQCLS_OK) {
        *loss = seqcls_metrics_get(mt, SEQCLS_METRIC_LOSS, 0);
        *acc = seqcls_metrics_get(mt, SEQCLS_METRIC_ACCURACY, 0);
    }
    seqcls_metrics_free(mt);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    return rc;
}

/* Split off the last rows of the training data for validation. */
static int split_validation(fit_t *f)
{
    int nval = (int)floor((double)f->train.N * f->c->valid_split);
    const size_t row = (size_t)f->train.T * f->train.F;
    if (nval < 1 || nval >= f->train.N)
        return seqcls__fail(SEQCLS_E_INVALID_ARG,
                            "seqcls_fit: a validation split of %g leaves %d of %d rows for validation",
                            (double)f->c->valid_split, nval, f->train.N);
    f->valid = f->train;
    f->valid.N = nval;
    f->valid.x = (const char *)f->train.x +
                 (size_t)(f->train.N - nval) * row * (f->train.is_ids ? sizeof(int32_t) : sizeof(real));
    f->valid.len = f->train.len ? f->train.len + (f->train.N - nval) : NULL;
    f->valid.y = f->train.y + (size_t)(f->train.N - nval) * DATASET_YROW(&f->train);
    f->ntrain = f->train.N - nval;
    f->have_valid = 1;
    return SEQCLS_OK;
}

static int fit_epochs(fit_t *f)
{
    const seqcls_fit_config_t *c = f->c;
    const int B = (int)c->batch_size;
    const int nb = (f->ntrain + B - 1) / B;
    const double lr0 = optimizer_lr(f->o);
    double best_loss = INFINITY;
    int epoch, wait = 0, rc, stop = 0;

    for (epoch = (int)c->initial_epoch; epoch < c->epochs && !stop; epoch++) {
        double loss_sum = 0, vloss = NAN, vacc = NAN;
        int64_t right_sum = 0, count_sum = 0;
        int b;
        if (c->lr_schedule) {
            float lr = c->lr_schedule(c->user, epoch, (float)lr0);
            if (!(lr > 0) || !isfinite(lr))
                return seqcls__fail(SEQCLS_E_INVALID_ARG,
                                    "seqcls_fit: the schedule gave learning rate %g for epoch %d",
                                    (double)lr, epoch);
            optimizer_set_lr(f->o, lr);
        }
        epoch_order(f, epoch);
        for (b = 0; b < nb && !stop; b++) {
            int n = f->ntrain - b * B < B ? f->ntrain - b * B : B;
            double loss;
            int64_t right, count;
            rc = train_batch(f, f->order + b * B, n, &loss, &right, &count);
            if (rc)
                return rc;
            loss_sum += loss * (double)count;
            right_sum += right;
            count_sum += count;
            if (c->on_batch && c->on_batch(c->user, epoch, b, nb, (float)loss,
                                           count ? (float)right / (float)count : NAN))
                stop = 1;
        }
        if (f->have_valid && (rc = validate(f, &vloss, &vacc)))
            return rc;
        if (c->on_epoch &&
            c->on_epoch(c->user, epoch, (float)(loss_sum / (double)count_sum),
                        (float)right_sum / (float)count_sum, (float)vloss, (float)vacc))
            stop = 1;
        if (f->have_valid) {
            if (vloss < best_loss) {
                best_loss = vloss;
                wait = 0;
                if (c->restore_best && (rc = save_best(f)))
                    return rc;
            } else if (c->patience > 0 && ++wait >= c->patience) {
                stop = 1;
            }
        }
    }
    return SEQCLS_OK;
}

int seqcls_fit(seqcls_model_t *m, seqcls_optimizer_t *o, const seqcls_tensor_t *x,
               const int32_t *lengths, const seqcls_tensor_t *y, const seqcls_tensor_t *val_x,
               const int32_t *val_lengths, const seqcls_tensor_t *val_y,
               const seqcls_fit_config_t *config)
{
    const char *func = "seqcls_fit";
    fit_t f;
    double lr0;
    int rc, i;

    seqcls__clear_error();
    memset(&f, 0, sizeof f);
    if (!o)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: optimizer is NULL", func);
    /* refuse before anything is touched: a failed call changes nothing */
    if (m && (rc = optimizer_check_model(o, m, func)))
        return rc;
    f.m = m;
    f.o = o;
    f.c = config ? config : &defaults;
    rc = dataset_init(&f.train, m, x, lengths, y, func, "training input");
    if (rc)
        return rc;
    f.ntrain = f.train.N;
    if (val_x || val_y) {
        rc = dataset_init(&f.valid, m, val_x, val_lengths, val_y, func, "validation input");
        if (rc)
            return rc;
        if (f.valid.T != f.train.T || f.valid.F != f.train.F)
            return seqcls__fail(SEQCLS_E_SHAPE, "%s: validation rows have %d steps of %d, training "
                                "rows %d of %d", func, f.valid.T, f.valid.F, f.train.T, f.train.F);
        f.have_valid = 1;
    } else if (f.c->valid_split > 0 && (rc = split_validation(&f))) {
        return rc;
    }
    f.fixed_steps = model_fixed_steps(m);
    if (f.fixed_steps && f.fixed_steps != f.train.T)
        return seqcls__fail(SEQCLS_E_SHAPE, "%s: the model needs exactly %d steps, the input has %d",
                            func, f.fixed_steps, f.train.T);
    f.order = seqcls__calloc((size_t)f.ntrain, sizeof *f.order);
    f.scratch = seqcls__calloc((size_t)f.ntrain, sizeof *f.scratch);
    f.perm = seqcls__calloc((size_t)f.ntrain, sizeof *f.perm);
    if (!f.order || !f.scratch || !f.perm) {
        rc = seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
        goto done;
    }

    /* sparse gradients are kept compactly while fitting (sparse.c) */
    for (i = 0; i < m->nparams; i++)
        if (m->params[i].sparse && m->params[i].trainable &&
            sparse_set_compact(m->params[i].sparse, 1) != SEQCLS_OK) {
            rc = seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory for the gradient lists of %s",
                              func, m->params[i].name);
            goto done;
        }
    lr0 = optimizer_lr(o);
    rc = fit_epochs(&f);
    optimizer_set_lr(o, lr0);
    /* On success (or a user stop) end with the best weights; after a
     * failure keep those of the last good step, as documented. */
    if (rc == SEQCLS_OK && f.best)
        restore_best(&f);

done:
    for (i = 0; m && i < m->nparams; i++)
        if (m->params[i].sparse)
            sparse_set_compact(m->params[i].sparse, 0);   /* (cannot fail turning off) */
    if (f.best)
        for (i = 0; i < m->nparams; i++)
            seqcls__dealloc(f.best[i]);
    seqcls__dealloc(f.best);
    seqcls__dealloc(f.order);
    seqcls__dealloc(f.scratch);
    seqcls__dealloc(f.perm);
    seqcls_tensor_free(f.logits);
    batch_free(&f.bt);
    return rc;
}
