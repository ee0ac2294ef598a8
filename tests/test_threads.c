/*
 * test_threads.c -- seqcls_predict on one shared model from 8 threads at
 * once gives exactly the single-threaded results; training one model
 * while other threads predict on another is safe.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

#define THREADS 8
#define CALLS 1250   /* per thread: 10,000 in all */
#define B 4
#define T 9
#define V 40

typedef struct {
    const seqcls_model_t *m;
    const seqcls_tensor_t *ids;
    const int32_t *lens;
    const real_t *want_p, *want_a;
    int mismatches, errors;
} job_t;

static void *predict_many(void *arg)
{
    job_t *j = arg;
    int64_t sp[2] = {B, 2}, sa[2] = {B, T};
    seqcls_tensor_t *p = NULL, *a = NULL;
    int i;
    if (seqcls_tensor_create(&p, SEQCLS_F32, 2, sp) || seqcls_tensor_create(&a, SEQCLS_F32, 2, sa)) {
        j->errors++;
        goto out;
    }
    for (i = 0; i < CALLS; i++) {
        if (seqcls_predict(j->m, j->ids, j->lens, p, j->want_a ? a : NULL) != SEQCLS_OK) {
            j->errors++;
            continue;
        }
        if (memcmp(seqcls_tensor_data(p), j->want_p, B * 2 * sizeof(real_t)) ||
            (j->want_a && memcmp(seqcls_tensor_data(a), j->want_a, B * T * sizeof(real_t))))
            j->mismatches++;
    }
out:
    seqcls_tensor_free(p);
    seqcls_tensor_free(a);
    return NULL;
}

static seqcls_model_t *build(void)
{
    seqcls_model_t *m = NULL;
    OK(seqcls_model_create(&m, 21));
    OK(seqcls_add_embedding(m, V, 8, 0, NULL));
    OK(seqcls_add_dense(m, 8, SEQCLS_ACT_TANH, NULL));
    OK(seqcls_add_attention(m, SEQCLS_ATTN_LEARNED_QUERY, 6, NULL));
    OK(seqcls_add_dense(m, 6, SEQCLS_ACT_RELU, NULL));
    OK(seqcls_add_output(m, 2, NULL));
    return m;
}

START_TEST(concurrent_predict_equals_serial)
{
    seqcls_model_t *m = build();
    seqcls_tensor_t *ids = tu_tensor(SEQCLS_I32, 2, B, T, 0);
    seqcls_tensor_t *p = tu_tensor(SEQCLS_F32, 2, B, 2, 0), *a = tu_tensor(SEQCLS_F32, 2, B, T, 0);
    int32_t lens[B] = {9, 4, 0, 1};
    pthread_t th[THREADS];
    job_t jobs[THREADS];
    int i;
    tu_fill_ids(ids, 1, V, 8);
    OK(seqcls_predict(m, ids, lens, p, a));
    for (i = 0; i < THREADS; i++) {
        jobs[i] = (job_t){m, ids, lens, seqcls_tensor_data(p), seqcls_tensor_data(a), 0, 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, predict_many, &jobs[i]), 0);
    }
    for (i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(jobs[i].errors, 0);
        ck_assert_int_eq(jobs[i].mismatches, 0);
    }
    seqcls_tensor_free(ids);
    seqcls_tensor_free(p);
    seqcls_tensor_free(a);
    seqcls_model_free(m);
}
END_TEST

typedef struct {
    seqcls_model_t *m;
    int rc;
} train_job_t;

static void *train_some(void *arg)
{
    train_job_t *j = arg;
    int64_t s_ids[2] = {B, T}, s_y[1] = {B};
    seqcls_tensor_t *ids = NULL, *y = NULL;
    seqcls_optimizer_t *o = NULL;
    int i;
    if ((j->rc = seqcls_tensor_create(&ids, SEQCLS_I32, 2, s_ids)) ||
        (j->rc = seqcls_tensor_create(&y, SEQCLS_I32, 1, s_y)) ||
        (j->rc = seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, 0.01f)))
        goto out;
    for (i = 0; i < B * T; i++)
        ((int32_t *)seqcls_tensor_data(ids))[i] = 1 + i % (V - 1);
    for (i = 0; i < 300 && j->rc == SEQCLS_OK; i++)
        if (!(j->rc = seqcls_zero_grad(j->m)) && !(j->rc = seqcls_forward(j->m, ids, NULL, NULL, 1)) &&
            !(j->rc = seqcls_loss_backward(j->m, y, NULL)))
            j->rc = seqcls_optimizer_step(o, j->m);
