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
    seqcls_comm_t *comm;     /* data-parallel training, or NULL */
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
    .comm = NULL,
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

int seqcls_fit_config_set_comm(seqcls_fit_config_t *c, seqcls_comm_t *comm)
{
    seqcls__clear_error();
    if (!c)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "seqcls_fit_config_set_comm: config is NULL");
    c->comm = comm;
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
    /* dropout: row i of the data in epoch e gets the key
     * rng_key(epoch_key, i), epoch_key = rng_key(key_seed, e) */
    uint64_t key_seed, epoch_key;
    int *mine;               /* [batch]: this rank's rows of a batch */
    uint64_t *keys;          /* [batch]: their keys */
    /* data-parallel training (NULL, 0, 1 without a communicator) */
    seqcls_comm_t *comm;
    comm_grads_t *grads;
    int rank, size;
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

/* A failure some rank had, as all ranks learn it from the summed flags
 * `failed` (ranks that failed) and `codes` (the sum of their -status): the
 * rank's own status if it failed, else the status of the one rank that
 * failed (SEQCLS_E_COMM if several did). */
static int others_failed(const fit_t *f, int own, float failed, float codes, const char *when)
{
    int code = failed == 1 ? -(int)codes : SEQCLS_E_COMM;
    if (own != SEQCLS_OK)
        return own;
    if (code >= 0 || code < SEQCLS_E_COMM)
        code = SEQCLS_E_COMM;
    return seqcls__fail(code, "seqcls_fit: rank %d of %d: %d other rank%s failed %s (see %s "
                        "message)", f->rank, f->size, (int)failed, failed > 1 ? "s" : "", when,
                        failed > 1 ? "their" : "its");
}

/* With a communicator: does any rank want to stop?  (Collective.) */
static int agree_stop(fit_t *f, int stop, int *rc)
{
    float v[1];
    if (!f->comm)
        return stop;
    v[0] = (float)(stop != 0);
    *rc = comm_allreduce(f->comm, v, 1, "the stop requests", "seqcls_fit");
    return v[0] > 0;
}

/* One training batch of n rows: this rank's share of them forward, loss
 * (divided by the batch's count: its rows, or the valid steps of all its
 * rows for a per-step model), backward, the gradients summed over the
 * ranks, step.  *count is that count, *loss_sum and *right the sum of the
 * losses and the rows or steps predicted right, over every rank. */
static int train_batch(fit_t *f, const int *rows, int n, double *loss_sum, int64_t *right,
                       int64_t *count)
{
    const char *func = "seqcls_fit";
    int i, k = 0, Tb = 1, rc = SEQCLS_OK, ndim;
    double lsum = 0, t0, tback = 0;
    int64_t good = 0, total = 0;

    /* what the loss is a mean over: the same on every rank */
    for (i = 0; i < n; i++)
        total += f->train.steps ? dataset_length(&f->train, rows[i]) : 1;

    /* rank r of N takes the rows at positions r, r + N, r + 2N, ... */
    for (i = f->rank; i < n; i += f->size)
        f->mine[k++] = rows[i];
    for (i = 0; i < k; i++) {
        f->keys[i] = rng_key(f->epoch_key, (uint64_t)f->mine[i]);
        if (dataset_length(&f->train, f->mine[i]) > Tb)
            Tb = dataset_length(&f->train, f->mine[i]);
    }
    if (f->fixed_steps || !f->c->bucketing)
        Tb = f->train.T;
    rc = SEQCLS_OK;
    model_zero_grad(f->m, f->zeroed);
    f->zeroed = 1;
    if (f->grads)
        comm_grads_begin(f->grads);
    if (k > 0) {
        int64_t shape[3];
        seqcls_tensor_free(f->logits);
        f->logits = NULL;
        ndim = model_output_shape(f->m, k, Tb, shape);
        if ((rc = batch_gather(&f->bt, &f->train, f->mine, k, Tb, func)) == SEQCLS_OK &&
            (rc = seqcls_tensor_create(&f->logits, SEQCLS_F32, ndim, shape)) == SEQCLS_OK &&
            (rc = model_forward(f->m, f->bt.x, f->bt.len, f->logits, 1, f->keys, func)) ==
                SEQCLS_OK) {
            t0 = comm_now();
            /* (a batch of no valid step: loss 0 and no gradient) */
            rc = loss_backward(f->m, f->bt.y, total > 0 ? (double)total : 1, &lsum, &good, NULL,
                               func);
            tback = comm_now() - t0;
        }
    }
    if (f->grads) {
        /* every rank makes the same collective calls, failed or not */
        float st[4];
        int crc = comm_grads_finish(f->grads, tback, func);
        if (crc == SEQCLS_E_COMM)
            return crc;   /* the collectives are out of step: nothing more to say */
        if (crc && rc == SEQCLS_OK)
            rc = crc;     /* this rank's own failure, which the others learn next */
        st[0] = (float)lsum;
        st[1] = (float)good;
        st[2] = rc != SEQCLS_OK;
        st[3] = rc != SEQCLS_OK ? (float)-rc : 0;
        if ((crc = comm_allreduce(f->comm, st, 4, "the batch's loss", func)))
            return crc;
        if (st[2] > 0)
            return others_failed(f, rc, st[2], st[3], "in this batch");
        lsum = st[0];
        good = (int64_t)st[1];
    } else if (rc) {
        return rc;
    }
    if ((rc = optimizer_step_fit(f->o, f->m)))
        return rc;
    *loss_sum = lsum;
    *right = good;
    *count = total;
    return SEQCLS_OK;
}

