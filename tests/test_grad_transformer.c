/*
 * test_grad_transformer.c -- gradient checks of the transformer layers
 * (double-precision build, harness in gradcheck.h): the encoder layer
 * with every option (post- and pre-norm, relu and gelu, one and several
 * heads, a changed layer-norm epsilon, dropout), stacked, the positional
 * encodings (sinusoidal and learned, with and without scaling the
 * input), and pooling SEQCLS_POOL_FIRST; always over ragged lengths with
 * a row of length 0 and one of length 1, so the gradient also goes
 * through the key mask, and the input gradient at padding steps must be
 * exactly zero.
 */
#include "gradcheck.h"

/* For outputs_zero_at_padding: the values between layers, which the
 * public API does not show (this runner links the library's objects). */
#include "../src/internal.h"

/* lengths covering 0, 1 and T */
static const int32_t lens[5] = {5, 0, 3, 1, 4};

typedef struct {
    int heads, ff;
    unsigned flags;
    int act;            /* SEQCLS_ACT_RELU or _GELU */
    float dropout, eps; /* eps 0: the default */
} tf_opts_t;

static void add_transformer(seqcls_model_t *m, const tf_opts_t *o)
{
    int layer;
    OK(seqcls_add_transformer_encoder(m, o->heads, o->ff, o->flags, &layer));
    OK(seqcls_layer_set_float(m, layer, SEQCLS_OPT_DROPOUT, o->dropout));
    if (o->act != SEQCLS_ACT_RELU)
        OK(seqcls_layer_set_int(m, layer, SEQCLS_OPT_ACTIVATION, o->act));
    if (o->eps > 0)
        OK(seqcls_layer_set_float(m, layer, SEQCLS_OPT_LN_EPSILON, o->eps));
}

/* Non-trivial norms and attention biases (the constructor makes them 1 and 0). */
static void perturb_params(seqcls_model_t *m)
{
    int i, n = seqcls_param_count(m);
    uint64_t seed = 99;
    for (i = 0; i < n; i++) {
        const char *name = seqcls_param_name(m, i);
        seqcls_tensor_t *v;
        real_t *x;
        int64_t k, cnt;
        if (!strstr(name, "norm") && !strstr(name, "in_proj_bias") && !strstr(name, "out_proj.bias"))
            continue;
        OK(seqcls_param(m, i, &v, NULL));
        x = seqcls_tensor_data(v);
        cnt = seqcls_tensor_numel(v);
        for (k = 0; k < cnt; k++)
            x[k] += (real_t)(0.4 * (tu_uniform(&seed) - 0.5));
    }
}

/* Float input [5, T, d] -> transformer layers -> pooling(pool) -> output(2),
 * lengths `lengths` (`lens` with T = 5). */
static void check_stack_t(int T, const int32_t *lengths, int d, const tf_opts_t *layers,
                          int nlayers, int pool, int with_loss)
{
    gradcheck_t c;
    int i;
    setup_feats(&c, 5, T, d, 2, with_loss);
    OK(seqcls_model_create(&c.m, 41));
    OK(seqcls_add_input(c.m, d, NULL));
    for (i = 0; i < nlayers; i++)
        add_transformer(c.m, &layers[i]);
    OK(seqcls_add_pooling(c.m, pool, NULL));
    OK(seqcls_add_output(c.m, 2, NULL));
    perturb_params(c.m);
    c.lens = lengths;
    gradcheck(&c, 1);
    teardown(&c);
}

static void check_stack(int d, const tf_opts_t *layers, int nlayers, int pool, int with_loss)
{
    check_stack_t(5, lens, d, layers, nlayers, pool, with_loss);
}

START_TEST(post_norm_relu_one_head)
{
    const tf_opts_t o = {1, 6, 0, SEQCLS_ACT_RELU, 0, 0};
    check_stack(4, &o, 1, SEQCLS_POOL_MEAN, 0);
}
END_TEST