out:
    seqcls_optimizer_free(o);
    seqcls_tensor_free(ids);
    seqcls_tensor_free(y);
    return NULL;
}

START_TEST(training_beside_predicting_is_safe)
{
    seqcls_model_t *trained = build(), *served = build();
    seqcls_tensor_t *ids = tu_tensor(SEQCLS_I32, 2, B, T, 0);
    seqcls_tensor_t *p = tu_tensor(SEQCLS_F32, 2, B, 2, 0), *a = tu_tensor(SEQCLS_F32, 2, B, T, 0);
    int32_t lens[B] = {9, 4, 0, 1};
    pthread_t th[4], tt;
    job_t jobs[4];
    train_job_t tj = {trained, 0};
    int i;
    tu_fill_ids(ids, 1, V, 9);
    OK(seqcls_predict(served, ids, lens, p, a));
    ck_assert_int_eq(pthread_create(&tt, NULL, train_some, &tj), 0);
    for (i = 0; i < 4; i++) {
        jobs[i] = (job_t){served, ids, lens, seqcls_tensor_data(p), seqcls_tensor_data(a), 0, 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, predict_many, &jobs[i]), 0);
    }
    pthread_join(tt, NULL);
    ck_assert_int_eq(tj.rc, SEQCLS_OK);
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(jobs[i].errors + jobs[i].mismatches, 0);
    }
    seqcls_tensor_free(ids);
    seqcls_tensor_free(p);
    seqcls_tensor_free(a);
    seqcls_model_free(trained);
    seqcls_model_free(served);
}
END_TEST

/* Errors are per thread: a failure in one thread leaves another's message. */
static void *fail_in_thread(void *arg)
{
    (void)arg;
    seqcls_model_create(NULL, 0);
    return NULL;
}

START_TEST(error_messages_are_thread_local)
{
    pthread_t th;
    FAILS(SEQCLS_E_INVALID_ARG, "seqcls_add_dense: model is NULL", seqcls_add_dense(NULL, 1, 0, NULL));
    ck_assert_int_eq(pthread_create(&th, NULL, fail_in_thread, NULL), 0);
    pthread_join(th, NULL);
    ck_assert_str_eq(seqcls_last_error(), "seqcls_add_dense: model is NULL");
}
END_TEST

/* The recurrent layers split the batch rows over the library's threads
 * (140 rows: two slices per thread with two threads);
 * logits, every parameter gradient and the input gradient must equal the
 * single-threaded ones up to float rounding, for ragged and full batches,
 * LSTM and both GRU kinds, uni- and bidirectional. */
#define SB 140
#define ST 21
#define SF 12

