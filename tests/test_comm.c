/*
 * test_comm.c -- data-parallel training through the communicator hook,
 * with N "ranks" as threads of this process and a communicator made of
 * mutexes (no MPI): N = 1, 2, 3 ranks train the model one process trains,
 * up to float rounding, and every rank ends with the same replica; a
 * resumed job equals an uninterrupted one; ranks that disagree or fail
 * stop every rank with a message instead of hanging.  The same checks
 * under mpirun are tests/mpi/ (make check-mpi).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "testutil.h"

#define MAX_RANKS 4
#define N 150      /* rows: batches of 32 leave a short last one (150 = 4 * 32 + 22) */
#define T 9
#define V 30

/* ---- a communicator of threads ---- */

typedef struct {
    int size;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    int arrived, dead;
    unsigned long gen;
    float *slot[MAX_RANKS];
    size_t n[MAX_RANKS];
    void *src;
} group_t;

typedef struct {
    group_t *g;
    int rank;
    int fail_at;     /* this rank's collective call that fails (and "kills" it), or 0 */
    int calls;
} member_t;

/* All ranks meet; -1 if a rank has died (no one waits for it forever). */
static int meet(group_t *g)
{
    unsigned long gen;
    int rc = 0;
    pthread_mutex_lock(&g->lock);
    gen = g->gen;
    if (g->dead) {
        rc = -1;
    } else if (++g->arrived == g->size) {
        g->arrived = 0;
        g->gen++;
        pthread_cond_broadcast(&g->cv);
    } else {
        while (g->gen == gen && !g->dead)
            pthread_cond_wait(&g->cv, &g->lock);
        rc = g->gen == gen ? -1 : 0;
    }
    pthread_mutex_unlock(&g->lock);
    return rc;
}

static void die_now(group_t *g)
{
    pthread_mutex_lock(&g->lock);
    g->dead = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->lock);
}

static int fake_allreduce(void *user, float *data, size_t n)
{
    member_t *me = user;
    group_t *g = me->g;
    float *sum;
    size_t k;
    int r;
    if (me->fail_at && ++me->calls == me->fail_at) {
        die_now(g);
        return -3;
    }
    g->slot[me->rank] = data;
    g->n[me->rank] = n;
    if (meet(g))
        return -1;
    for (r = 0; r < g->size; r++)
        if (g->n[r] != n)
            return -2;
    /* every rank adds in rank order: bit-identical sums everywhere */
    sum = calloc(n ? n : 1, sizeof *sum);
    for (r = 0; r < g->size; r++)
        for (k = 0; k < n; k++)
            sum[k] += g->slot[r][k];
    if (meet(g)) {
        free(sum);
        return -1;
    }
    memcpy(data, sum, n * sizeof *sum);
    free(sum);
    return 0;
}

static int fake_broadcast(void *user, void *data, size_t bytes)
{
    member_t *me = user;
    group_t *g = me->g;
    if (me->fail_at && ++me->calls == me->fail_at) {
        die_now(g);
        return -3;
    }
    if (me->rank == 0)
        g->src = data;
    if (meet(g))
        return -1;
    if (me->rank != 0 && bytes)
        memcpy(data, g->src, bytes);
    return meet(g);
}

/* ---- the model and the data ---- */

static void make_data(seqcls_tensor_t **x, seqcls_tensor_t **y, int32_t *lens)
{
    uint64_t s = 11;
    int32_t *ids, *lab;
    int n, t;
    *x = tu_tensor(SEQCLS_I32, 2, N, T, 0);
    *y = tu_tensor(SEQCLS_I32, 1, N, 0, 0);
    ids = seqcls_tensor_data(*x);
    lab = seqcls_tensor_data(*y);
    for (n = 0; n < N; n++) {
        lens[n] = 1 + (int32_t)(tu_next(&s) % T);
        lab[n] = 0;
        for (t = 0; t < T; t++) {
            ids[n * T + t] = 1 + (int32_t)(tu_next(&s) % (V - 1));
            if (t < lens[n] && ids[n * T + t] < 6)
                lab[n] = (ids[n * T + t] % 3);
        }
    }
}

/* Embedding -> BiLSTM with input and recurrent dropout -> Bahdanau ->
 * dense -> dropout -> softmax 3: every kind of dropout seqcls_fit draws. */
static seqcls_model_t *build(uint64_t seed)
{
    seqcls_model_t *m = NULL;
    int l;
    OK(seqcls_model_create(&m, seed));
    OK(seqcls_add_embedding(m, V, 6, 0, NULL));
    OK(seqcls_add_lstm(m, 5, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, &l));
    OK(seqcls_layer_set_float(m, l, SEQCLS_OPT_INPUT_DROPOUT, 0.2f));
    OK(seqcls_layer_set_float(m, l, SEQCLS_OPT_RECURRENT_DROPOUT, 0.1f));
    OK(seqcls_add_attention(m, SEQCLS_ATTN_BAHDANAU, 4, NULL));
    OK(seqcls_add_dense(m, 8, SEQCLS_ACT_RELU, NULL));
    OK(seqcls_add_dropout(m, 0.3f, NULL));
    OK(seqcls_add_output(m, 3, NULL));
    return m;
}