START_TEST(post_norm_gelu_two_heads)
{
    const tf_opts_t o = {2, 7, 0, SEQCLS_ACT_GELU, 0, 0};
    check_stack(4, &o, 1, SEQCLS_POOL_MEAN, 1);
}
END_TEST

START_TEST(pre_norm_relu_three_heads)
{
    const tf_opts_t o = {3, 5, SEQCLS_NORM_FIRST, SEQCLS_ACT_RELU, 0, 0};
    check_stack(6, &o, 1, SEQCLS_POOL_MAX, 0);
}
END_TEST

START_TEST(pre_norm_gelu_four_heads_eps)
{
    const tf_opts_t o = {4, 6, SEQCLS_NORM_FIRST, SEQCLS_ACT_GELU, 0, 1e-2f};
    check_stack(4, &o, 1, SEQCLS_POOL_MEAN, 1);
}
END_TEST

/* dropout 0.3 everywhere: the harness reseeds the model's stream before
 * each forward, so every evaluation draws the same masks and the check is
 * that of the masked function */
START_TEST(dropout_post_and_pre_norm)
{
    const tf_opts_t o[2] = {{2, 6, 0, SEQCLS_ACT_GELU, 0.3f, 0},
                            {1, 5, SEQCLS_NORM_FIRST, SEQCLS_ACT_GELU, 0.3f, 0}};
    check_stack(4, o, 2, SEQCLS_POOL_MEAN, 0);
}
END_TEST

START_TEST(stack_of_three)
{
    const tf_opts_t o[3] = {{2, 6, SEQCLS_NORM_FIRST, SEQCLS_ACT_RELU, 0, 0},
                            {1, 4, 0, SEQCLS_ACT_GELU, 0, 1e-3f},
                            {2, 3, 0, SEQCLS_ACT_RELU, 0, 0}};
    check_stack(4, o, 3, SEQCLS_POOL_FIRST, 1);
}
END_TEST

/* Wide enough for the vectorised blocks (16 values) and their tails:
 * d = 20, ff = 36, rows of 18 and 17 steps (softmax rows), and 0, 1, 9. */
static const int32_t long_lens[5] = {18, 0, 17, 1, 9};

START_TEST(wide_post_norm_relu)
{
    const tf_opts_t o = {2, 36, 0, SEQCLS_ACT_RELU, 0.25f, 0};
    check_stack_t(18, long_lens, 20, &o, 1, SEQCLS_POOL_MEAN, 0);
}
END_TEST

START_TEST(wide_pre_norm_gelu)
{
    const tf_opts_t o = {4, 36, SEQCLS_NORM_FIRST, SEQCLS_ACT_GELU, 0.25f, 0};
    check_stack_t(18, long_lens, 20, &o, 1, SEQCLS_POOL_MEAN, 1);
}
END_TEST

/* Float input -> positional(kind) [-> transformer] -> pooling -> output. */
static void check_positional(int kind, int scale, int with_transformer, int pool)
{
    gradcheck_t c;
    int layer;
    setup_feats(&c, 5, 5, 4, 2, 0);
    OK(seqcls_model_create(&c.m, 43));
    OK(seqcls_add_input(c.m, 4, NULL));
    OK(seqcls_add_positional_encoding(c.m, kind, 7, &layer));
    if (scale)
        OK(seqcls_layer_set_int(c.m, layer, SEQCLS_OPT_SCALE_INPUT, 1));
    if (with_transformer) {
        const tf_opts_t o = {2, 5, 0, SEQCLS_ACT_GELU, 0, 0};
        add_transformer(c.m, &o);
        perturb_params(c.m);
    }
    OK(seqcls_add_pooling(c.m, pool, NULL));
    OK(seqcls_add_output(c.m, 2, NULL));
    c.lens = lens;
    gradcheck(&c, 1);
    /* rows of the learned table past the longest row get no gradient */
    if (kind == SEQCLS_POS_LEARNED) {
        seqcls_tensor_t *g;
        const real_t *x;
        int k;
        OK(seqcls_param(c.m, seqcls_param_find(c.m, "1.positional.weight"), NULL, &g));
        x = seqcls_tensor_data(g);
        for (k = 5 * 4; k < 7 * 4; k++)
            ck_assert(x[k] == 0);
    }
    teardown(&c);
}

