/*
 * test_embedding_bag.c -- the embedding bag (1.1): its output by hand,
 * empty bags and padding steps, the input checks (3-D ids, per_step, the
 * id range), introspection and save/load, pretrained rows and freezing,
 * the sparse gradient (zeroing, clipping and the lazy optimiser step touch
 * only the rows a batch used), and training through seqcls_fit with a
 * subword vocabulary.
 */
#include <stdio.h>
#include <stdlib.h>

#include "modelfile.h"
#include "testutil.h"

/* bag(rows, dim, per_step) -> mean pooling -> output(C) */
static seqcls_model_t *bag_model(int rows, int dim, int per, int C, uint64_t seed)
{
    seqcls_model_t *m = NULL;
    int layer = -1;
    OK(seqcls_model_create(&m, seed));
    OK(seqcls_add_embedding_bag(m, rows, dim, per, &layer));
    ck_assert_int_eq(layer, 0);
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(m, C, NULL));
    return m;
}

static real_t *weight(seqcls_model_t *m, int i)
{
    seqcls_tensor_t *v = NULL;
    OK(seqcls_param(m, i, &v, NULL));
    return seqcls_tensor_data(v);
}

static real_t *gradient(seqcls_model_t *m, int i)
{
    seqcls_tensor_t *g = NULL;
    OK(seqcls_param(m, i, NULL, &g));
    return seqcls_tensor_data(g);
}