typedef struct {
    seqcls_model_t *m;
    seqcls_optimizer_t *o;
    seqcls_comm_t *comm;          /* NULL: one process */
    seqcls_tensor_t *x, *y;
    const int32_t *lens;
    int from, to, batch;
    int overlap;
    int rc;
    char msg[512];
    int epochs_seen;
    float last_val_loss;
    int stop_at_batch;            /* on_batch asks to stop at this batch (from 1), or 0 */
} job_t;

static int on_epoch(void *user, int epoch, float loss, float acc, float vl, float va)
{
    job_t *j = user;
    (void)epoch;
    (void)loss;
    (void)acc;
    (void)va;
    j->epochs_seen++;
    j->last_val_loss = vl;
    return 0;
}

static int on_batch(void *user, int epoch, int batch, int batches, float loss, float acc)
{
    job_t *j = user;
    (void)batches;
    (void)loss;
    (void)acc;
    return j->stop_at_batch && epoch == 0 && batch + 1 == j->stop_at_batch;
}

static void *run_fit(void *arg)
{
    job_t *j = arg;
    seqcls_fit_config_t *c = NULL;
    j->rc = seqcls_fit_config_create(&c);
    if (j->rc == SEQCLS_OK) {
        seqcls_fit_config_set_int(c, SEQCLS_FIT_SEED, 4);
        seqcls_fit_config_set_int(c, SEQCLS_FIT_BATCH_SIZE, j->batch);
        seqcls_fit_config_set_int(c, SEQCLS_FIT_INITIAL_EPOCH, j->from);
        seqcls_fit_config_set_int(c, SEQCLS_FIT_EPOCHS, j->to);
        seqcls_fit_config_set_float(c, SEQCLS_FIT_VALID_SPLIT, 0.2f);
        seqcls_fit_config_set_callbacks(c, on_batch, on_epoch, NULL, j);
        seqcls_fit_config_set_comm(c, j->comm);
        j->rc = seqcls_fit(j->m, j->o, j->x, j->lens, j->y, NULL, NULL, NULL, c);
    }
    snprintf(j->msg, sizeof j->msg, "%s", seqcls_last_error());
    seqcls_fit_config_free(c);
    return NULL;
}

typedef struct {
    group_t g;
    member_t mem[MAX_RANKS];
    job_t job[MAX_RANKS];
    seqcls_tensor_t *x, *y;
    int32_t lens[N];
    int size;
} world_t;

/* Ranks 1.. get models of other seeds: rank 0's weights must reach them. */
static void world_init(world_t *w, int size, int overlap)
{
    int r;
    memset(w, 0, sizeof *w);
    make_data(&w->x, &w->y, w->lens);
    w->size = size;
    w->g.size = size;
    pthread_mutex_init(&w->g.lock, NULL);
    pthread_cond_init(&w->g.cv, NULL);
    for (r = 0; r < size; r++) {
        job_t *j = &w->job[r];
        w->mem[r].g = &w->g;
        w->mem[r].rank = r;
        OK(seqcls_comm_create(&j->comm, r, size, fake_allreduce, fake_broadcast, &w->mem[r]));
        OK(seqcls_comm_set_int(j->comm, SEQCLS_COMM_OVERLAP, overlap));
        /* small buckets: several per step */
        OK(seqcls_comm_set_int(j->comm, SEQCLS_COMM_BUCKET_BYTES, 256));
        j->m = build(r == 0 ? 12 : 100 + (uint64_t)r);
        OK(seqcls_optimizer_create(&j->o, SEQCLS_OPTIM_ADAM, 0.01f));
        j->x = w->x;
        j->y = w->y;
        j->lens = w->lens;
        j->from = 0;
        j->to = 3;
        j->batch = 32;
    }
}

static void world_run(world_t *w)
{
    pthread_t tid[MAX_RANKS];
    int r;
    for (r = 0; r < w->size; r++)
        ck_assert_int_eq(pthread_create(&tid[r], NULL, run_fit, &w->job[r]), 0);
    for (r = 0; r < w->size; r++)
        pthread_join(tid[r], NULL);
}

static void world_free(world_t *w)
{
    int r;
    for (r = 0; r < w->size; r++) {
        seqcls_model_free(w->job[r].m);
        seqcls_optimizer_free(w->job[r].o);
        seqcls_comm_free(w->job[r].comm);
    }
    seqcls_tensor_free(w->x);
    seqcls_tensor_free(w->y);
    pthread_mutex_destroy(&w->g.lock);
    pthread_cond_destroy(&w->g.cv);
}

/* The reference: one process, no communicator. */
static seqcls_model_t *reference(int epochs)
{
    world_t w;
    job_t *j;
    seqcls_model_t *m;
    world_init(&w, 1, 1);
    j = &w.job[0];
    seqcls_comm_free(j->comm);
    j->comm = NULL;
    j->to = epochs;
    run_fit(j);
    ck_assert_msg(j->rc == SEQCLS_OK, "%s", j->msg);
    m = j->m;
    j->m = NULL;
    world_free(&w);
    return m;
}

/* The largest |a - b| over every parameter but those whose gradient is
 * zero in exact arithmetic because a softmax ignores what they add to
 * every score alike: Bahdanau's V.bias and the transformer's key bias (the
 * middle third of in_proj_bias).  In float their gradient is rounding
 * noise, which Adam's m / sqrt(v) turns into steps of up to lr in either
 * direction, in one process as in several; the predictions they cannot
 * change are compared instead (pred_diff). */