START_TEST(positional_sinusoidal)
{
    check_positional(SEQCLS_POS_SINUSOIDAL, 0, 0, SEQCLS_POOL_MEAN);
    check_positional(SEQCLS_POS_SINUSOIDAL, 1, 1, SEQCLS_POOL_MAX);
}
END_TEST

START_TEST(positional_learned)
{
    check_positional(SEQCLS_POS_LEARNED, 0, 0, SEQCLS_POOL_LAST);
    check_positional(SEQCLS_POS_LEARNED, 1, 1, SEQCLS_POOL_MEAN);
}
END_TEST

START_TEST(pool_first)
{
    gradcheck_t c;
    setup_feats(&c, 5, 5, 3, 2, 1);
    OK(seqcls_model_create(&c.m, 44));
    OK(seqcls_add_input(c.m, 3, NULL));
    OK(seqcls_add_dense(c.m, 4, SEQCLS_ACT_TANH, NULL));
    OK(seqcls_add_pooling(c.m, SEQCLS_POOL_FIRST, NULL));
    OK(seqcls_add_output(c.m, 2, NULL));
    c.lens = lens;
    gradcheck(&c, 1);
    teardown(&c);
}
END_TEST

/* The classifier of the issue, small: embedding -> learned positions ->
 * two encoder layers -> pooling first -> output(1), built-in loss. */
START_TEST(token_classifier)
{
    gradcheck_t c;
    const tf_opts_t o[2] = {{2, 6, 0, SEQCLS_ACT_RELU, 0, 0},
                            {2, 6, SEQCLS_NORM_FIRST, SEQCLS_ACT_GELU, 0.2f, 0}};
    setup_ids(&c, 5, 5, 9, 1, 1);
    OK(seqcls_model_create(&c.m, 45));
    OK(seqcls_add_embedding(c.m, 9, 4, 0, NULL));
    c.skip_param = 0;
    c.skip_from = 0;
    c.skip_to = 4;
    OK(seqcls_add_positional_encoding(c.m, SEQCLS_POS_LEARNED, 5, NULL));
    add_transformer(c.m, &o[0]);
    add_transformer(c.m, &o[1]);
    perturb_params(c.m);
    OK(seqcls_add_pooling(c.m, SEQCLS_POOL_FIRST, NULL));
    OK(seqcls_add_output(c.m, 1, NULL));
    c.lens = lens;
    gradcheck(&c, 0);
    teardown(&c);
}
END_TEST

/* A transformer tagger (per-step output, 1.1): logits at every step, the
 * built-in loss averaged over the valid steps or a custom one whose
 * d(logits) at padding steps is NaN (to be ignored). */
START_TEST(tagger_per_step)
{
    const tf_opts_t o = {2, 6, SEQCLS_NORM_FIRST, SEQCLS_ACT_GELU, 0.2f, 0};
    int with_loss;
    for (with_loss = 0; with_loss < 2; with_loss++) {
        gradcheck_t c;
        setup_steps(&c, 5, 5, 9, 4, 3, with_loss, lens);
        OK(seqcls_model_create(&c.m, 49));
        OK(seqcls_add_input(c.m, 4, NULL));
        OK(seqcls_add_positional_encoding(c.m, SEQCLS_POS_LEARNED, 5, NULL));
        add_transformer(c.m, &o);
        perturb_params(c.m);
        OK(seqcls_add_output(c.m, 3, NULL));
        ck_assert_int_eq(seqcls_model_output_ndim(c.m), 3);
        gradcheck(&c, 1);
        teardown(&c);
    }
}
END_TEST