START_TEST(construction_and_introspection)
{
    seqcls_model_t *m = bag_model(50, 8, 6, 3, 1);
    char buf[128];
    int v = 0;
    real_t *w = weight(m, 0);
    int i;
    ck_assert_int_eq(seqcls_layer_kind(m, 0), SEQCLS_LAYER_EMBEDDING_BAG);
    ck_assert_str_eq(seqcls_param_name(m, 0), "0.embedding_bag.weight");
    OK(seqcls_layer_get_int(m, 0, SEQCLS_OPT_PER_STEP, &v));
    ck_assert_int_eq(v, 6);
    OK(seqcls_layer_get_int(m, 0, SEQCLS_OPT_VOCAB, &v));
    ck_assert_int_eq(v, 50);
    OK(seqcls_layer_get_int(m, 0, SEQCLS_OPT_UNITS, &v));
    ck_assert_int_eq(v, 8);
    OK(seqcls_layer_describe(m, 0, buf, sizeof buf));
    ck_assert_str_eq(buf, "embedding_bag(rows=50, dim=8, per_step=6) -> sequence of 8");
    FAILS(SEQCLS_E_INVALID_ARG, "fixed by its constructor",
          seqcls_layer_set_int(m, 0, SEQCLS_OPT_PER_STEP, 3));
    /* fastText's initialisation: U(-1/dim, 1/dim) */
    for (i = 0; i < 50 * 8; i++)
        ck_assert(w[i] >= -1.0 / 8 && w[i] <= 1.0 / 8);
    seqcls_model_free(m);

    FAILS(SEQCLS_E_INVALID_ARG, "model is NULL", seqcls_add_embedding_bag(NULL, 5, 2, 2, NULL));
    OK(seqcls_model_create(&m, 1));
    FAILS(SEQCLS_E_INVALID_ARG, "must be >= 1", seqcls_add_embedding_bag(m, 0, 2, 2, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "must be >= 1", seqcls_add_embedding_bag(m, 5, 0, 2, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "per_step (0)", seqcls_add_embedding_bag(m, 5, 2, 0, NULL));
    FAILS(SEQCLS_E_NOMEM, "too large", seqcls_add_embedding_bag(m, 1 << 30, 1 << 10, 2, NULL));
    OK(seqcls_add_embedding_bag(m, 5, 2, 2, NULL));
    FAILS(SEQCLS_E_STATE, "must be the first layer", seqcls_add_embedding_bag(m, 5, 2, 2, NULL));
    seqcls_model_free(m);
    /* only first */
    OK(seqcls_model_create(&m, 1));
    OK(seqcls_add_input(m, 3, NULL));
    FAILS(SEQCLS_E_STATE, "must be the first layer", seqcls_add_embedding_bag(m, 5, 2, 2, NULL));
    seqcls_model_free(m);
}
END_TEST

/* The output at each step is the mean of its bag's rows; empty bags and
 * padding steps give zero.  Each row has one valid step, so mean pooling
 * passes it on, and an identity output layer makes it the logits. */
START_TEST(forward_is_the_mean_of_the_rows)
{
    const int rows = 6, D = 3, P = 4;
    seqcls_model_t *m = NULL;
    seqcls_tensor_t *x = tu_tensor(SEQCLS_I32, 3, 4, 2, P), *probs = tu_tensor(SEQCLS_F32, 2, 4, 3, 0);
    float table[6 * 3];
    int32_t lens[4] = {1, 1, 1, 0};
    int32_t *ids = seqcls_tensor_data(x);
    real_t *w, *b;
    float *p = seqcls_tensor_data(probs);
    int i, k;
    static const int32_t bags[4][2][4] = {
        {{0, 2, -1, -1}, {5, 5, 5, 5}},       /* rows 0 and 2; step 1 is padding */
        {{-1, 3, -1, 3}, {-9, -9, -9, -9}},   /* row 3 twice; padding ids never read */
        {{-1, -1, -1, -1}, {1, 1, 1, 1}},     /* an empty bag: zeros */
        {{4, 4, 4, 4}, {1, 1, 1, 1}},         /* length 0 */
    };
    OK(seqcls_model_create(&m, 5));
    OK(seqcls_add_embedding_bag(m, rows, D, P, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(m, 3, NULL));
    for (i = 0; i < rows * D; i++)
        table[i] = (float)(i + 1);
    OK(seqcls_embedding_set_rows(m, 0, 0, rows, D, table));
    /* output weight = identity, bias 0: the logits are the pooled vector */
    w = weight(m, 1);
    b = weight(m, 2);
    for (i = 0; i < 3; i++) {
        for (k = 0; k < 3; k++)
            w[i * 3 + k] = i == k;
        b[i] = 0;
    }
    memcpy(ids, bags, sizeof bags);
    {
        seqcls_tensor_t *logits = tu_tensor(SEQCLS_F32, 2, 4, 3, 0);
        const real_t *z = seqcls_tensor_data(logits);
        static const float want[4][3] = {
            {(1 + 7) / 2.0f, (2 + 8) / 2.0f, (3 + 9) / 2.0f},
            {10, 11, 12},
            {0, 0, 0},
            {0, 0, 0},
        };
        OK(seqcls_forward(m, x, lens, logits, 0));
        for (i = 0; i < 4; i++)
            for (k = 0; k < 3; k++)
                ck_assert_msg(fabs(z[i * 3 + k] - want[i][k]) < 1e-5, "row %d: %g, not %g", i,
                              (double)z[i * 3 + k], (double)want[i][k]);
        seqcls_tensor_free(logits);
    }
    OK(seqcls_predict(m, x, lens, probs, NULL));
    ck_assert(fabs(p[6] - 1.0 / 3) < 1e-6);   /* zeros: uniform */
    seqcls_tensor_free(x);
    seqcls_tensor_free(probs);
    seqcls_model_free(m);
}
END_TEST

START_TEST(input_checks)
{
    seqcls_model_t *m = bag_model(10, 2, 3, 2, 1);
    seqcls_tensor_t *x2 = tu_tensor(SEQCLS_I32, 2, 2, 3, 0), *x = tu_tensor(SEQCLS_I32, 3, 2, 3, 3);
    seqcls_tensor_t *wrong = tu_tensor(SEQCLS_I32, 3, 2, 3, 4), *f = tu_tensor(SEQCLS_F32, 3, 2, 3, 3);
    seqcls_tensor_t *probs = tu_tensor(SEQCLS_F32, 2, 2, 2, 0), *y = tu_tensor(SEQCLS_I32, 1, 2, 0, 0);
    seqcls_metrics_t *mt = NULL;
    int32_t *ids = seqcls_tensor_data(x), lens[2] = {3, 1};
    FAILS(SEQCLS_E_SHAPE, "bags of token ids", seqcls_predict(m, x2, NULL, probs, NULL));
    FAILS(SEQCLS_E_SHAPE, "input", seqcls_predict(m, wrong, NULL, probs, NULL));
    FAILS(SEQCLS_E_SHAPE, "input", seqcls_predict(m, f, NULL, probs, NULL));
    OK(seqcls_predict(m, x, NULL, probs, NULL));   /* zeros are ids */
    ids[5] = -1;
    OK(seqcls_predict(m, x, NULL, probs, NULL));
    ids[5] = -2;
    FAILS(SEQCLS_E_RANGE, "token id -2 at [0, 1, 2] is outside [0, 10)",
          seqcls_predict(m, x, NULL, probs, NULL));
    ids[5] = 10;
    FAILS(SEQCLS_E_RANGE, "token id 10 at [0, 1, 2]", seqcls_forward(m, x, NULL, NULL, 1));
    ids[5] = 0;
    ids[12] = 99;   /* row 1, step 1: padding with lengths {3, 1} */
    FAILS(SEQCLS_E_RANGE, "token id 99", seqcls_predict(m, x, NULL, probs, NULL));
    OK(seqcls_predict(m, x, lens, probs, NULL));
    FAILS(SEQCLS_E_RANGE, "token id 99", seqcls_evaluate(m, x, NULL, y, 0, &mt));
    OK(seqcls_evaluate(m, x, lens, y, 0, &mt));
    ck_assert(seqcls_metrics_get(mt, SEQCLS_METRIC_COUNT, 0) == 2);
    seqcls_metrics_free(mt);
    seqcls_tensor_free(x2);
    seqcls_tensor_free(x);
    seqcls_tensor_free(wrong);
    seqcls_tensor_free(f);
    seqcls_tensor_free(probs);
    seqcls_tensor_free(y);
    seqcls_model_free(m);
}
END_TEST

START_TEST(save_load_and_freeze)
{
    seqcls_model_t *m = bag_model(20, 3, 5, 4, 9), *m2 = NULL;
    seqcls_tensor_t *x = tu_tensor(SEQCLS_I32, 3, 3, 4, 5), *p1 = tu_tensor(SEQCLS_F32, 2, 3, 4, 0);
    seqcls_tensor_t *p2 = tu_tensor(SEQCLS_F32, 2, 3, 4, 0);
    void *buf = NULL;
    size_t len = 0;
    uint32_t n;
    size_t at;
    int v;
    tu_fill_ids(x, -1, 20, 3);
    OK(seqcls_layer_set_int(m, 0, SEQCLS_OPT_FREEZE, 1));
    OK(seqcls_model_save_buffer(m, &buf, &len));
    OK(seqcls_model_load_buffer(&m2, buf, len));
    OK(seqcls_predict(m, x, NULL, p1, NULL));
    OK(seqcls_predict(m2, x, NULL, p2, NULL));
    ck_assert_int_eq(memcmp(seqcls_tensor_data(p1), seqcls_tensor_data(p2), 12 * sizeof(float)), 0);
    OK(seqcls_layer_get_int(m2, 0, SEQCLS_OPT_PER_STEP, &v));
    ck_assert_int_eq(v, 5);
    OK(seqcls_layer_get_int(m2, 0, SEQCLS_OPT_FREEZE, &v));
    ck_assert_int_eq(v, 1);
    seqcls_model_free(m2);
    m2 = NULL;
    /* kind 13 in CONF: patched to a kind no build has, the file is a newer version's */
    at = mf_section(buf, len, "CONF", &n);
    ck_assert_uint_ne(at, 0);
    {
        unsigned char *b = buf;
        size_t k;
        /* the first layer record: the kind follows the layer count */
        for (k = at + 4; k + 4 <= at + n; k++)
            if (b[k] == 13 && b[k + 1] == 0 && b[k + 2] == 0 && b[k + 3] == 0 &&
                b[k + 4] == 11 && b[k - 4] == 3)   /* kind 13, 11 options, after "3 layers" */
                break;
        ck_assert_uint_lt(k + 4, at + n);
        b[k] = 200;
        mf_mend_crc(b, at, n);
        FAILS(SEQCLS_E_VERSION, "kind 200", seqcls_model_load_buffer(&m2, buf, len));
        b[k] = 13;
        mf_mend_crc(b, at, n);
        OK(seqcls_model_load_buffer(&m2, buf, len));
        seqcls_model_free(m2);
    }
    seqcls_free(buf);
    seqcls_tensor_free(x);
    seqcls_tensor_free(p1);
    seqcls_tensor_free(p2);
    seqcls_model_free(m);
}
END_TEST

/* The lazy, sparse update: rows no id of the batch named keep their values
 * (also under Adam with weight decay and momentum), the others move;
 * zero_grad clears every row. */
START_TEST(optimiser_updates_only_the_rows_used)
{
    const int rows = 40, D = 4, P = 3;
    seqcls_model_t *m = bag_model(rows, D, P, 2, 4);
    seqcls_tensor_t *x = tu_tensor(SEQCLS_I32, 3, 2, 2, P), *y = tu_tensor(SEQCLS_I32, 1, 2, 0, 0);
    seqcls_optimizer_t *o = NULL;
    real_t *w = weight(m, 0), *g = gradient(m, 0), before[40 * 4];
    int32_t *ids = seqcls_tensor_data(x), lens[2] = {2, 1};
    static const int32_t used[12] = {3, 7, -1, 7, 7, 11, 20, -1, -1, 33, 33, 33};
    int r, k, step;
    memcpy(ids, used, sizeof used);   /* row 1 step 1 is padding: 33 is never used */
    ((int32_t *)seqcls_tensor_data(y))[1] = 1;
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAMW, 0.05f));
    OK(seqcls_optimizer_set_float(o, SEQCLS_OPTIM_CLIPNORM, 0.01f));
    memcpy(before, w, sizeof before);
    for (step = 0; step < 3; step++) {
        OK(seqcls_zero_grad(m));
        OK(seqcls_forward(m, x, lens, NULL, 1));
        OK(seqcls_loss_backward(m, y, NULL));
        OK(seqcls_optimizer_step(o, m));
    }
    for (r = 0; r < rows; r++) {
        const int is_used = r == 3 || r == 7 || r == 11 || r == 20;
        int moved = 0;
        for (k = 0; k < D; k++) {
            moved |= w[r * D + k] != before[r * D + k];
            if (!is_used)
                ck_assert(g[r * D + k] == 0);
        }
        ck_assert_msg(moved == is_used, "row %d %s", r, moved ? "moved" : "did not move");
    }
    OK(seqcls_zero_grad(m));
    for (k = 0; k < rows * D; k++)
        ck_assert(g[k] == 0);
    seqcls_optimizer_free(o);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    seqcls_model_free(m);
}
END_TEST

/* seqcls_fit on words as bags of their subwords: the model learns which
 * of two made-up "languages" a word is from, including words it never saw
 * (only their n-grams tell), and leaves no stray gradient behind. */
START_TEST(fit_with_subwords)
{
    static const char *lang_a[] = {"kalaka", "malaka", "talak", "kakala", "lakama", "makala",
                                   "alaka", "kamala", "takala", "lalaka"};
    static const char *lang_b[] = {"sorrin", "torrin", "norris", "rosrin", "sinnor", "tirros",
                                   "ornis", "nosrin", "sorrit", "rinnos"};
    static const char *unseen_a[] = {"makalak", "lakalaka", "kalama"}, *unseen_b[] = {
        "norrin", "sorrins", "rinnor"};
    const int N = 20, PER = 24;
    seqcls_vocab_t *v = NULL;
    seqcls_model_t *m = NULL;
    seqcls_optimizer_t *o = NULL;
    seqcls_fit_config_t *cfg = NULL;
    seqcls_tensor_t *x = tu_tensor(SEQCLS_I32, 3, N, 1, PER), *y = tu_tensor(SEQCLS_I32, 1, N, 0, 0);
    seqcls_tensor_t *tx = tu_tensor(SEQCLS_I32, 3, 6, 1, PER), *probs = tu_tensor(SEQCLS_F32, 2, 6, 1, 0);
    int32_t *ids = seqcls_tensor_data(x), *lab = seqcls_tensor_data(y), lens[20];
    const float *p = seqcls_tensor_data(probs);
    real_t *g;
    int i, n, rows;
    OK(seqcls_vocab_create(&v));
    OK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_MINN, 2));
    OK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_MAXN, 3));
    OK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_BUCKET, 5000));
    OK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_OOV_BUCKETS, 5));
    for (i = 0; i < 10; i++) {
        OK(seqcls_vocab_add_text(v, lang_a[i], strlen(lang_a[i])));
        OK(seqcls_vocab_add_text(v, lang_b[i], strlen(lang_b[i])));
    }
    OK(seqcls_vocab_build(v, 0, 0));
    rows = seqcls_vocab_rows(v);
    ck_assert_int_eq(rows, 22 + 5 + 5000);
    for (i = 0; i < N; i++) {
        const char *w = i % 2 ? lang_b[i / 2] : lang_a[i / 2];
        OK(seqcls_vocab_encode_subwords(v, w, strlen(w), ids + (size_t)i * PER, 1, PER, &n));
        lens[i] = n;
        lab[i] = i % 2;
    }
    for (i = 0; i < 6; i++) {
        const char *w = i < 3 ? unseen_a[i] : unseen_b[i - 3];
        OK(seqcls_vocab_encode_subwords(v, w, strlen(w),
                                        (int32_t *)seqcls_tensor_data(tx) + (size_t)i * PER, 1,
                                        PER, &n));
    }
    OK(seqcls_model_create(&m, 7));
    OK(seqcls_add_embedding_bag(m, rows, 8, PER, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(m, 1, NULL));
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, 0.05f));
    OK(seqcls_optimizer_set_float(o, SEQCLS_OPTIM_CLIPNORM, 5.0f));
    OK(seqcls_fit_config_create(&cfg));
    OK(seqcls_fit_config_set_int(cfg, SEQCLS_FIT_EPOCHS, 30));
    OK(seqcls_fit_config_set_int(cfg, SEQCLS_FIT_BATCH_SIZE, 4));
    /* a gradient left over from before: fit's first batch clears it all */
    g = gradient(m, 0);
    g[(size_t)(rows - 1) * 8] = 5;
    OK(seqcls_fit(m, o, x, lens, y, NULL, NULL, NULL, cfg));
    OK(seqcls_predict(m, tx, NULL, probs, NULL));
    for (i = 0; i < 6; i++)
        ck_assert_msg((p[i] >= 0.5) == (i >= 3), "unseen word %d: p = %g", i, (double)p[i]);
    /* after fit, only rows of the last batch may hold a gradient */
    ck_assert(g[(size_t)(rows - 1) * 8] == 0);
    seqcls_fit_config_free(cfg);
    seqcls_optimizer_free(o);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    seqcls_tensor_free(tx);
    seqcls_tensor_free(probs);
    seqcls_model_free(m);
    seqcls_vocab_free(v);
}
END_TEST