static double max_diff(seqcls_model_t *a, seqcls_model_t *b)
{
    double worst = 0;
    int i;
    for (i = 0; i < seqcls_param_count(a); i++) {
        const int key_bias = strstr(seqcls_param_name(a, i), "self_attn.in_proj_bias") != NULL;
        if (strstr(seqcls_param_name(a, i), ".attention.V.bias"))
            continue;
        seqcls_tensor_t *va, *vb;
        const real_t *pa, *pb;
        int64_t k;
        OK(seqcls_param(a, i, &va, NULL));
        OK(seqcls_param(b, i, &vb, NULL));
        pa = seqcls_tensor_data(va);
        pb = seqcls_tensor_data(vb);
        for (k = 0; k < seqcls_tensor_numel(va); k++) {
            double d = fabs((double)pa[k] - (double)pb[k]);
            if (key_bias && 3 * k >= seqcls_tensor_numel(va) && 3 * k < 2 * seqcls_tensor_numel(va))
                continue;
            if (!(d <= worst))
                worst = d;
            if (getenv("COMM_DEBUG") && d > 1e-5)
                printf("    %s[%lld]: %.9g vs %.9g\n", seqcls_param_name(a, i), (long long)k,
                       (double)pa[k], (double)pb[k]);
        }
    }
    return worst;
}

/* The largest difference of the two models' probabilities on the data. */
static double pred_diff(seqcls_model_t *a, seqcls_model_t *b, seqcls_tensor_t *x,
                        const int32_t *lens)
{
    seqcls_tensor_t *pa = tu_tensor(SEQCLS_F32, 2, N, 3, 0), *pb = tu_tensor(SEQCLS_F32, 2, N, 3, 0);
    double worst = 0;
    int k;
    OK(seqcls_predict(a, x, lens, pa, NULL));
    OK(seqcls_predict(b, x, lens, pb, NULL));
    for (k = 0; k < N * 3; k++) {
        double d = fabs((double)((real_t *)seqcls_tensor_data(pa))[k] -
                        (double)((real_t *)seqcls_tensor_data(pb))[k]);
        if (!(d <= worst))
            worst = d;
    }
    seqcls_tensor_free(pa);
    seqcls_tensor_free(pb);
    return worst;
}

/*
 * The tolerance: the ranks add their gradient sums in another order than
 * one process adds its rows (and the batch's GEMMs have other shapes), so
 * the weights differ by float rounding, which Adam's steps (m / sqrt(v))
 * carry on.  After 3 epochs of 4 steps here the weights differ by at most
 * 7.6e-7 and the probabilities by 6e-8 (docs/distributed.md); a row
 * trained twice, lost, or given another dropout mask moves them by 1e-3
 * and more.
 */
#define TOLERANCE 1e-5

START_TEST(ranks_equal_one_process)
{
    const int size = 1 + _i / 2, overlap = _i % 2;
    seqcls_model_t *ref = reference(3);
    world_t w;
    int r;
    double d, p;
    world_init(&w, size, overlap);
    world_run(&w);
    for (r = 0; r < size; r++)
        ck_assert_msg(w.job[r].rc == SEQCLS_OK, "rank %d: %s", r, w.job[r].msg);
    for (r = 1; r < size; r++)
        tu_assert_same_params(w.job[0].m, w.job[r].m);
    d = max_diff(ref, w.job[0].m);
    p = pred_diff(ref, w.job[0].m, w.x, w.lens);
    printf("  %d rank%s%s: max |w - w_1process| = %.3g, max |p - p_1process| = %.3g\n", size,
           size > 1 ? "s" : " ", overlap ? ", overlapped" : ", not overlapped", d, p);
    ck_assert_msg(d <= TOLERANCE, "%d ranks differ from one process by %g", size, d);
    ck_assert_msg(p <= TOLERANCE, "%d ranks predict %g away from one process", size, p);
    /* the validation figures are the same on every rank */
    for (r = 1; r < size; r++)
        ck_assert(w.job[r].last_val_loss == w.job[0].last_val_loss);
    ck_assert_int_eq(w.job[0].epochs_seen, 3);
    /* (120 training rows in batches of 32: 4 steps an epoch) */
    ck_assert(seqcls_comm_stat(w.job[0].comm, SEQCLS_COMM_STAT_STEPS) == 12);
    ck_assert(seqcls_comm_stat(w.job[0].comm, SEQCLS_COMM_STAT_BUCKETS) > 12);
    ck_assert(seqcls_comm_stat(w.job[0].comm, SEQCLS_COMM_STAT_COMM_SECONDS) >= 0);
    ck_assert(seqcls_comm_stat(w.job[0].comm, SEQCLS_COMM_STAT_EXPOSED_SECONDS) >= 0);
    ck_assert(seqcls_comm_stat(w.job[0].comm, SEQCLS_COMM_STAT_BACKWARD_SECONDS) > 0);
    ck_assert(seqcls_comm_stat(w.job[0].comm, SEQCLS_COMM_STAT_BYTES) > 0);
    world_free(&w);
    seqcls_model_free(ref);
}
END_TEST

