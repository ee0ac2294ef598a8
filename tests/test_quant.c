/*
 * test_quant.c -- reduced precision (seqcls_model_quantize, issue 19):
 * quantised models against their float32 selves for every layer kind the
 * quantisation touches (dense, output on vectors and per step, LSTM and
 * GRU one way and both ways, merges, reset-before, with attention and
 * pooling after them); streams equal seqcls_predict; save and load
 * (same outputs, smaller files, the QUNT section that seqcls 1.0 refuses,
 * damaged files refused); training refused; the error paths.
 *
 * Tolerances (documented in docs/api.md): on models whose weights are
 * drawn from U(-0.5, 0.5) (logits of a few units), the largest difference
 * of a class probability from float32 must be below 0.01 for int8 and
 * 0.005 for bfloat16 (measured: 0.0035 and 0.0015; printed by the test).  Bit-identical
 * int8 results across kernel sets are in test_internal_quant.c.
 */
#define _POSIX_C_SOURCE 200809L   /* mkstemp */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "modelfile.h"
#include "testutil.h"

#define B 13
#define T 17
#define VOCAB 40

enum { ARCH_DENSE, ARCH_LSTM, ARCH_BILSTM, ARCH_GRU, ARCH_BIGRU_BEFORE, ARCH_MERGE_ATTN,
       ARCH_POOL, ARCH_TAGGER, ARCH_LEARNED_QUERY, ARCH_COUNT };
static const char *const arch_names[ARCH_COUNT] = {
    "input-dense-output", "lstm", "bilstm-seq-lstm", "gru", "bigru-reset-before",
    "bilstm-sum-attention-dense", "bigru-pool-dense", "lstm-tagger", "gru-learned-query"};

/* Every weight and bias from U(-0.5, 0.5): logits of a few units. */
static void big_weights(seqcls_model_t *m, uint64_t seed)
{
    int i;
    for (i = 0; i < seqcls_param_count(m); i++) {
        seqcls_tensor_t *v = NULL;
        OK(seqcls_param(m, i, &v, NULL));
        if (strstr(seqcls_param_name(m, i), "embedding") == NULL)
            tu_fill_real(v, -0.5, 0.5, seed + (uint64_t)i);
    }
}