/* Loss and accuracy of the validation rows [lo, hi), and what they are
 * means over (rows, or valid steps of a per-step model). */
static int validate_rows(fit_t *f, int lo, int hi, double *loss, double *acc, double *count)
{
    seqcls_metrics_t *mt = NULL;
    seqcls_tensor_t *x = NULL, *y = NULL;
    const dataset_t *d = &f->valid;
    const size_t row = (size_t)d->T * d->F * (d->is_ids ? sizeof(int32_t) : sizeof(real));
    int64_t shape[3] = {hi - lo, d->T, d->F}, yshape[2] = {hi - lo, d->T};
    int rc = seqcls_tensor_wrap(&x, d->is_ids ? SEQCLS_I32 : SEQCLS_F32, d->rank, shape,
                                (char *)d->x + (size_t)lo * row);
    if (rc == SEQCLS_OK)
        rc = seqcls_tensor_wrap(&y, SEQCLS_I32, d->steps ? 2 : 1, yshape,
                                (void *)(d->y + (size_t)lo * DATASET_YROW(d)));
    if (rc == SEQCLS_OK)
        rc = seqcls_evaluate(f->m, x, d->len ? d->len + lo : NULL, y, (int)f->c->batch_size,
                             &mt);
    if (rc == SEQCLS_OK) {
        *loss = seqcls_metrics_get(mt, SEQCLS_METRIC_LOSS, 0);
        *acc = seqcls_metrics_get(mt, SEQCLS_METRIC_ACCURACY, 0);
        *count = seqcls_metrics_get(mt, SEQCLS_METRIC_COUNT, 0);
    }
    seqcls_metrics_free(mt);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    return rc;
}

/* A hash of the trained parameters' bits: replicas must stay equal. */
static uint64_t params_hash(const seqcls_model_t *m)
{
    uint64_t h = 0x243f6a8885a308d3ull;
    int i;
    for (i = 0; i < m->nparams; i++) {
        const unsigned char *p = m->params[i].value->data;
        const size_t bytes = m->params[i].value->numel * sizeof(real);
        size_t k;
        for (k = 0; k + 8 <= bytes; k += 8) {
            uint64_t w;
            memcpy(&w, p + k, 8);
            h = rng_hash(h ^ w, k);
        }
        for (; k < bytes; k++)
            h = rng_hash(h ^ p[k], k);
    }
    return h;
}

/* The end of an epoch with a communicator: rank 0's untrained parameters
 * (batch-norm statistics) everywhere, the replicas checked to be equal,
 * and the validation rows shared out with their loss and accuracy
 * summed.  Collective. */