static void run_split(int threads, const int32_t *lens, real_t *logits, real_t *grads,
                      size_t *ngrads, real_t *dx)
{
    seqcls_model_t *m = NULL;
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, SB, ST, SF), *lg = tu_tensor(SEQCLS_F32, 2, SB, 3, 0);
    seqcls_tensor_t *dl = tu_tensor(SEQCLS_F32, 2, SB, 3, 0), *gx = NULL;
    int layer, i, n;
    size_t k = 0;
    OK(seqcls_set_num_threads(threads));
    OK(seqcls_model_create(&m, 5));
    OK(seqcls_add_input(m, SF, NULL));
    OK(seqcls_add_lstm(m, 40, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
    OK(seqcls_add_gru(m, 36, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
    OK(seqcls_add_gru(m, 33, SEQCLS_GRU_RESET_BEFORE | SEQCLS_RETURN_SEQUENCES, NULL));
    OK(seqcls_add_lstm(m, 34, 0, &layer));
    OK(seqcls_add_output(m, 3, NULL));
    tu_fill_real(x, -1, 1, 77);
    tu_fill_real(dl, -1, 1, 78);
    OK(seqcls_zero_grad(m));
    OK(seqcls_forward(m, x, lens, lg, 1));
    OK(seqcls_backward(m, dl));
    memcpy(logits, seqcls_tensor_data(lg), SB * 3 * sizeof(real_t));
    n = seqcls_param_count(m);
    for (i = 0; i < n; i++) {
        seqcls_tensor_t *v, *g;
        OK(seqcls_param(m, i, &v, &g));
        memcpy(grads + k, seqcls_tensor_data(g), (size_t)seqcls_tensor_numel(g) * sizeof(real_t));
        k += (size_t)seqcls_tensor_numel(g);
    }
    *ngrads = k;
    OK(seqcls_input_grad(m, &gx));
    memcpy(dx, seqcls_tensor_data(gx), (size_t)SB * ST * SF * sizeof(real_t));
    seqcls_tensor_free(x);
    seqcls_tensor_free(lg);
    seqcls_tensor_free(dl);
    seqcls_model_free(m);
    OK(seqcls_set_num_threads(0));
}

static double max_rel_diff(const real_t *a, const real_t *b, size_t n)
{
    double scale = 1e-3, worst = 0;
    size_t i;
    for (i = 0; i < n; i++)
        scale = fmax(scale, fabs((double)a[i]));
    for (i = 0; i < n; i++)
        worst = fmax(worst, fabs((double)a[i] - (double)b[i]) / scale);
    return worst;
}

START_TEST(split_rows_equal_single_thread)
{
    static real_t l1[SB * 3], l2[SB * 3], g1[200000], g2[200000], x1[SB * ST * SF], x2[SB * ST * SF];
    int32_t lens[SB];
    uint64_t seed = 9;
    size_t n1, n2;
    int b, threads, ragged;
    for (ragged = 0; ragged < 2; ragged++) {
        for (b = 0; b < SB; b++)
            lens[b] = ragged ? (b == 3 ? 0 : 1 + (int32_t)(tu_next(&seed) % ST)) : ST;
        run_split(1, lens, l1, g1, &n1, x1);
        ck_assert(n1 <= 200000);
        for (threads = 2; threads <= 3; threads++) {
            run_split(threads, lens, l2, g2, &n2, x2);
            ck_assert(n1 == n2);
            ck_assert_msg(max_rel_diff(l1, l2, SB * 3) < 1e-5, "logits differ, %d threads",
                          threads);
            ck_assert_msg(max_rel_diff(g1, g2, n1) < 1e-5, "gradients differ by %g, %d threads",
                          max_rel_diff(g1, g2, n1), threads);
            ck_assert_msg(max_rel_diff(x1, x2, (size_t)SB * ST * SF) < 1e-5,
                          "input gradients differ, %d threads", threads);
        }
    }
}
END_TEST

/* Many streams on one model from several threads, beside seqcls_predict
 * on the same model: each stream's results equal the single-threaded ones
 * bit for bit (a stream reads the model, and keeps its state and
 * workspaces to itself). */
#define SSTEPS 40
#define SROWS 4

typedef struct {
    const seqcls_model_t *m;
    const int32_t *ids;        /* [SROWS, SSTEPS] */
    const real_t *want;        /* [SROWS, SSTEPS, 2]: the probabilities after each step */
    uint64_t seed;
    int mismatches, errors;
} stream_job_t;

static void *stream_many(void *arg)
{
    stream_job_t *j = arg;
    seqcls_stream_t *s = NULL;
    seqcls_tensor_t *p = NULL;
    int64_t ps[1] = {2};
    int round, r;
    if (seqcls_stream_create(&s, j->m) || seqcls_tensor_create(&p, SEQCLS_F32, 1, ps)) {
        j->errors++;
        goto out;
    }
    for (round = 0; round < 40; round++)
        for (r = 0; r < SROWS; r++) {
            int t = 0;
            if (seqcls_stream_reset(s)) {
                j->errors++;
                continue;
            }
            while (t < SSTEPS) {
                int n = 1 + (int)(tu_next(&j->seed) % 7);
                seqcls_tensor_t *c = NULL;
                int64_t cs[1];
                if (n > SSTEPS - t)
                    n = SSTEPS - t;
                cs[0] = n;
                if (seqcls_tensor_wrap(&c, SEQCLS_I32, 1, cs, (void *)(j->ids + r * SSTEPS + t)) ||
                    seqcls_stream_push(s, c, n, p)) {
                    j->errors++;
                    seqcls_tensor_free(c);
                    break;
                }
                seqcls_tensor_free(c);
                t += n;
                if (memcmp(seqcls_tensor_data(p), j->want + ((size_t)r * SSTEPS + t - 1) * 2,
                           2 * sizeof(real_t)))
                    j->mismatches++;
            }
        }
out:
    seqcls_tensor_free(p);
    seqcls_stream_free(s);
    return NULL;
}

START_TEST(streams_on_one_model_from_many_threads)
{
    seqcls_model_t *m = NULL;
    seqcls_tensor_t *ids = tu_tensor(SEQCLS_I32, 2, SROWS, SSTEPS, 0), *one = NULL, *p = NULL;
    static real_t want[SROWS * SSTEPS * 2];
    pthread_t th[THREADS], tp;
    stream_job_t jobs[THREADS];
    job_t pj;
    seqcls_tensor_t *pids = tu_tensor(SEQCLS_I32, 2, B, T, 0);
    seqcls_tensor_t *pp = tu_tensor(SEQCLS_F32, 2, B, 2, 0);
    int32_t plens[B] = {9, 4, 0, 1};
    int i, r, t;
    OK(seqcls_model_create(&m, 23));
    OK(seqcls_add_embedding(m, V, 8, 0, NULL));
    OK(seqcls_add_lstm(m, 16, SEQCLS_RETURN_SEQUENCES, NULL));
    OK(seqcls_add_gru(m, 12, SEQCLS_RETURN_SEQUENCES, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MAX, NULL));
    OK(seqcls_add_dense(m, 6, SEQCLS_ACT_TANH, NULL));
    OK(seqcls_add_output(m, 2, NULL));
    tu_fill_ids(ids, 1, V, 31);
    tu_fill_ids(pids, 1, V, 32);
    /* the single-threaded results: one step at a time */
    {
        seqcls_stream_t *s = NULL;
        int64_t ps[1] = {2}, cs[1] = {1};
        OK(seqcls_stream_create(&s, m));
        OK(seqcls_tensor_create(&p, SEQCLS_F32, 1, ps));
        for (r = 0; r < SROWS; r++) {
            OK(seqcls_stream_reset(s));
            for (t = 0; t < SSTEPS; t++) {
                OK(seqcls_tensor_wrap(&one, SEQCLS_I32, 1, cs,
                                      (int32_t *)seqcls_tensor_data(ids) + r * SSTEPS + t));
                OK(seqcls_stream_push(s, one, 1, p));
                memcpy(want + ((size_t)r * SSTEPS + t) * 2, seqcls_tensor_data(p), 2 * sizeof(real_t));
                seqcls_tensor_free(one);
            }
        }
        seqcls_stream_free(s);
    }
    OK(seqcls_predict(m, pids, plens, pp, NULL));
    pj = (job_t){m, pids, plens, seqcls_tensor_data(pp), NULL, 0, 0};
    for (i = 0; i < THREADS; i++) {
        jobs[i] = (stream_job_t){m, seqcls_tensor_data(ids), want, 100 + (uint64_t)i, 0, 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, stream_many, &jobs[i]), 0);
    }
    ck_assert_int_eq(pthread_create(&tp, NULL, predict_many, &pj), 0);
    for (i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(jobs[i].errors, 0);
        ck_assert_int_eq(jobs[i].mismatches, 0);
    }
    pthread_join(tp, NULL);
    ck_assert_int_eq(pj.errors + pj.mismatches, 0);
    seqcls_tensor_free(ids);
    seqcls_tensor_free(p);
    seqcls_tensor_free(pids);
    seqcls_tensor_free(pp);
    seqcls_model_free(m);
}
END_TEST

Suite *threads_suite(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, concurrent_predict_equals_serial);
    tcase_add_test(tc, training_beside_predicting_is_safe);
    tcase_add_test(tc, error_messages_are_thread_local);
    tcase_add_test(tc, split_rows_equal_single_thread);
    tcase_add_test(tc, streams_on_one_model_from_many_threads);
    suite_add_tcase(s, tc);
    return s;
}