static seqcls_model_t *build(int arch, uint64_t seed)
{
    seqcls_model_t *m = NULL;
    OK(seqcls_model_create(&m, seed));
    if (arch == ARCH_DENSE)
        OK(seqcls_add_input(m, 6, NULL));
    else
        OK(seqcls_add_embedding(m, VOCAB, 12, 0, NULL));
    switch (arch) {
    case ARCH_DENSE:
        OK(seqcls_add_dense(m, 9, SEQCLS_ACT_TANH, NULL));
        OK(seqcls_add_pooling(m, SEQCLS_POOL_MAX, NULL));
        OK(seqcls_add_dense(m, 7, SEQCLS_ACT_RELU, NULL));
        break;
    case ARCH_LSTM:
        OK(seqcls_add_lstm(m, 20, 0, NULL));
        break;
    case ARCH_BILSTM:
        OK(seqcls_add_lstm(m, 16, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
        OK(seqcls_add_lstm(m, 11, 0, NULL));
        break;
    case ARCH_GRU:
        OK(seqcls_add_gru(m, 19, 0, NULL));
        break;
    case ARCH_BIGRU_BEFORE:
        OK(seqcls_add_gru(m, 15, SEQCLS_BIDIRECTIONAL | SEQCLS_GRU_RESET_BEFORE, NULL));
        break;
    case ARCH_MERGE_ATTN:
        OK(seqcls_add_lstm(m, 14, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES | SEQCLS_MERGE_SUM,
                           NULL));
        OK(seqcls_add_attention(m, SEQCLS_ATTN_BAHDANAU, 8, NULL));
        OK(seqcls_add_dense(m, 10, SEQCLS_ACT_RELU, NULL));
        break;
    case ARCH_POOL:
        OK(seqcls_add_gru(m, 13, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
        OK(seqcls_add_pooling(m, SEQCLS_POOL_MAX, NULL));
        OK(seqcls_add_dense(m, 10, SEQCLS_ACT_TANH, NULL));
        break;
    case ARCH_TAGGER:
        OK(seqcls_add_lstm(m, 18, SEQCLS_RETURN_SEQUENCES, NULL));
        OK(seqcls_add_dense(m, 10, SEQCLS_ACT_RELU, NULL));
        break;
    case ARCH_LEARNED_QUERY:
        OK(seqcls_add_gru(m, 12, SEQCLS_RETURN_SEQUENCES, NULL));
        OK(seqcls_add_attention(m, SEQCLS_ATTN_LEARNED_QUERY, 9, NULL));
        break;
    default:
        break;
    }
    OK(seqcls_add_output(m, 3, NULL));
    big_weights(m, seed * 101);
    return m;
}

typedef struct {
    seqcls_tensor_t *x, *p;
    int32_t len[B];
} batch_t;

static void batch_for(batch_t *bt, const seqcls_model_t *m, uint64_t seed)
{
    int b;
    if (seqcls_model_output_ndim(m) == 3)
        bt->p = tu_tensor(SEQCLS_F32, 3, B, T, 3);
    else
        bt->p = tu_tensor(SEQCLS_F32, 2, B, 3, 0);
    if (seqcls_layer_kind(m, 0) == SEQCLS_LAYER_INPUT) {
        bt->x = tu_tensor(SEQCLS_F32, 3, B, T, 6);
        tu_fill_real(bt->x, -2, 2, seed);
    } else {
        bt->x = tu_tensor(SEQCLS_I32, 2, B, T, 0);
        tu_fill_ids(bt->x, 1, VOCAB, seed);
    }
    for (b = 0; b < B; b++)
        bt->len[b] = b == 4 ? 0 : 1 + (int32_t)((b * 7 + 3) % T);
}

static void batch_free(batch_t *bt)
{
    seqcls_tensor_free(bt->x);
    seqcls_tensor_free(bt->p);
}

static double max_diff(const seqcls_tensor_t *a, const seqcls_tensor_t *b)
{
    const real_t *x = seqcls_tensor_data(a), *y = seqcls_tensor_data(b);
    double d = 0;
    int64_t i;
    for (i = 0; i < seqcls_tensor_numel(a); i++)
        d = fabs((double)x[i] - (double)y[i]) > d ? fabs((double)x[i] - (double)y[i]) : d;
    return d;
}

static int same_bits(const seqcls_tensor_t *a, const seqcls_tensor_t *b)
{
    return memcmp(seqcls_tensor_data(a), seqcls_tensor_data(b),
                  (size_t)seqcls_tensor_numel(a) * sizeof(real_t)) == 0;
}

START_TEST(quantised_outputs_are_close_to_float32)
{
    static const int precisions[2] = {SEQCLS_INT8, SEQCLS_BF16};
    static const double tol[2] = {0.01, 0.005};
    int arch, k;
    for (k = 0; k < 2; k++) {
        double worst = 0;
        for (arch = 0; arch < ARCH_COUNT; arch++) {
            seqcls_model_t *m = build(arch, 11 + (uint64_t)arch);
            batch_t bt;
            seqcls_tensor_t *pf;
            double d, spread = 0;
            int64_t i;
            batch_for(&bt, m, 5 + (uint64_t)arch);
            OK(seqcls_predict(m, bt.x, bt.len, bt.p, NULL));
            pf = tu_tensor(SEQCLS_F32, seqcls_tensor_ndim(bt.p), B,
                           seqcls_model_output_ndim(m) == 3 ? T : 3, 3);
            memcpy(seqcls_tensor_data(pf), seqcls_tensor_data(bt.p),
                   (size_t)seqcls_tensor_numel(pf) * sizeof(real_t));
            for (i = 0; i < seqcls_tensor_numel(pf); i++) {
                const double p = ((real_t *)seqcls_tensor_data(pf))[i];
                spread = fabs(p - 1.0 / 3) > spread ? fabs(p - 1.0 / 3) : spread;
            }
            /* the test means something only if the float32 model is far from uniform */
            ck_assert_msg(spread > 0.1, "%s: probabilities too flat (%g)", arch_names[arch], spread);
            ck_assert_int_eq(seqcls_model_precision(m), SEQCLS_FP32);
            OK(seqcls_model_quantize(m, precisions[k]));
            ck_assert_int_eq(seqcls_model_precision(m), precisions[k]);
            OK(seqcls_predict(m, bt.x, bt.len, bt.p, NULL));
            d = max_diff(bt.p, pf);
            ck_assert_msg(d < tol[k], "%s, precision %d: max |p - p_f32| = %g", arch_names[arch],
                          precisions[k], d);
            ck_assert_msg(d > 0, "%s: the quantised model gives float32's bits", arch_names[arch]);
            worst = d > worst ? d : worst;
            /* seqcls_forward (inference) gives the same as seqcls_predict */
            {
                seqcls_tensor_t *lg = tu_tensor(SEQCLS_F32, seqcls_tensor_ndim(bt.p),
                                                B, seqcls_model_output_ndim(m) == 3 ? T : 3, 3);
                OK(seqcls_forward(m, bt.x, bt.len, lg, 0));
                seqcls_tensor_free(lg);
            }
            seqcls_tensor_free(pf);
            batch_free(&bt);
            seqcls_model_free(m);
        }
        printf("  %s: largest probability difference from float32 over %d models: %.3g\n",
               precisions[k] == SEQCLS_INT8 ? "int8" : "bf16", ARCH_COUNT, worst);
    }
}
END_TEST

/* A stream pushes one sequence in chunks: a row quantised on its own
 * gives the same bits as in a batch. */
START_TEST(streams_equal_predict)
{
    static const int archs[3] = {ARCH_LSTM, ARCH_GRU, ARCH_TAGGER};
    int a, k;
    for (k = 0; k < 2; k++)
        for (a = 0; a < 3; a++) {
            seqcls_model_t *m = build(archs[a], 3);
            seqcls_stream_t *st = NULL;
            batch_t bt;
            const int per_step = archs[a] == ARCH_TAGGER;
            seqcls_tensor_t *chunk, *out;
            const real_t *want;
            int b = 2, t = 0, n;
            batch_for(&bt, m, 9);
            OK(seqcls_model_quantize(m, k ? SEQCLS_BF16 : SEQCLS_INT8));
            OK(seqcls_predict(m, bt.x, bt.len, bt.p, NULL));
            want = seqcls_tensor_data(bt.p);
            OK(seqcls_stream_create(&st, m));
            out = per_step ? tu_tensor(SEQCLS_F32, 2, T, 3, 0) : tu_tensor(SEQCLS_F32, 1, 3, 0, 0);
            while (t < bt.len[b]) {
                n = bt.len[b] - t < 3 ? bt.len[b] - t : 3;
                chunk = tu_tensor(SEQCLS_I32, 1, n, 0, 0);
                memcpy(seqcls_tensor_data(chunk), (int32_t *)seqcls_tensor_data(bt.x) + b * T + t,
                       (size_t)n * sizeof(int32_t));
                if (per_step) {
                    seqcls_tensor_t *o = tu_tensor(SEQCLS_F32, 2, n, 3, 0);
                    OK(seqcls_stream_push(st, chunk, n, o));
                    ck_assert_msg(memcmp(seqcls_tensor_data(o), want + ((size_t)b * T + t) * 3,
                                         (size_t)n * 3 * sizeof(real_t)) == 0,
                                  "%s step %d", arch_names[archs[a]], t);
                    seqcls_tensor_free(o);
                } else {
                    OK(seqcls_stream_push(st, chunk, n, out));
                }
                seqcls_tensor_free(chunk);
                t += n;
            }
            if (!per_step)
                ck_assert_msg(memcmp(seqcls_tensor_data(out), want + (size_t)b * 3,
                                     3 * sizeof(real_t)) == 0,
                              "%s: stream differs from predict", arch_names[archs[a]]);
            seqcls_tensor_free(out);
            seqcls_stream_free(st);
            batch_free(&bt);
            seqcls_model_free(m);
        }
}
END_TEST

static size_t saved_size(const seqcls_model_t *m)
{
    void *buf = NULL;
    size_t n = 0;
    OK(seqcls_model_save_buffer(m, &buf, &n));
    seqcls_free(buf);
    return n;
}

START_TEST(save_load_round_trip_and_size)
{
    int k, arch;
    for (k = 0; k < 2; k++)
        for (arch = 0; arch < ARCH_COUNT; arch++) {
            const int prec = k ? SEQCLS_BF16 : SEQCLS_INT8;
            seqcls_model_t *m = build(arch, 21), *r = NULL;
            seqcls_tensor_t *p2;
            batch_t bt;
            void *buf = NULL;
            size_t n = 0;
            char path[] = "/tmp/seqcls-quant-XXXXXX";
            int fd;
            batch_for(&bt, m, 4);
            OK(seqcls_model_quantize(m, prec));
            OK(seqcls_predict(m, bt.x, bt.len, bt.p, NULL));
            OK(seqcls_model_save_buffer(m, &buf, &n));
            OK(seqcls_model_load_buffer(&r, buf, n));
            ck_assert_int_eq(seqcls_model_precision(r), prec);
            p2 = tu_tensor(SEQCLS_F32, seqcls_tensor_ndim(bt.p), B,
                           seqcls_model_output_ndim(m) == 3 ? T : 3, 3);
            OK(seqcls_predict(r, bt.x, bt.len, p2, NULL));
            ck_assert_msg(same_bits(bt.p, p2), "%s: loaded model differs", arch_names[arch]);
            /* saving the loaded model gives the same bytes */
            {
                void *again = NULL;
                size_t n2 = 0;
                OK(seqcls_model_save_buffer(r, &again, &n2));
                ck_assert(n2 == n && memcmp(again, buf, n) == 0);
                seqcls_free(again);
            }
            seqcls_model_free(r);
            r = NULL;
            /* through a file */
            fd = mkstemp(path);
            ck_assert_int_ge(fd, 0);
            close(fd);
            OK(seqcls_model_save(m, path));
            OK(seqcls_model_load(&r, path));
            OK(seqcls_predict(r, bt.x, bt.len, p2, NULL));
            ck_assert(same_bits(bt.p, p2));
            remove(path);
            seqcls_model_free(r);
            seqcls_tensor_free(p2);
            seqcls_free(buf);
            batch_free(&bt);
            seqcls_model_free(m);
        }
}
END_TEST

/* Additive attention: its key projection W (an nn.Linear) is quantised,
 * its bias, query projection and score vector stay float32. */
START_TEST(attention_quantises_its_key_projection)
{
    static const int archs[2] = {ARCH_MERGE_ATTN, ARCH_LEARNED_QUERY};
    int a, i;
    for (a = 0; a < 2; a++) {
        seqcls_model_t *m = build(archs[a], 5);
        int quantised = 0;
        OK(seqcls_model_quantize(m, SEQCLS_INT8));
        for (i = 0; i < seqcls_param_count(m); i++) {
            const char *name = seqcls_param_name(m, i);
            const int prec = seqcls_param_precision(m, i, NULL, NULL);
            if (!strstr(name, ".attention."))
                continue;
            if (strstr(name, ".attention.W.weight") || strstr(name, ".attention.W1.weight")) {
                ck_assert_msg(prec == SEQCLS_INT8, "%s: precision %d", name, prec);
                quantised++;
            } else {
                ck_assert_msg(prec == SEQCLS_FP32, "%s: precision %d", name, prec);
            }
        }
        ck_assert_int_eq(quantised, 1);
        seqcls_model_free(m);
    }
}
END_TEST

/* A weight at FLT_MAX: its row's scale still keeps 127 x scale finite, so
 * the quantised model saves a file that loads. */
START_TEST(extreme_weights_save_a_loadable_file)
{
    seqcls_model_t *m = NULL, *r = NULL;
    seqcls_tensor_t *v = NULL;
    void *buf = NULL;
    size_t n = 0;
    int i;
    OK(seqcls_model_create(&m, 3));
    OK(seqcls_add_input(m, 4, NULL));
    OK(seqcls_add_dense(m, 3, SEQCLS_ACT_RELU, NULL));
    OK(seqcls_add_output(m, 2, NULL));
    for (i = 0; i < seqcls_param_count(m); i++)
        if (strstr(seqcls_param_name(m, i), "weight")) {
            OK(seqcls_param(m, i, &v, NULL));
            ((float *)seqcls_tensor_data(v))[1] = i == 0 ? FLT_MAX : -FLT_MAX;
        }
    OK(seqcls_model_quantize(m, SEQCLS_INT8));
    OK(seqcls_model_save_buffer(m, &buf, &n));
    OK(seqcls_model_load_buffer(&r, buf, n));
    seqcls_free(buf);
    seqcls_model_free(r);
    seqcls_model_free(m);
}
END_TEST

/* A model whose parameters are nearly all quantised weights: files about
 * 4x (int8) and 2x (bf16) smaller. */
START_TEST(files_are_smaller)
{
    size_t f32, q8, q16;
    seqcls_model_t *m = NULL;
    OK(seqcls_model_create(&m, 1));
    OK(seqcls_add_input(m, 64, NULL));
    OK(seqcls_add_lstm(m, 128, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
    OK(seqcls_add_gru(m, 64, 0, NULL));
    OK(seqcls_add_dense(m, 64, SEQCLS_ACT_RELU, NULL));
    OK(seqcls_add_output(m, 5, NULL));
    f32 = saved_size(m);
    {
        void *buf = NULL;
        size_t n = 0;
        seqcls_model_t *c = NULL;
        OK(seqcls_model_save_buffer(m, &buf, &n));
        OK(seqcls_model_load_buffer(&c, buf, n));
        OK(seqcls_model_quantize(c, SEQCLS_BF16));
        q16 = saved_size(c);
        seqcls_model_free(c);
        seqcls_free(buf);
    }
    OK(seqcls_model_quantize(m, SEQCLS_INT8));
    q8 = saved_size(m);
    printf("  file sizes: float32 %zu, bf16 %zu (%.2fx smaller), int8 %zu (%.2fx smaller)\n", f32,
           q16, (double)f32 / q16, q8, (double)f32 / q8);
    ck_assert_msg((double)f32 / q8 > 3.6, "int8 file only %.2fx smaller", (double)f32 / q8);
    ck_assert_msg((double)f32 / q16 > 1.9, "bf16 file only %.2fx smaller", (double)f32 / q16);
    seqcls_model_free(m);
}
END_TEST

START_TEST(training_is_refused)
{
    seqcls_model_t *m = build(ARCH_BILSTM, 2);
    seqcls_optimizer_t *o = NULL;
    seqcls_tensor_t *y = tu_tensor(SEQCLS_I32, 1, B, 0, 0), *lg = tu_tensor(SEQCLS_F32, 2, B, 3, 0);
    seqcls_tensor_t *v = NULL, *g = NULL;
    seqcls_fit_config_t *cfg = NULL;
    seqcls_metrics_t *met = NULL;
    batch_t bt;
    float loss;
    int i;
    batch_for(&bt, m, 1);
    memset(seqcls_tensor_data(y), 0, B * sizeof(int32_t));
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, 0.01f));
    OK(seqcls_model_quantize(m, SEQCLS_INT8));
    FAILS(SEQCLS_E_STATE, "quantised", seqcls_forward(m, bt.x, bt.len, lg, 1));
    FAILS(SEQCLS_E_STATE, "quantised", seqcls_backward(m, lg));
    FAILS(SEQCLS_E_STATE, "quantised", seqcls_loss_backward(m, y, &loss));
    FAILS(SEQCLS_E_STATE, "quantised", seqcls_zero_grad(m));
    FAILS(SEQCLS_E_STATE, "quantised", seqcls_optimizer_step(o, m));
    OK(seqcls_fit_config_create(&cfg));
    OK(seqcls_fit_config_set_int(cfg, SEQCLS_FIT_EPOCHS, 1));
    FAILS(SEQCLS_E_STATE, "quantised",
          seqcls_fit(m, o, bt.x, NULL, y, NULL, NULL, NULL, cfg));
    FAILS(SEQCLS_E_STATE, "quantised", seqcls_checkpoint_save(m, o, "/tmp/never-written.sqcl"));
    FAILS(SEQCLS_E_STATE, "quantised", seqcls_add_dense(m, 3, SEQCLS_ACT_NONE, NULL));
    {
        float row[12] = {0};
        FAILS(SEQCLS_E_STATE, "quantised", seqcls_embedding_set_rows(m, 0, 1, 1, 12, row));
    }
    /* the quantised weights (and the embedding's table) have no float32
     * value; the biases still do */
    for (i = 0; i < seqcls_param_count(m); i++) {
        const char *name = seqcls_param_name(m, i);
        if (strstr(name, "weight_") || strstr(name, "output.weight") ||
            strstr(name, "embedding.weight"))
            FAILS(SEQCLS_E_STATE, "stored quantised", seqcls_param(m, i, &v, NULL));
        else
            OK(seqcls_param(m, i, &v, &g));
    }
    /* inference still works, and evaluate */
    OK(seqcls_forward(m, bt.x, bt.len, lg, 0));
    OK(seqcls_predict(m, bt.x, bt.len, bt.p, NULL));
    OK(seqcls_evaluate(m, bt.x, NULL, y, 4, &met));
    seqcls_metrics_free(met);
    seqcls_fit_config_free(cfg);
    seqcls_optimizer_free(o);
    seqcls_tensor_free(y);
    seqcls_tensor_free(lg);
    batch_free(&bt);
    seqcls_model_free(m);
}
END_TEST

START_TEST(errors_change_nothing)
{
    seqcls_model_t *m = build(ARCH_GRU, 6), *e = NULL;
    seqcls_tensor_t *p1;
    batch_t bt;
    batch_for(&bt, m, 3);
    FAILS(SEQCLS_E_INVALID_ARG, "NULL", seqcls_model_quantize(NULL, SEQCLS_INT8));
    FAILS(SEQCLS_E_INVALID_ARG, "NULL", seqcls_model_precision(NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "precision 0", seqcls_model_quantize(m, 0));
    FAILS(SEQCLS_E_INVALID_ARG, "precision 32", seqcls_model_quantize(m, SEQCLS_FP32));
    FAILS(SEQCLS_E_INVALID_ARG, "precision 24", seqcls_model_quantize(m, SEQCLS_INT8 | SEQCLS_BF16));
    ck_assert_int_eq(seqcls_model_precision(m), SEQCLS_FP32);
    OK(seqcls_model_quantize(m, SEQCLS_INT8));
    OK(seqcls_predict(m, bt.x, bt.len, bt.p, NULL));
    p1 = tu_tensor(SEQCLS_F32, 2, B, 3, 0);
    FAILS(SEQCLS_E_STATE, "quantised already", seqcls_model_quantize(m, SEQCLS_INT8));
    FAILS(SEQCLS_E_STATE, "quantised already", seqcls_model_quantize(m, SEQCLS_BF16));
    ck_assert_int_eq(seqcls_model_precision(m), SEQCLS_INT8);
    OK(seqcls_predict(m, bt.x, bt.len, p1, NULL));
    ck_assert(same_bits(bt.p, p1));
    /* nothing to quantise */
    OK(seqcls_model_create(&e, 1));
    OK(seqcls_add_input(e, 4, NULL));
    OK(seqcls_add_pooling(e, SEQCLS_POOL_MEAN, NULL));
    FAILS(SEQCLS_E_STATE, "no layer with weights", seqcls_model_quantize(e, SEQCLS_BF16));
    ck_assert_int_eq(seqcls_model_precision(e), SEQCLS_FP32);
    seqcls_model_free(e);
    seqcls_tensor_free(p1);
    batch_free(&bt);
    seqcls_model_free(m);
}
END_TEST

/* Save a quantised model into a malloc'd copy. */
static unsigned char *saved(const seqcls_model_t *m, size_t *n)
{
    void *buf = NULL;
    unsigned char *copy;
    OK(seqcls_model_save_buffer(m, &buf, n));
    copy = malloc(*n);
    memcpy(copy, buf, *n);
    seqcls_free(buf);
    return copy;
}

/* The first quantised record of PARM: the offset of its data. */
static size_t first_quantised_data(const unsigned char *b, size_t len, uint32_t *dtype)
{
    uint32_t n = 0, count, i;
    size_t at = mf_section(b, len, "PARM", &n), off;
    ck_assert(at > 0);
    count = (uint32_t)b[at] | (uint32_t)b[at + 1] << 8;
    off = at + 4;
    for (i = 0; i < count; i++) {
        uint32_t nl = (uint32_t)b[off] | (uint32_t)b[off + 1] << 8, nd, d;
        uint64_t numel = 1;
        size_t data;
        off += 4 + nl;
        *dtype = (uint32_t)b[off] | (uint32_t)b[off + 1] << 8;
        nd = (uint32_t)b[off + 8];
        off += 12;
        for (d = 0; d < nd; d++) {
            uint64_t dim = 0;
            int k;
            for (k = 7; k >= 0; k--)
                dim = dim << 8 | b[off + 8 * d + (size_t)k];
            numel *= dim;
        }
        off += 8 * (size_t)nd;
        data = (off + 63) / 64 * 64;
        if (*dtype != 1)
            return data;
        off = data + 4 * numel;
    }
    return 0;
}

START_TEST(damaged_and_newer_files_are_refused)
{
    seqcls_model_t *m = build(ARCH_BILSTM, 8), *r = NULL;
    unsigned char *b, *c;
    size_t n, at, data;
    uint32_t len = 0, dtype = 0, parm_len = 0, parm;
    int k, i;
    OK(seqcls_model_quantize(m, SEQCLS_INT8));
    b = saved(m, &n);
    c = malloc(n);
    /* an older reader: QUNT is a required section it does not know; here
     * a tag this reader does not know stands in for it */
    memcpy(c, b, n);
    at = mf_section(c, n, "QUNT", &len);
    ck_assert(at > 0 && len == 8);
    memcpy(c + at - 12, "QUNX", 4);
    FAILS(SEQCLS_E_VERSION, "required section 'QUNX'", seqcls_model_load_buffer(&r, c, n));
    /* a newer QUNT version, an unknown precision */
    memcpy(c, b, n);
    c[at] = 2;
    mf_mend_crc(c, at, len);
    FAILS(SEQCLS_E_VERSION, "QUNT", seqcls_model_load_buffer(&r, c, n));
    memcpy(c, b, n);
    c[at + 4] = 4;
    mf_mend_crc(c, at, len);
    FAILS(SEQCLS_E_VERSION, "precision 4", seqcls_model_load_buffer(&r, c, n));
    /* int8 records without QUNT: the section renamed to an optional one */
    memcpy(c, b, n);
    memcpy(c + at - 12, "qunt", 4);
    FAILS(SEQCLS_E_FORMAT, "dtype 8", seqcls_model_load_buffer(&r, c, n));
    /* a scale that is 0, negative, NaN, or so large that 127 x scale (a
     * row's values) overflows */
    parm = (uint32_t)mf_section(b, n, "PARM", &parm_len);
    data = first_quantised_data(b, n, &dtype);
    ck_assert_int_eq(dtype, 8);
    {
        /* the first quantised parameter is the embedding's table [40, 12]:
         * 480 int8, then 40 scales */
        const size_t scales = data + 480;
        static const uint32_t bad[4] = {0u, 0xbf800000u, 0x7fc00000u, 0x7e800000u /* 8.5e37 */};
        for (k = 0; k < 4; k++) {
            memcpy(c, b, n);
            for (i = 0; i < 4; i++)
                c[scales + 4 * 5 + (size_t)i] = (unsigned char)(bad[k] >> (8 * i));
            mf_mend_crc(c, parm, parm_len);
            FAILS(SEQCLS_E_FORMAT, "scale", seqcls_model_load_buffer(&r, c, n));
        }
        /* -128 is not an int8 weight here */
        memcpy(c, b, n);
        c[data + 3] = 0x80;
        mf_mend_crc(c, parm, parm_len);
        FAILS(SEQCLS_E_FORMAT, "-128", seqcls_model_load_buffer(&r, c, n));
    }
    /* random damage with mended CRCs: an error or a model, never a crash */
    {
        uint64_t s = 77;
        int ok = 0, refused = 0;
        for (k = 0; k < 400; k++) {
            memcpy(c, b, n);
            for (i = 0; i < 3; i++)
                c[parm + (size_t)(tu_next(&s) % parm_len)] ^= (unsigned char)(1 + tu_next(&s) % 255);
            mf_mend_crc(c, parm, parm_len);
            if (seqcls_model_load_buffer(&r, c, n) == SEQCLS_OK) {
                batch_t bt;
                batch_for(&bt, r, 2);
                OK(seqcls_predict(r, bt.x, bt.len, bt.p, NULL));
                batch_free(&bt);
                seqcls_model_free(r);
                r = NULL;
                ok++;
            } else {
                refused++;
            }
        }
        printf("  damaged int8 PARM: %d loaded (weights changed), %d refused\n", ok, refused);
    }
    free(b);
    free(c);
    seqcls_model_free(m);
}
END_TEST

Suite *quant_suite(void)
{
    Suite *s = suite_create("quantisation");
    TCase *tc = tcase_create("quantisation");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, quantised_outputs_are_close_to_float32);
    tcase_add_test(tc, streams_equal_predict);
    tcase_add_test(tc, save_load_round_trip_and_size);
    tcase_add_test(tc, files_are_smaller);
    tcase_add_test(tc, training_is_refused);
    tcase_add_test(tc, errors_change_nothing);
    tcase_add_test(tc, damaged_and_newer_files_are_refused);
    tcase_add_test(tc, extreme_weights_save_a_loadable_file);
    tcase_add_test(tc, attention_quantises_its_key_projection);
    suite_add_tcase(s, tc);
    return s;
}