/* One process, and one rank with a communicator: bit for bit the same. */
START_TEST(one_rank_is_one_process_exactly)
{
    seqcls_model_t *ref = reference(2);
    world_t w;
    world_init(&w, 1, 1);
    w.job[0].to = 2;
    world_run(&w);
    ck_assert_msg(w.job[0].rc == SEQCLS_OK, "%s", w.job[0].msg);
    tu_assert_same_params(ref, w.job[0].m);
    world_free(&w);
    seqcls_model_free(ref);
}
END_TEST

/* Two epochs, a checkpoint of rank 0 loaded by every rank, two more:
 * the same model as four epochs in one job, bit for bit. */
START_TEST(resume_equals_uninterrupted)
{
    world_t a, b;
    char path[] = "/tmp/seqcls-comm-XXXXXX";
    int fd = mkstemp(path), r;
    ck_assert_int_ge(fd, 0);
    close(fd);
    world_init(&a, 2, 1);
    a.job[0].to = a.job[1].to = 4;
    world_run(&a);
    world_init(&b, 2, 1);
    b.job[0].to = b.job[1].to = 2;
    world_run(&b);
    for (r = 0; r < 2; r++)
        ck_assert_msg(a.job[r].rc == SEQCLS_OK && b.job[r].rc == SEQCLS_OK, "%s %s",
                      a.job[r].msg, b.job[r].msg);
    OK(seqcls_checkpoint_save(b.job[0].m, b.job[0].o, path));
    for (r = 0; r < 2; r++) {
        seqcls_model_free(b.job[r].m);
        seqcls_optimizer_free(b.job[r].o);
        b.job[r].m = NULL;
        b.job[r].o = NULL;
    }
    /* rank 0 resumes from the file; rank 1 gets everything from rank 0 */
    OK(seqcls_checkpoint_load(&b.job[0].m, &b.job[0].o, path));
    b.job[1].m = build(77);
    OK(seqcls_optimizer_create(&b.job[1].o, SEQCLS_OPTIM_ADAM, 0.5f));
    for (r = 0; r < 2; r++) {
        b.job[r].from = 2;
        b.job[r].to = 4;
    }
    world_run(&b);
    for (r = 0; r < 2; r++) {
        ck_assert_msg(b.job[r].rc == SEQCLS_OK, "%s", b.job[r].msg);
        tu_assert_same_params(a.job[0].m, b.job[r].m);
        ck_assert_int_eq(seqcls_optimizer_steps(b.job[r].o), seqcls_optimizer_steps(a.job[0].o));
    }
    unlink(path);
    world_free(&a);
    world_free(&b);
}
END_TEST

/* A rank with another batch size: every rank fails, naming it. */
START_TEST(ranks_that_disagree_all_fail)
{
    world_t w;
    int r;
    world_init(&w, 3, 1);
    w.job[2].batch = 16;
    world_run(&w);
    for (r = 0; r < 3; r++)
        ck_assert_int_eq(w.job[r].rc, SEQCLS_E_COMM);
    ck_assert_msg(strstr(w.job[2].msg, "its batch size is 16, rank 0's is 32"), "%s",
                  w.job[2].msg);
    ck_assert_msg(strstr(w.job[0].msg, "differ from rank 0's"), "%s", w.job[0].msg);
    world_free(&w);
}
END_TEST

/* A rank whose data are refused: it reports its own error, the others a
 * communicator error naming it, and nobody hangs. */
START_TEST(a_rank_with_bad_data_stops_all)
{
    world_t w;
    seqcls_tensor_t *bad = tu_tensor(SEQCLS_I32, 1, N, 0, 0);
    int r;
    world_init(&w, 2, 1);
    memcpy(seqcls_tensor_data(bad), seqcls_tensor_data(w.y), N * sizeof(int32_t));
    ((int32_t *)seqcls_tensor_data(bad))[7] = 9;
    w.job[1].y = bad;
    world_run(&w);
    ck_assert_int_eq(w.job[1].rc, SEQCLS_E_RANGE);
    ck_assert_int_eq(w.job[0].rc, SEQCLS_E_RANGE);
    ck_assert_msg(strstr(w.job[0].msg, "1 other rank failed to start"), "%s", w.job[0].msg);
    for (r = 0; r < 2; r++)
        ck_assert_int_eq(seqcls_optimizer_steps(w.job[r].o), 0);
    seqcls_tensor_free(bad);
    world_free(&w);
}
END_TEST

/* A rank dies in the middle of training (its collective fails and it
 * leaves): every rank returns SEQCLS_E_COMM. */
START_TEST(a_dying_rank_stops_all)
{
    world_t w;
    int r;
    world_init(&w, 3, _i);
    w.mem[1].fail_at = 40;
    world_run(&w);
    for (r = 0; r < 3; r++) {
        ck_assert_msg(w.job[r].rc == SEQCLS_E_COMM, "rank %d: %d %s", r, w.job[r].rc, w.job[r].msg);
        ck_assert_msg(strstr(w.job[r].msg, "failed (callback status"), "%s", w.job[r].msg);
    }
    world_free(&w);
}
END_TEST

/* Batch norm: its batch statistics are each rank's own (the documented
 * exception), its running statistics rank 0's after every epoch, so that
 * the replicas stay equal. */