/* The sequences the layers hand on are exactly zero at padding steps, and
 * a row of length 0 is all zeros, whatever the padding of the input held;
 * their gradients too (the input's is checked by gradcheck). */
START_TEST(outputs_zero_at_padding)
{
    seqcls_model_t *m = NULL;
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, 5, 5, 4), *dl = tu_tensor(SEQCLS_F32, 2, 5, 2, 0);
    const tf_opts_t o[2] = {{2, 6, 0, SEQCLS_ACT_GELU, 0.2f, 0},
                            {4, 6, SEQCLS_NORM_FIRST, SEQCLS_ACT_RELU, 0.2f, 0}};
    int training, l, b, t, f;
    OK(seqcls_model_create(&m, 46));
    OK(seqcls_add_input(m, 4, NULL));
    add_transformer(m, &o[0]);
    add_transformer(m, &o[1]);
    OK(seqcls_add_positional_encoding(m, SEQCLS_POS_LEARNED, 5, NULL));
    OK(seqcls_add_transformer_encoder(m, 1, 3, 0, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(m, 2, NULL));
    tu_fill_real(x, 5, 9, 47);   /* padding steps hold large values too */
    tu_fill_real(dl, -1, 1, 48);
    for (training = 0; training < 2; training++) {
        /* a forward and backward over full rows first leaves values in
         * every buffer, which the ragged batch must not show */
        OK(seqcls_forward(m, x, NULL, NULL, 1));
        OK(seqcls_backward(m, dl));
        OK(seqcls_forward(m, x, lens, NULL, training));
        if (training)
            OK(seqcls_backward(m, dl));
        for (l = 1; l <= 4; l++) {
            const value_t *v = &m->train.vals[l + 1];
            ck_assert_int_eq(v->kind, VAL_SEQ);
            ck_assert_int_eq(v->T, 5);
            for (b = 0; b < 5; b++)
                for (t = 0; t < 5; t++)
                    for (f = 0; f < 4; f++) {
                        const real y = v->x[((size_t)b * 5 + t) * 4 + f];
                        if (t >= lens[b])
                            ck_assert_msg(y == 0, "layer %d: output at padding (%d, %d) is %g", l,
                                          b, t, y);
                        else
                            ck_assert(isfinite(y));
                    }
        }
        if (training) {
            /* each layer's d(input) at padding, from its workspace */
            for (l = 1; l <= 4; l++) {
                const real *dx = m->train.ws[l].buf[WS_DIN];
                for (b = 0; b < 5; b++)
                    for (t = lens[b]; t < 5; t++)
                        for (f = 0; f < 4; f++)
                            ck_assert_msg(dx[((size_t)b * 5 + t) * 4 + f] == 0,
                                          "layer %d: gradient at padding (%d, %d)", l, b, t);
            }
        }
    }
    seqcls_model_free(m);
    seqcls_tensor_free(x);
    seqcls_tensor_free(dl);
}
END_TEST

Suite *grad_transformer_suite(void)
{
    Suite *s = suite_create("gradient check: transformer (double)");
    TCase *tc = tcase_create("transformer");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, post_norm_relu_one_head);
    tcase_add_test(tc, post_norm_gelu_two_heads);
    tcase_add_test(tc, pre_norm_relu_three_heads);
    tcase_add_test(tc, pre_norm_gelu_four_heads_eps);
    tcase_add_test(tc, dropout_post_and_pre_norm);
    tcase_add_test(tc, stack_of_three);
    tcase_add_test(tc, wide_post_norm_relu);
    tcase_add_test(tc, wide_pre_norm_gelu);
    tcase_add_test(tc, positional_sinusoidal);
    tcase_add_test(tc, positional_learned);
    tcase_add_test(tc, pool_first);
    tcase_add_test(tc, token_classifier);
    tcase_add_test(tc, outputs_zero_at_padding);
    tcase_add_test(tc, tagger_per_step);
    suite_add_tcase(s, tc);
    return s;
}