/* seqcls_fit keeps the bag's gradients compactly (sparse.c), the public
 * calls in the gradient tensor: the same batches give the same weights,
 * bit for bit, either way (shuffling and bucketing off, Adam with
 * clipping that bites). */
START_TEST(fit_equals_the_same_steps_by_hand)
{
    const int N = 12, T = 3, P = 5, rows = 60, B = 4, epochs = 2;
    seqcls_model_t *a = bag_model(rows, 6, P, 3, 21), *b = bag_model(rows, 6, P, 3, 21);
    seqcls_optimizer_t *oa = NULL, *ob = NULL;
    seqcls_fit_config_t *cfg = NULL;
    seqcls_tensor_t *x = tu_tensor(SEQCLS_I32, 3, N, T, P), *y = tu_tensor(SEQCLS_I32, 1, N, 0, 0);
    int32_t lens[12], *lab = seqcls_tensor_data(y);
    int i, e, k;
    tu_fill_ids(x, -1, rows, 5);
    for (i = 0; i < N; i++) {
        lens[i] = 1 + i % T;
        lab[i] = i % 3;
    }
    OK(seqcls_optimizer_create(&oa, SEQCLS_OPTIM_ADAM, 0.1f));
    OK(seqcls_optimizer_create(&ob, SEQCLS_OPTIM_ADAM, 0.1f));
    OK(seqcls_optimizer_set_float(oa, SEQCLS_OPTIM_CLIPNORM, 0.05f));
    OK(seqcls_optimizer_set_float(ob, SEQCLS_OPTIM_CLIPNORM, 0.05f));
    OK(seqcls_fit_config_create(&cfg));
    OK(seqcls_fit_config_set_int(cfg, SEQCLS_FIT_EPOCHS, epochs));
    OK(seqcls_fit_config_set_int(cfg, SEQCLS_FIT_BATCH_SIZE, B));
    OK(seqcls_fit_config_set_int(cfg, SEQCLS_FIT_SHUFFLE, 0));
    OK(seqcls_fit_config_set_int(cfg, SEQCLS_FIT_BUCKETING, 0));
    OK(seqcls_fit(a, oa, x, lens, y, NULL, NULL, NULL, cfg));
    for (e = 0; e < epochs; e++)
        for (i = 0; i < N; i += B) {
            int64_t sx[3] = {B, T, P}, sy[1] = {B};
            seqcls_tensor_t *bx = NULL, *by = NULL;
            OK(seqcls_tensor_wrap(&bx, SEQCLS_I32, 3, sx, (int32_t *)seqcls_tensor_data(x) + (size_t)i * T * P));
            OK(seqcls_tensor_wrap(&by, SEQCLS_I32, 1, sy, lab + i));
            OK(seqcls_zero_grad(b));
            OK(seqcls_forward(b, bx, lens + i, NULL, 1));
            OK(seqcls_loss_backward(b, by, NULL));
            OK(seqcls_optimizer_step(ob, b));
            seqcls_tensor_free(bx);
            seqcls_tensor_free(by);
        }
    for (k = 0; k < seqcls_param_count(a); k++) {
        seqcls_tensor_t *va = NULL, *vb = NULL;
        OK(seqcls_param(a, k, &va, NULL));
        OK(seqcls_param(b, k, &vb, NULL));
        ck_assert_msg(memcmp(seqcls_tensor_data(va), seqcls_tensor_data(vb),
                             (size_t)seqcls_tensor_numel(va) * sizeof(real_t)) == 0,
                      "%s differs", seqcls_param_name(a, k));
    }
    seqcls_fit_config_free(cfg);
    seqcls_optimizer_free(oa);
    seqcls_optimizer_free(ob);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    seqcls_model_free(a);
    seqcls_model_free(b);
}
END_TEST

Suite *embedding_bag_suite(void)
{
    Suite *s = suite_create("embedding_bag");
    TCase *tc = tcase_create("embedding_bag");
    tcase_add_test(tc, construction_and_introspection);
    tcase_add_test(tc, forward_is_the_mean_of_the_rows);
    tcase_add_test(tc, input_checks);
    tcase_add_test(tc, save_load_and_freeze);
    tcase_add_test(tc, optimiser_updates_only_the_rows_used);
    tcase_add_test(tc, fit_with_subwords);
    tcase_add_test(tc, fit_equals_the_same_steps_by_hand);
    suite_add_tcase(s, tc);
    return s;
}