START_TEST(batch_norm_replicas_stay_equal)
{
    world_t w;
    int r;
    world_init(&w, 3, 1);
    for (r = 0; r < 3; r++) {
        int l;
        seqcls_model_free(w.job[r].m);
        OK(seqcls_model_create(&w.job[r].m, 12 + (uint64_t)r));
        OK(seqcls_add_embedding(w.job[r].m, V, 6, 0, NULL));
        OK(seqcls_add_pooling(w.job[r].m, SEQCLS_POOL_MEAN, NULL));
        OK(seqcls_add_dense(w.job[r].m, 8, SEQCLS_ACT_RELU, NULL));
        OK(seqcls_add_batchnorm(w.job[r].m, &l));
        OK(seqcls_add_output(w.job[r].m, 3, NULL));
    }
    world_run(&w);
    for (r = 0; r < 3; r++)
        ck_assert_msg(w.job[r].rc == SEQCLS_OK, "rank %d: %s", r, w.job[r].msg);
    for (r = 1; r < 3; r++)
        tu_assert_same_params(w.job[0].m, w.job[r].m);
    world_free(&w);
}
END_TEST

/* A per-step model (a tagger): the loss is a mean over the valid steps of
 * the whole global batch, which every rank counts the same. */
static seqcls_model_t *tagger(uint64_t seed)
{
    seqcls_model_t *m = NULL;
    OK(seqcls_model_create(&m, seed));
    OK(seqcls_add_embedding(m, V, 6, 0, NULL));
    OK(seqcls_add_lstm(m, 5, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
    OK(seqcls_add_dropout(m, 0.2f, NULL));
    OK(seqcls_add_output(m, 3, NULL));
    return m;
}

START_TEST(per_step_ranks_equal_one_process)
{
    world_t w, one;
    seqcls_tensor_t *y2 = tu_tensor(SEQCLS_I32, 2, N, T, 0);
    const int32_t *ids;
    int32_t *lab = seqcls_tensor_data(y2);
    int r, k;
    double d;
    world_init(&one, 1, 1);
    world_init(&w, 3, 1);
    ids = seqcls_tensor_data(w.x);
    for (k = 0; k < N * T; k++)
        lab[k] = ids[k] % 3;   /* tag = the token's id mod 3 */
    seqcls_model_free(one.job[0].m);
    seqcls_comm_free(one.job[0].comm);
    one.job[0].comm = NULL;
    one.job[0].m = tagger(12);
    one.job[0].y = y2;
    for (r = 0; r < 3; r++) {
        seqcls_model_free(w.job[r].m);
        w.job[r].m = tagger(12 + (uint64_t)r);
        w.job[r].y = y2;
    }
    run_fit(&one.job[0]);
    world_run(&w);
    ck_assert_msg(one.job[0].rc == SEQCLS_OK, "%s", one.job[0].msg);
    for (r = 0; r < 3; r++)
        ck_assert_msg(w.job[r].rc == SEQCLS_OK, "rank %d: %s", r, w.job[r].msg);
    for (r = 1; r < 3; r++)
        tu_assert_same_params(w.job[0].m, w.job[r].m);
    d = max_diff(one.job[0].m, w.job[0].m);
    printf("  per-step model, 3 ranks: max |w - w_1process| = %.3g\n", d);
    ck_assert_msg(d <= TOLERANCE, "3 ranks differ from one process by %g", d);
    ck_assert(w.job[0].last_val_loss == w.job[2].last_val_loss);
    ck_assert(fabs(w.job[0].last_val_loss - one.job[0].last_val_loss) < 1e-5);
    world_free(&one);
    world_free(&w);
    seqcls_tensor_free(y2);
}
END_TEST

/* A transformer encoder (dropout 0.1 at its four sites, drawn from the
 * rows' keys): 2 ranks train the one-process model. */
static seqcls_model_t *encoder(uint64_t seed)
{
    seqcls_model_t *m = NULL;
    OK(seqcls_model_create(&m, seed));
    OK(seqcls_add_embedding(m, V, 8, 0, NULL));
    OK(seqcls_add_positional_encoding(m, SEQCLS_POS_SINUSOIDAL, T, NULL));
    OK(seqcls_add_transformer_encoder(m, 2, 16, 0, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(m, 3, NULL));
    return m;
}

START_TEST(transformer_ranks_equal_one_process)
{
    world_t w, one;
    int r;
    double d, p;
    world_init(&one, 1, 1);
    world_init(&w, 2, 1);
    seqcls_model_free(one.job[0].m);
    seqcls_comm_free(one.job[0].comm);
    one.job[0].comm = NULL;
    one.job[0].m = encoder(12);
    for (r = 0; r < 2; r++) {
        seqcls_model_free(w.job[r].m);
        w.job[r].m = encoder(12 + (uint64_t)r);
    }
    run_fit(&one.job[0]);
    world_run(&w);
    ck_assert_msg(one.job[0].rc == SEQCLS_OK, "%s", one.job[0].msg);
    for (r = 0; r < 2; r++)
        ck_assert_msg(w.job[r].rc == SEQCLS_OK, "rank %d: %s", r, w.job[r].msg);
    tu_assert_same_params(w.job[0].m, w.job[1].m);
    d = max_diff(one.job[0].m, w.job[0].m);
    p = pred_diff(one.job[0].m, w.job[0].m, w.x, w.lens);
    printf("  transformer, 2 ranks: max |w - w_1process| = %.3g, max |p - p_1process| = %.3g\n",
           d, p);
    ck_assert_msg(d <= TOLERANCE && p <= TOLERANCE, "2 ranks differ from one process by %g, %g",
                  d, p);
    world_free(&one);
    world_free(&w);
}
END_TEST

/* A stop asked by one rank's callback stops every rank after that batch. */
START_TEST(a_stop_on_one_rank_stops_all)
{
    world_t w;
    int r;
    world_init(&w, 2, 1);
    w.job[1].stop_at_batch = 2;
    world_run(&w);
    for (r = 0; r < 2; r++) {
        ck_assert_msg(w.job[r].rc == SEQCLS_OK, "%s", w.job[r].msg);
        ck_assert_int_eq(seqcls_optimizer_steps(w.job[r].o), 2);
        ck_assert_int_eq(w.job[r].epochs_seen, 1);
    }
    tu_assert_same_params(w.job[0].m, w.job[1].m);
    world_free(&w);
}
END_TEST

/* For loops of one's own: rank 0's weights everywhere, gradients averaged. */
typedef struct {
    seqcls_comm_t *comm;
    seqcls_model_t *m;
    int rc;
} own_t;

static void *own_loop(void *arg)
{
    own_t *o = arg;
    int i;
    o->rc = seqcls_comm_broadcast_params(o->comm, o->m);
    for (i = 0; o->rc == SEQCLS_OK && i < seqcls_param_count(o->m); i++) {
        seqcls_tensor_t *g;
        real_t *d;
        int64_t k;
        seqcls_param(o->m, i, NULL, &g);
        d = seqcls_tensor_data(g);
        for (k = 0; k < seqcls_tensor_numel(g); k++)
            d[k] = (real_t)(seqcls_comm_rank(o->comm) + 1);
    }
    if (o->rc == SEQCLS_OK)
        o->rc = seqcls_comm_allreduce_grads(o->comm, o->m);
    return NULL;
}

START_TEST(own_loop_calls)
{
    world_t w;
    own_t own[3];
    pthread_t tid[3];
    int r, i;
    world_init(&w, 3, 1);
    for (r = 0; r < 3; r++) {
        own[r].comm = w.job[r].comm;
        own[r].m = w.job[r].m;
        ck_assert_int_eq(pthread_create(&tid[r], NULL, own_loop, &own[r]), 0);
    }
    for (r = 0; r < 3; r++)
        pthread_join(tid[r], NULL);
    for (r = 0; r < 3; r++) {
        ck_assert_int_eq(own[r].rc, SEQCLS_OK);
        tu_assert_same_params(w.job[0].m, w.job[r].m);
        for (i = 0; i < seqcls_param_count(w.job[r].m); i++) {
            seqcls_tensor_t *g;
            OK(seqcls_param(w.job[r].m, i, NULL, &g));
            /* (1 + 2 + 3) / 3 */
            ck_assert(((real_t *)seqcls_tensor_data(g))[0] == 2);
        }
    }
    world_free(&w);
}
END_TEST

START_TEST(comm_arguments)
{
    seqcls_comm_t *c = (seqcls_comm_t *)1;
    member_t me;
    memset(&me, 0, sizeof me);
    FAILS(SEQCLS_E_INVALID_ARG, "out is NULL",
          seqcls_comm_create(NULL, 0, 1, fake_allreduce, fake_broadcast, &me));
    FAILS(SEQCLS_E_INVALID_ARG, "rank 2 of 2", seqcls_comm_create(&c, 2, 2, fake_allreduce,
                                                                  fake_broadcast, &me));
    ck_assert_ptr_null(c);
    FAILS(SEQCLS_E_INVALID_ARG, "all-reduce callback is NULL",
          seqcls_comm_create(&c, 0, 1, NULL, fake_broadcast, &me));
    FAILS(SEQCLS_E_INVALID_ARG, "rank 0 of 0", seqcls_comm_create(&c, 0, 0, fake_allreduce,
                                                                  fake_broadcast, &me));
    OK(seqcls_comm_create(&c, 1, 3, fake_allreduce, fake_broadcast, &me));
    ck_assert_int_eq(seqcls_comm_rank(c), 1);
    ck_assert_int_eq(seqcls_comm_size(c), 3);
    ck_assert_int_eq(seqcls_comm_rank(NULL), -1);
    FAILS(SEQCLS_E_INVALID_ARG, "overlap 2", seqcls_comm_set_int(c, SEQCLS_COMM_OVERLAP, 2));
    FAILS(SEQCLS_E_INVALID_ARG, "bucket size 3", seqcls_comm_set_int(c, SEQCLS_COMM_BUCKET_BYTES, 3));
    FAILS(SEQCLS_E_INVALID_ARG, "unknown option 99", seqcls_comm_set_int(c, 99, 1));
    ck_assert(isnan(seqcls_comm_stat(c, 99)));
    ck_assert(isnan(seqcls_comm_stat(NULL, SEQCLS_COMM_STAT_STEPS)));
    ck_assert(seqcls_comm_stat(c, SEQCLS_COMM_STAT_STEPS) == 0);
    FAILS(SEQCLS_E_INVALID_ARG, "config is NULL", seqcls_fit_config_set_comm(NULL, c));
    FAILS(SEQCLS_E_INVALID_ARG, "model is NULL", seqcls_comm_allreduce_grads(c, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "comm is NULL", seqcls_comm_broadcast_params(NULL, NULL));
    seqcls_comm_free(c);
    seqcls_comm_free(NULL);
    ck_assert_str_eq(seqcls_strerror(SEQCLS_E_COMM), "communication between ranks failed");
}
END_TEST

static int freed;
static void count_free(void *user) { freed += *(int *)user; }

START_TEST(comm_destructor)
{
    seqcls_comm_t *c = NULL;
    int three = 3;
    OK(seqcls_comm_create(&c, 0, 1, fake_allreduce, fake_broadcast, &three));
    OK(seqcls_comm_set_destructor(c, count_free));
    freed = 0;
    seqcls_comm_free(c);
    ck_assert_int_eq(freed, 3);
    FAILS(SEQCLS_E_INVALID_ARG, "comm is NULL", seqcls_comm_set_destructor(NULL, count_free));
}
END_TEST

/* Embedding bag (rows V + 13: an id and a hashed "n-gram" a step) ->
 * BiLSTM -> mean pooling -> softmax 3: the bag's table has a gradient
 * sparse by rows, whose rows differ from rank to rank.  (Not attention:
 * over these bags its scores stay nearly uniform, so that the query
 * projection's gradient is 1e-4 of the others' (rms 3.4e-7), and Adam,
 * which divides by its RMS, makes its rounding differences 1e-5 in the
 * weights, while the probabilities agree to 6e-8.) */
#define BAG_ROWS (V + 13)

static seqcls_model_t *bag_model(uint64_t seed)
{
    seqcls_model_t *m = NULL;
    OK(seqcls_model_create(&m, seed));
    OK(seqcls_add_embedding_bag(m, BAG_ROWS, 6, 2, NULL));
    OK(seqcls_add_lstm(m, 5, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(m, 3, NULL));
    return m;
}

/* The world's ids as bags [N, T, 2]: the id, and a second row from it
 * (none for every fifth id). */
static seqcls_tensor_t *bag_data(const seqcls_tensor_t *x)
{
    seqcls_tensor_t *x3 = tu_tensor(SEQCLS_I32, 3, N, T, 2);
    const int32_t *ids = seqcls_tensor_data((seqcls_tensor_t *)x);
    int32_t *bags = seqcls_tensor_data(x3);
    int k;
    for (k = 0; k < N * T; k++) {
        bags[2 * k] = ids[k];
        bags[2 * k + 1] = ids[k] % 5 ? V + ids[k] * 7 % 13 : -1;
    }
    return x3;
}

/* 2 and 3 ranks train the one-process model: every replica steps the
 * union of the ranks' rows (lazy Adam, gradients clipped by the global
 * norm, sparse rows included). */
START_TEST(embedding_bag_ranks_equal_one_process)
{
    const int size = 2 + _i;
    world_t w, one;
    seqcls_tensor_t *x3;
    int r;
    double d, p;
    world_init(&one, 1, 1);
    world_init(&w, size, 1);
    x3 = bag_data(w.x);
    seqcls_comm_free(one.job[0].comm);
    one.job[0].comm = NULL;
    for (r = 0; r < size + 1; r++) {
        job_t *j = r < size ? &w.job[r] : &one.job[0];
        seqcls_model_free(j->m);
        j->m = bag_model(r < size ? 12 + (uint64_t)r : 12);
        j->x = x3;
        OK(seqcls_optimizer_set_float(j->o, SEQCLS_OPTIM_CLIPNORM, 0.05f));
    }
    run_fit(&one.job[0]);
    world_run(&w);
    ck_assert_msg(one.job[0].rc == SEQCLS_OK, "%s", one.job[0].msg);
    for (r = 0; r < size; r++)
        ck_assert_msg(w.job[r].rc == SEQCLS_OK, "rank %d: %s", r, w.job[r].msg);
    for (r = 1; r < size; r++)
        tu_assert_same_params(w.job[0].m, w.job[r].m);
    d = max_diff(one.job[0].m, w.job[0].m);
    p = pred_diff(one.job[0].m, w.job[0].m, x3, w.lens);
    printf("  embedding bag, %d ranks: max |w - w_1process| = %.3g, max |p - p_1process| = "
           "%.3g\n", size, d, p);
    ck_assert_msg(d <= TOLERANCE && p <= TOLERANCE, "%d ranks differ from one process by %g, %g",
                  size, d, p);
    ck_assert(seqcls_comm_stat(w.job[0].comm, SEQCLS_COMM_STAT_BYTES) > 0);
    world_free(&one);
    world_free(&w);
    seqcls_tensor_free(x3);
}
END_TEST

/* A loop of one's own: seqcls_comm_allreduce_grads averages a bag's rows
 * over the ranks (the union of their rows, the others untouched). */
typedef struct {
    seqcls_comm_t *comm;
    seqcls_model_t *m;
    seqcls_tensor_t *x;
    const int32_t *lens;
    int rc;
} bag_loop_t;

static void *bag_loop(void *arg)
{
    bag_loop_t *o = arg;
    const int r = seqcls_comm_rank(o->comm);
    seqcls_tensor_t *xs = NULL, *y = NULL, *logits = NULL;
    int64_t sx[3] = {4, T, 2}, sy[1] = {4}, sl[2] = {4, 3};
    int32_t labels[4] = {0, 1, 2, 0};
    float loss;
    /* rank r reads rows 4r .. 4r+3 */
    o->rc = seqcls_tensor_wrap(&xs, SEQCLS_I32, 3, sx,
                               (int32_t *)seqcls_tensor_data(o->x) + (size_t)4 * r * T * 2);
    if (!o->rc)
        o->rc = seqcls_tensor_wrap(&y, SEQCLS_I32, 1, sy, labels);
    if (!o->rc)
        o->rc = seqcls_tensor_create(&logits, SEQCLS_F32, 2, sl);
    if (!o->rc)
        o->rc = seqcls_zero_grad(o->m);
    if (!o->rc)
        o->rc = seqcls_forward(o->m, xs, o->lens + 4 * r, logits, 1);
    if (!o->rc)
        o->rc = seqcls_loss_backward(o->m, y, &loss);
    if (!o->rc)
        o->rc = seqcls_comm_allreduce_grads(o->comm, o->m);
    seqcls_tensor_free(xs);
    seqcls_tensor_free(y);
    seqcls_tensor_free(logits);
    return NULL;
}

START_TEST(embedding_bag_own_loop)
{
    world_t w;
    bag_loop_t lp[2];
    pthread_t tid[2];
    seqcls_model_t *ref[2];
    seqcls_tensor_t *x3;
    int r;
    world_init(&w, 2, 0);
    x3 = bag_data(w.x);
    for (r = 0; r < 2; r++) {
        bag_loop_t solo = {NULL, NULL, x3, w.lens, 0};
        /* what each rank's own batch gives alone: the average must be theirs */
        ref[r] = bag_model(12);
        lp[r].comm = w.job[r].comm;
        lp[r].m = bag_model(12);
        lp[r].x = x3;
        lp[r].lens = w.lens;
        solo.m = ref[r];
        {
            seqcls_tensor_t *xs = NULL, *y = NULL, *logits = NULL;
            int64_t sx[3] = {4, T, 2}, sy[1] = {4}, sl[2] = {4, 3};
            int32_t labels[4] = {0, 1, 2, 0};
            float loss;
            OK(seqcls_tensor_wrap(&xs, SEQCLS_I32, 3, sx,
                                  (int32_t *)seqcls_tensor_data(x3) + (size_t)4 * r * T * 2));
            OK(seqcls_tensor_wrap(&y, SEQCLS_I32, 1, sy, labels));
            OK(seqcls_tensor_create(&logits, SEQCLS_F32, 2, sl));
            OK(seqcls_zero_grad(solo.m));
            OK(seqcls_forward(solo.m, xs, w.lens + 4 * r, logits, 1));
            OK(seqcls_loss_backward(solo.m, y, &loss));
            seqcls_tensor_free(xs);
            seqcls_tensor_free(y);
            seqcls_tensor_free(logits);
        }
    }
    for (r = 0; r < 2; r++)
        ck_assert_int_eq(pthread_create(&tid[r], NULL, bag_loop, &lp[r]), 0);
    for (r = 0; r < 2; r++)
        pthread_join(tid[r], NULL);
    for (r = 0; r < 2; r++) {
        seqcls_tensor_t *g, *g0, *g1;
        const real_t *a, *b0, *b1;
        int64_t k;
        ck_assert_int_eq(lp[r].rc, SEQCLS_OK);
        OK(seqcls_param(lp[r].m, 0, NULL, &g));
        OK(seqcls_param(ref[0], 0, NULL, &g0));
        OK(seqcls_param(ref[1], 0, NULL, &g1));
        a = seqcls_tensor_data(g);
        b0 = seqcls_tensor_data(g0);
        b1 = seqcls_tensor_data(g1);
        for (k = 0; k < seqcls_tensor_numel(g); k++)
            ck_assert_msg(fabs((double)a[k] - ((double)b0[k] + (double)b1[k]) / 2) <= 1e-6,
                          "rank %d: row %lld of the bag's gradient", r, (long long)(k / 6));
    }
    for (r = 0; r < 2; r++) {
        seqcls_model_free(lp[r].m);
        seqcls_model_free(ref[r]);
    }
    world_free(&w);
    seqcls_tensor_free(x3);
}
END_TEST

Suite *comm_suite(void)
{
    Suite *s = suite_create("comm");
    TCase *tc = tcase_create("comm");
    tcase_set_timeout(tc, 120);
    /* N = 1, 2, 3 ranks, each with and without overlap */
    tcase_add_loop_test(tc, ranks_equal_one_process, 0, 6);
    tcase_add_test(tc, one_rank_is_one_process_exactly);
    tcase_add_test(tc, resume_equals_uninterrupted);
    tcase_add_test(tc, ranks_that_disagree_all_fail);
    tcase_add_test(tc, a_rank_with_bad_data_stops_all);
    tcase_add_loop_test(tc, a_dying_rank_stops_all, 0, 2);
    tcase_add_test(tc, a_stop_on_one_rank_stops_all);
    tcase_add_test(tc, batch_norm_replicas_stay_equal);
    tcase_add_test(tc, per_step_ranks_equal_one_process);
    tcase_add_test(tc, transformer_ranks_equal_one_process);
    tcase_add_test(tc, own_loop_calls);
    tcase_add_test(tc, comm_arguments);
    tcase_add_loop_test(tc, embedding_bag_ranks_equal_one_process, 0, 2);
    tcase_add_test(tc, embedding_bag_own_loop);
    tcase_add_test(tc, comm_destructor);
    suite_add_tcase(s, tc);
    return s;
}