static int end_epoch(fit_t *f, double *vloss, double *vacc)
{
    const char *func = "seqcls_fit";
    uint64_t h, h0;
    float st[6] = {0, 0, 0, 0, 0, 0};
    int rc;
    if ((rc = comm_broadcast_params(f->comm, f->m, 1, func)))
        return rc;
    h = h0 = params_hash(f->m);
    if ((rc = comm_broadcast(f->comm, &h0, sizeof h0, "the parameters' hash", func)))
        return rc;
    if (f->have_valid) {
        const int lo = (int)((int64_t)f->valid.N * f->rank / f->size);
        const int hi = (int)((int64_t)f->valid.N * (f->rank + 1) / f->size);
        double l = 0, a = 0, n = 0;
        int vrc = hi > lo ? validate_rows(f, lo, hi, &l, &a, &n) : SEQCLS_OK;
        if (vrc == SEQCLS_OK && n > 0) {
            st[0] = (float)(l * n);
            st[1] = (float)(a * n);
            st[2] = (float)n;
        } else if (vrc != SEQCLS_OK) {
            st[4] = 1;
            st[5] = (float)-vrc;
        }
        rc = vrc;
    }
    st[3] = h != h0;
    {
        int crc = comm_allreduce(f->comm, st, 6, "the validation figures", func);
        if (crc)
            return crc;
    }
    if (st[4] > 0)
        return others_failed(f, rc, st[4], st[5], "in the validation");
    if (st[3] > 0)
        return seqcls__fail(SEQCLS_E_COMM,
                            "%s: rank %d of %d: the replicas of the model differ after an "
                            "epoch on %d rank%s: the all-reduce gives different sums on "
                            "different ranks",
                            func, f->rank, f->size, (int)st[3], st[3] > 1 ? "s" : "");
    if (f->have_valid) {
        /* (no valid step at all: the loss of a mean over nothing, 0, and
         * an undefined accuracy, as seqcls_evaluate gives them) */
        *vloss = st[2] > 0 ? st[0] / st[2] : 0;
        *vacc = st[2] > 0 ? st[1] / st[2] : NAN;
    }
    return SEQCLS_OK;
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
        f->epoch_key = rng_key(f->key_seed, (uint64_t)epoch);
        for (b = 0; b < nb && !stop; b++) {
            int n = f->ntrain - b * B < B ? f->ntrain - b * B : B;
            double loss = 0;
            int64_t right = 0, count = 0;
            rc = train_batch(f, f->order + b * B, n, &loss, &right, &count);
            if (rc)
                return rc;
            loss_sum += loss;
            right_sum += right;
            count_sum += count;
            stop = c->on_batch &&
                   c->on_batch(c->user, epoch, b, nb, (float)(count ? loss / (double)count : 0),
                               count ? (float)right / (float)count : NAN);
            if ((stop = agree_stop(f, stop, &rc)), rc)
                return rc;
        }
        if (f->comm) {
            if ((rc = end_epoch(f, &vloss, &vacc)))
                return rc;
        } else if (f->have_valid) {
            double n;
            if ((rc = validate_rows(f, 0, f->valid.N, &vloss, &vacc, &n)))
                return rc;
        }
        {
            int s2 = c->on_epoch &&
                     c->on_epoch(c->user, epoch, (float)(loss_sum / (double)count_sum),
                                 (float)right_sum / (float)count_sum, (float)vloss, (float)vacc);
            if ((s2 = agree_stop(f, s2, &rc)), rc)
                return rc;
            stop |= s2;
        }
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

/* What every rank must agree on, as rank 0 broadcasts it. */
enum {
    D_NTRAIN, D_NVALID, D_T, D_F, D_IDS, D_CLASSES, D_BATCH, D_EPOCHS, D_INITIAL, D_SHUFFLE,
    D_BUCKETING, D_SEED, D_PATIENCE, D_RESTORE, D_NLAYERS, D_NPARAMS, D_NUMEL, D_TRAINED,
    D_REAL, D_STEPS, D_COUNT
};
static const char *const d_names[D_COUNT] = {
    "number of training rows", "number of validation rows", "number of steps",
    "number of features", "input kind", "number of classes", "batch size", "epochs",
    "initial epoch", "shuffle setting", "bucketing setting", "fit seed", "patience",
    "restore-best setting", "number of layers", "number of parameters",
    "number of parameter values", "number of trained values", "float width",
    "output kind (1 = per step)",
};

static void describe(const fit_t *f, int64_t *d)
{
    const seqcls_fit_config_t *c = f->c;
    int i;
    memset(d, 0, D_COUNT * sizeof *d);
    d[D_NTRAIN] = f->ntrain;
    d[D_NVALID] = f->have_valid ? f->valid.N : 0;
    d[D_T] = f->train.T;
    d[D_F] = f->train.F;
    d[D_IDS] = f->train.is_ids;
    d[D_CLASSES] = f->train.classes;
    d[D_BATCH] = c->batch_size;
    d[D_EPOCHS] = c->epochs;
    d[D_INITIAL] = c->initial_epoch;
    d[D_SHUFFLE] = c->shuffle;
    d[D_BUCKETING] = c->bucketing;
    d[D_SEED] = c->seed;
    d[D_PATIENCE] = c->patience;
    d[D_RESTORE] = c->restore_best;
    d[D_NLAYERS] = f->m->nlayers;
    d[D_NPARAMS] = f->m->nparams;
    d[D_REAL] = (int64_t)sizeof(real);
    d[D_STEPS] = f->train.steps;
    for (i = 0; i < f->m->nparams; i++) {
        d[D_NUMEL] += (int64_t)f->m->params[i].value->numel;
        if (f->m->params[i].trainable)
            d[D_TRAINED] += (int64_t)f->m->params[i].value->numel;
    }
}

/*
 * The start of a fit with a communicator, on every rank whether its own
 * checks passed (`rc`) or not: the ranks learn whether all did, check
 * their settings and data against rank 0's, and take rank 0's model seed,
 * parameters and optimiser state.  Collective.
 */
static int start_ranks(fit_t *f, int rc)
{
    const char *func = "seqcls_fit";
    seqcls_comm_t *c = f->comm;
    int64_t mine[D_COUNT], zero[D_COUNT + 1];
    float st[2];
    uint64_t len = 0;
    void *state = NULL;
    int i, crc;

    st[0] = rc != SEQCLS_OK;
    st[1] = rc != SEQCLS_OK ? (float)-rc : 0;
    if ((crc = comm_allreduce(c, st, 2, "the ranks' status", func)))
        return crc;
    if (st[0] > 0)
        return others_failed(f, rc, st[0], st[1], "to start");
    describe(f, mine);
    memcpy(zero, mine, sizeof mine);
    zero[D_COUNT] = (int64_t)f->m->seed;
    if ((crc = comm_broadcast(c, zero, sizeof zero, "the settings", func)))
        return crc;
    for (i = 0; i < D_COUNT && mine[i] == zero[i]; i++)
        ;
    st[0] = i < D_COUNT;
    if ((crc = comm_allreduce(c, st, 1, "the settings check", func)))
        return crc;
    if (i < D_COUNT)
        return seqcls__fail(SEQCLS_E_COMM, "%s: rank %d of %d: its %s is %lld, rank 0's is %lld: "
                            "every rank must train the same model on the same data with the "
                            "same settings", func, f->rank, f->size, d_names[i],
                            (long long)mine[i], (long long)zero[i]);
    if (st[0] > 0)
        return seqcls__fail(SEQCLS_E_COMM, "%s: rank %d of %d: the settings or the data of %d "
                            "rank%s differ from rank 0's (see %s message)", func, f->rank,
                            f->size, (int)st[0], st[0] > 1 ? "s" : "",
                            st[0] > 1 ? "their" : "its");
    /* the dropout keys come from rank 0's model seed */
    f->key_seed = rng_key((uint64_t)zero[D_COUNT], (uint64_t)f->c->seed);
    if ((crc = comm_broadcast_params(c, f->m, 0, func)))
        return crc;
    /* the optimiser state of rank 0 (a resumed job's moments and steps) */
    rc = SEQCLS_OK;
    if (f->rank == 0) {
        size_t n = 0;
        rc = optimizer_serialize(f->o, f->m, &state, &n);
        len = rc == SEQCLS_OK ? n : 0;
    }
    st[0] = rc != SEQCLS_OK;
    if ((crc = comm_broadcast(c, &len, sizeof len, "the optimiser state's size", func)) ||
        (crc = comm_broadcast(c, st, sizeof st[0], "the optimiser state's status", func))) {
        seqcls__dealloc(state);
        return crc;
    }
    if (st[0] > 0) {
        seqcls__dealloc(state);
        return rc ? rc : seqcls__fail(SEQCLS_E_COMM, "%s: rank %d of %d: rank 0 could not "
                                      "serialise its optimiser state", func, f->rank, f->size);
    }
    if (f->rank != 0 && !(state = seqcls__alloc((size_t)len ? (size_t)len : 1)))
        rc = SEQCLS_E_NOMEM;
    /* (a rank out of memory still takes part, then fails) */
    crc = comm_broadcast(c, state ? state : (void *)&len, state ? (size_t)len : 0,
                         "the optimiser state", func);
    if (crc == SEQCLS_OK && rc == SEQCLS_OK && f->rank != 0) {
        seqcls_optimizer_t *tmp = NULL;
        rc = optimizer_deserialize(&tmp, f->m, state, (size_t)len, func);
        if (rc == SEQCLS_OK)
            optimizer_take_state(f->o, tmp);
    } else if (rc == SEQCLS_E_NOMEM) {
        rc = seqcls__fail(rc, "%s: out of memory for the optimiser state", func);
    }
    seqcls__dealloc(state);
    if (crc)
        return crc;
    st[0] = rc != SEQCLS_OK;
    st[1] = rc != SEQCLS_OK ? (float)-rc : 0;
    if ((crc = comm_allreduce(c, st, 2, "the ranks' status", func)))
        return crc;
    if (st[0] > 0)
        return others_failed(f, rc, st[0], st[1], "to take rank 0's optimiser state");
    return comm_grads_start(&f->grads, c, f->m, func);
}

/* Check the arguments and set up f (a failed call changes nothing). */
static int setup(fit_t *f, seqcls_model_t *m, seqcls_optimizer_t *o, const seqcls_tensor_t *x,
                 const int32_t *lengths, const seqcls_tensor_t *y, const seqcls_tensor_t *val_x,
                 const int32_t *val_lengths, const seqcls_tensor_t *val_y)
{
    const char *func = "seqcls_fit";
    int rc;
    if (!o)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: optimizer is NULL", func);
    /* refuse before anything is touched: a failed call changes nothing */
    if (m && (rc = model_check_float(m, func)))
        return rc;
    if (m && (rc = optimizer_check_model(o, m, func)))
        return rc;
    rc = dataset_init(&f->train, m, x, lengths, y, func, "training input");
    if (rc)
        return rc;
    f->ntrain = f->train.N;
    if (val_x || val_y) {
        rc = dataset_init(&f->valid, m, val_x, val_lengths, val_y, func, "validation input");
        if (rc)
            return rc;
        if (f->valid.T != f->train.T || f->valid.F != f->train.F)
            return seqcls__fail(SEQCLS_E_SHAPE, "%s: validation rows have %d steps of %d, training "
                                "rows %d of %d", func, f->valid.T, f->valid.F, f->train.T,
                                f->train.F);
        f->have_valid = 1;
    } else if (f->c->valid_split > 0 && (rc = split_validation(f))) {
        return rc;
    }
    f->fixed_steps = model_fixed_steps(m);
    if (f->fixed_steps && f->fixed_steps != f->train.T)
        return seqcls__fail(SEQCLS_E_SHAPE, "%s: the model needs exactly %d steps, the input has %d",
                            func, f->fixed_steps, f->train.T);
    f->order = seqcls__calloc((size_t)f->ntrain, sizeof *f->order);
    f->scratch = seqcls__calloc((size_t)f->ntrain, sizeof *f->scratch);
    f->perm = seqcls__calloc((size_t)f->ntrain, sizeof *f->perm);
    f->mine = seqcls__calloc((size_t)f->c->batch_size, sizeof *f->mine);
    f->keys = seqcls__calloc((size_t)f->c->batch_size, sizeof *f->keys);
    if (!f->order || !f->scratch || !f->perm || !f->mine || !f->keys)
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
    f->key_seed = rng_key(m->seed, (uint64_t)f->c->seed);
    return SEQCLS_OK;
}

int seqcls_fit(seqcls_model_t *m, seqcls_optimizer_t *o, const seqcls_tensor_t *x,
               const int32_t *lengths, const seqcls_tensor_t *y, const seqcls_tensor_t *val_x,
               const int32_t *val_lengths, const seqcls_tensor_t *val_y,
               const seqcls_fit_config_t *config)
{
    fit_t f;
    double lr0;
    int rc, i;

    seqcls__clear_error();
    memset(&f, 0, sizeof f);
    f.m = m;
    f.o = o;
    f.c = config ? config : &defaults;
    f.comm = f.c->comm;
    f.rank = f.comm ? f.comm->rank : 0;
    f.size = f.comm ? f.comm->size : 1;
    rc = setup(&f, m, o, x, lengths, y, val_x, val_lengths, val_y);
    if (f.comm)
        rc = start_ranks(&f, rc);
    if (rc)
        goto done;

    /* sparse gradients are kept compactly while fitting (sparse.c) */
    for (i = 0; i < m->nparams; i++)
        if (m->params[i].sparse && m->params[i].trainable &&
            sparse_set_compact(m->params[i].sparse, 1) != SEQCLS_OK) {
            rc = seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory for the gradient lists of %s",
                              "seqcls_fit", m->params[i].name);
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
    comm_grads_stop(f.grads);
    if (f.best)
        for (i = 0; i < m->nparams; i++)
            seqcls__dealloc(f.best[i]);
    seqcls__dealloc(f.best);
    seqcls__dealloc(f.order);
    seqcls__dealloc(f.scratch);
    seqcls__dealloc(f.perm);
    seqcls__dealloc(f.mine);
    seqcls__dealloc(f.keys);
    seqcls_tensor_free(f.logits);
    batch_free(&f.bt);
    return rc;
}
