/*
 * test_transformer.c -- the transformer layers through the public API
 * (float build): construction and option errors, descriptions, parameter
 * names and initialisation, save and load, padding that changes nothing,
 * rows of length 0, thread-count independence, the self-attention
 * weights, stacks that learn, the dropout sites' statistics, positional
 * encodings, pooling SEQCLS_POOL_FIRST, and streams through the last two.  Values against PyTorch are in
 * tests/parity/test_transformer_parity.py, gradients in
 * tests/test_grad_transformer.c.
 */
#include <stdio.h>
#include <stdlib.h>

#include "modelfile.h"
#include "testutil.h"

static real_t *param_data(seqcls_model_t *m, const char *name, int64_t *numel)
{
    seqcls_tensor_t *v = NULL;
    int i = seqcls_param_find(m, name);
    ck_assert_msg(i >= 0, "no parameter %s", name);
    OK(seqcls_param(m, i, &v, NULL));
    if (numel)
        *numel = seqcls_tensor_numel(v);
    return seqcls_tensor_data(v);
}

static real_t *grad_data(seqcls_model_t *m, int i, int64_t *numel)
{
    seqcls_tensor_t *g = NULL;
    OK(seqcls_param(m, i, NULL, &g));
    *numel = seqcls_tensor_numel(g);
    return seqcls_tensor_data(g);
}

static int get_int(const seqcls_model_t *m, int layer, int option)
{
    int v = -12345;
    OK(seqcls_layer_get_int(m, layer, option, &v));
    return v;
}

static float get_float(const seqcls_model_t *m, int layer, int option)
{
    float v = -1;
    OK(seqcls_layer_get_float(m, layer, option, &v));
    return v;
}

static void describe_is(const seqcls_model_t *m, int layer, const char *want)
{
    char buf[256];
    OK(seqcls_layer_describe(m, layer, buf, sizeof buf));
    ck_assert_str_eq(buf, want);
}

/* ---- construction and options ---- */

START_TEST(constructor_errors)
{
    seqcls_model_t *m = NULL, *big = NULL;
    int layer = -1;
    OK(seqcls_model_create(&m, 1));
    FAILS(SEQCLS_E_INVALID_ARG, "model is NULL",
          seqcls_add_transformer_encoder(NULL, 2, 8, 0, NULL));
    FAILS(SEQCLS_E_STATE, "first layer", seqcls_add_transformer_encoder(m, 2, 8, 0, NULL));
    OK(seqcls_add_input(m, 6, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "heads (0) must be at least 1",
          seqcls_add_transformer_encoder(m, 0, 8, 0, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "heads (-3)", seqcls_add_transformer_encoder(m, -3, 8, 0, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "heads (4) must divide the input width d = 6",
          seqcls_add_transformer_encoder(m, 4, 8, 0, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "heads (12) must divide",
          seqcls_add_transformer_encoder(m, 12, 8, 0, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "ff_dim (0)", seqcls_add_transformer_encoder(m, 2, 0, 0, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "ff_dim (16777217)",
          seqcls_add_transformer_encoder(m, 2, (1 << 24) + 1, 0, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "unknown flags 0x1",
          seqcls_add_transformer_encoder(m, 2, 8, SEQCLS_BIDIRECTIONAL, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "unknown flags 0x20",
          seqcls_add_transformer_encoder(m, 2, 8, SEQCLS_NORM_FIRST | 0x20u, NULL));
    /* nothing was added by the failures */
    ck_assert_int_eq(seqcls_layer_count(m), 1);
    ck_assert_int_eq(seqcls_param_count(m), 0);
    OK(seqcls_add_transformer_encoder(m, 3, 8, SEQCLS_NORM_FIRST, &layer));
    ck_assert_int_eq(layer, 1);
    ck_assert_int_eq(seqcls_param_count(m), 12);
    OK(seqcls_add_transformer_encoder(m, 6, 1, 0, &layer));   /* dh = 1, ff = 1 */
    ck_assert_int_eq(layer, 2);
    OK(seqcls_add_pooling(m, SEQCLS_POOL_FIRST, NULL));
    FAILS(SEQCLS_E_STATE, "cannot take a vector", seqcls_add_transformer_encoder(m, 1, 8, 0, NULL));
    /* weights of more than 2^31 values are refused before anything is allocated */
    OK(seqcls_model_create(&big, 1));
    OK(seqcls_add_input(big, 1 << 15, NULL));
    FAILS(SEQCLS_E_NOMEM, "more than 2^31", seqcls_add_transformer_encoder(big, 1, 1, 0, NULL));
    ck_assert_int_eq(seqcls_param_count(big), 0);
    seqcls_model_free(big);
    seqcls_model_free(m);
}
END_TEST

START_TEST(options)
{
    seqcls_model_t *m = NULL;
    int l;
    OK(seqcls_model_create(&m, 1));
    OK(seqcls_add_input(m, 8, NULL));
    OK(seqcls_add_transformer_encoder(m, 2, 16, SEQCLS_NORM_FIRST, &l));
    ck_assert_int_eq(seqcls_layer_kind(m, l), SEQCLS_LAYER_TRANSFORMER_ENCODER);
    ck_assert_int_eq(get_int(m, l, SEQCLS_OPT_HEADS), 2);
    ck_assert_int_eq(get_int(m, l, SEQCLS_OPT_FF_DIM), 16);
    ck_assert_int_eq(get_int(m, l, SEQCLS_OPT_FLAGS), (int)SEQCLS_NORM_FIRST);
    ck_assert_int_eq(get_int(m, l, SEQCLS_OPT_UNITS), 8);
    ck_assert_int_eq(get_int(m, l, SEQCLS_OPT_ACTIVATION), SEQCLS_ACT_RELU);
    ck_assert(get_float(m, l, SEQCLS_OPT_DROPOUT) == 0.1f);
    ck_assert(get_float(m, l, SEQCLS_OPT_LN_EPSILON) == 1e-5f);

    OK(seqcls_layer_set_int(m, l, SEQCLS_OPT_ACTIVATION, SEQCLS_ACT_GELU));
    ck_assert_int_eq(get_int(m, l, SEQCLS_OPT_ACTIVATION), SEQCLS_ACT_GELU);
    OK(seqcls_layer_set_int(m, l, SEQCLS_OPT_ACTIVATION, SEQCLS_ACT_RELU));
    FAILS(SEQCLS_E_INVALID_ARG, "SEQCLS_ACT_RELU or SEQCLS_ACT_GELU, not 2",
          seqcls_layer_set_int(m, l, SEQCLS_OPT_ACTIVATION, SEQCLS_ACT_TANH));
    FAILS(SEQCLS_E_INVALID_ARG, "not 0",
          seqcls_layer_set_int(m, l, SEQCLS_OPT_ACTIVATION, SEQCLS_ACT_NONE));
    OK(seqcls_layer_set_float(m, l, SEQCLS_OPT_DROPOUT, 0.0f));
    OK(seqcls_layer_set_float(m, l, SEQCLS_OPT_DROPOUT, 0.5f));
    ck_assert(get_float(m, l, SEQCLS_OPT_DROPOUT) == 0.5f);
    FAILS(SEQCLS_E_INVALID_ARG, "outside [0, 1)",
          seqcls_layer_set_float(m, l, SEQCLS_OPT_DROPOUT, 1.0f));
    FAILS(SEQCLS_E_INVALID_ARG, "outside [0, 1)",
          seqcls_layer_set_float(m, l, SEQCLS_OPT_DROPOUT, -0.1f));
    OK(seqcls_layer_set_float(m, l, SEQCLS_OPT_LN_EPSILON, 1e-3f));
    ck_assert(get_float(m, l, SEQCLS_OPT_LN_EPSILON) == 1e-3f);
    FAILS(SEQCLS_E_INVALID_ARG, "must be above 0",
          seqcls_layer_set_float(m, l, SEQCLS_OPT_LN_EPSILON, 0.0f));
    FAILS(SEQCLS_E_INVALID_ARG, "must be above 0",
          seqcls_layer_set_float(m, l, SEQCLS_OPT_LN_EPSILON, -1e-5f));
    FAILS(SEQCLS_E_INVALID_ARG, "not finite",
          seqcls_layer_set_float(m, l, SEQCLS_OPT_LN_EPSILON, (float)INFINITY));
    ck_assert(get_float(m, l, SEQCLS_OPT_LN_EPSILON) == 1e-3f);
    /* the constructor's arguments are read-only */
    FAILS(SEQCLS_E_INVALID_ARG, "fixed by its constructor",
          seqcls_layer_set_int(m, l, SEQCLS_OPT_HEADS, 4));
    FAILS(SEQCLS_E_INVALID_ARG, "fixed by its constructor",
          seqcls_layer_set_int(m, l, SEQCLS_OPT_FF_DIM, 4));
    FAILS(SEQCLS_E_INVALID_ARG, "fixed by its constructor",
          seqcls_layer_set_int(m, l, SEQCLS_OPT_FLAGS, 0));
    FAILS(SEQCLS_E_INVALID_ARG, "fixed by its constructor",
          seqcls_layer_set_int(m, l, SEQCLS_OPT_UNITS, 4));
    FAILS(SEQCLS_E_INVALID_ARG, "is a float option",
          seqcls_layer_set_int(m, l, SEQCLS_OPT_DROPOUT, 0));
    FAILS(SEQCLS_E_INVALID_ARG, "is an integer option",
          seqcls_layer_set_float(m, l, SEQCLS_OPT_HEADS, 1));
    FAILS(SEQCLS_E_INVALID_ARG, "does not apply",
          seqcls_layer_set_int(m, l, SEQCLS_OPT_SCALE_INPUT, 1));
    FAILS(SEQCLS_E_INVALID_ARG, "does not apply",
          seqcls_layer_set_float(m, l, SEQCLS_OPT_BN_EPSILON, 1e-3f));
    seqcls_model_free(m);
}
END_TEST

START_TEST(descriptions)
{
    seqcls_model_t *m = NULL;
    int l;
    OK(seqcls_model_create(&m, 1));
    OK(seqcls_add_input(m, 8, NULL));
    OK(seqcls_add_positional_encoding(m, SEQCLS_POS_SINUSOIDAL, 50, NULL));
    OK(seqcls_add_positional_encoding(m, SEQCLS_POS_LEARNED, 12, &l));
    OK(seqcls_layer_set_int(m, l, SEQCLS_OPT_SCALE_INPUT, 1));
    OK(seqcls_add_transformer_encoder(m, 2, 16, 0, NULL));
    OK(seqcls_add_transformer_encoder(m, 4, 32, SEQCLS_NORM_FIRST, &l));
    OK(seqcls_layer_set_int(m, l, SEQCLS_OPT_ACTIVATION, SEQCLS_ACT_GELU));
    OK(seqcls_layer_set_float(m, l, SEQCLS_OPT_DROPOUT, 0.25f));
    OK(seqcls_layer_set_float(m, l, SEQCLS_OPT_LN_EPSILON, 1e-3f));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_FIRST, NULL));
    describe_is(m, 1, "positional(sinusoidal, max_len=50) -> sequence of 8");
    describe_is(m, 2, "positional(learned, max_len=12, scale_input) -> sequence of 8");
    describe_is(m, 3, "transformer(heads=2, ff_dim=16, relu, dropout=0.1) -> sequence of 8");
    describe_is(m, 4,
                "transformer(heads=4, ff_dim=32, gelu, dropout=0.25, norm_first, ln_eps=0.001) -> "
                "sequence of 8");
    describe_is(m, 5, "pooling(first) -> vector of 8");
    ck_assert_int_eq(get_int(m, 5, SEQCLS_OPT_KIND), SEQCLS_POOL_FIRST);
    seqcls_model_free(m);
}
END_TEST

/* Names and shapes as PyTorch's state_dict, values initialised as PyTorch does. */
START_TEST(parameters_and_initialisation)
{
    static const char *const names[12] = {
        "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
        "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight",
        "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"};
    const int d = 16, ff = 40;
    const int64_t rows[12] = {3 * d, 3 * d, d, d, ff, ff, d, d, d, d, d, d};
    const int64_t cols[12] = {d, 0, d, 0, d, 0, ff, 0, 0, 0, 0, 0};
    /* bounds: xavier_uniform for in_proj, 1/sqrt(fan_in) for the nn.Linear parts */
    const double bound[12] = {sqrt(6.0 / (4 * d)), 0, 1 / sqrt(d), 0, 1 / sqrt(d), 1 / sqrt(d),
                              1 / sqrt(ff), 1 / sqrt(ff), -1, 0, -1, 0};
    seqcls_model_t *m = NULL;
    int i;
    OK(seqcls_model_create(&m, 3));
    OK(seqcls_add_input(m, d, NULL));
    OK(seqcls_add_transformer_encoder(m, 4, ff, 0, NULL));
    ck_assert_int_eq(seqcls_param_count(m), 12);
    for (i = 0; i < 12; i++) {
        char want[80];
        seqcls_tensor_t *v = NULL, *g = NULL;
        const real_t *x;
        double mx = 0;
        int64_t k, n;
        snprintf(want, sizeof want, "1.transformer.%s", names[i]);
        ck_assert_str_eq(seqcls_param_name(m, i), want);
        OK(seqcls_param(m, i, &v, &g));
        ck_assert_int_eq(seqcls_tensor_ndim(v), cols[i] ? 2 : 1);
        ck_assert_int_eq(seqcls_tensor_dim(v, 0), rows[i]);
        if (cols[i])
            ck_assert_int_eq(seqcls_tensor_dim(v, 1), cols[i]);
        x = seqcls_tensor_data(v);
        n = seqcls_tensor_numel(v);
        for (k = 0; k < n; k++) {
            if (bound[i] < 0)
                ck_assert_msg(x[k] == 1, "%s[%lld] = %g, not 1", want, (long long)k, (double)x[k]);
            else if (bound[i] == 0)
                ck_assert_msg(x[k] == 0, "%s[%lld] = %g, not 0", want, (long long)k, (double)x[k]);
            else
                ck_assert_msg(fabs(x[k]) <= bound[i], "%s[%lld] = %g beyond %g", want,
                              (long long)k, (double)x[k], bound[i]);
            mx = fmax(mx, fabs(x[k]));
        }
        if (bound[i] > 0)   /* uniform over the whole range, not a narrower one */
            ck_assert_msg(mx > 0.8 * bound[i], "%s: largest |value| %g of bound %g", want, mx,
                          bound[i]);
    }
    seqcls_model_free(m);
}
END_TEST

/* ---- a model with every option, saved and loaded ---- */

static seqcls_model_t *encoder_model(uint64_t seed)
{
    seqcls_model_t *m = NULL;
    int l;
    OK(seqcls_model_create(&m, seed));
    OK(seqcls_add_input(m, 8, NULL));                                        /* 0 */
    OK(seqcls_add_positional_encoding(m, SEQCLS_POS_SINUSOIDAL, 20, &l));   /* 1 */
    OK(seqcls_layer_set_int(m, l, SEQCLS_OPT_SCALE_INPUT, 1));
    OK(seqcls_add_transformer_encoder(m, 2, 16, SEQCLS_NORM_FIRST, &l));    /* 2 */
    OK(seqcls_layer_set_int(m, l, SEQCLS_OPT_ACTIVATION, SEQCLS_ACT_GELU));
    OK(seqcls_layer_set_float(m, l, SEQCLS_OPT_DROPOUT, 0.25f));
    OK(seqcls_layer_set_float(m, l, SEQCLS_OPT_LN_EPSILON, 1e-3f));
    OK(seqcls_add_transformer_encoder(m, 4, 12, 0, NULL));                  /* 3: defaults */
    OK(seqcls_add_positional_encoding(m, SEQCLS_POS_LEARNED, 30, NULL));    /* 4 */
    OK(seqcls_add_pooling(m, SEQCLS_POOL_FIRST, NULL));                     /* 5 */
    OK(seqcls_add_output(m, 3, NULL));                                       /* 6 */
    return m;
}

/* Does layer `layer`'s record in the CONF section of a saved model hold option `id`? */
static int conf_has_option(const unsigned char *b, size_t len, uint32_t layer, uint32_t id)
{
    uint32_t n = 0, count, i, j, k;
    size_t at = mf_section(b, len, "CONF", &n), end = at + n;
    ck_assert(at != 0);
#define U32(p) ((uint32_t)(p)[0] | (uint32_t)(p)[1] << 8 | (uint32_t)(p)[2] << 16 | \
                (uint32_t)(p)[3] << 24)
    count = U32(b + at);   /* model options */
    at += 4;
    for (i = 0; i < count; i++)
        at += 8 + (U32(b + at + 4) == 4 ? 8 : 4);
    count = U32(b + at);   /* layers */
    at += 4;
    for (i = 0; i < count && at < end; i++) {
        const uint32_t nopt = U32(b + at + 4);
        at += 8;
        for (j = 0; j < nopt; j++) {
            k = U32(b + at);
            if (i == layer && k == id)
                return 1;
            at += 8 + (U32(b + at + 4) == 4 ? 8 : 4);
        }
    }
#undef U32
    return 0;
}

START_TEST(save_load_round_trip)
{
    const int B = 4, T = 9;
    const int32_t lens[4] = {9, 5, 1, 0};
    seqcls_model_t *m = encoder_model(11), *back = NULL;
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, B, T, 8), *p1 = tu_tensor(SEQCLS_F32, 2, B, 3, 0);
    seqcls_tensor_t *p2 = tu_tensor(SEQCLS_F32, 2, B, 3, 0);
    void *buf = NULL;
    size_t len = 0;
    int l;
    tu_fill_real(x, -1, 1, 5);
    OK(seqcls_predict(m, x, lens, p1, NULL));
    OK(seqcls_model_save_buffer(m, &buf, &len));
    OK(seqcls_model_load_buffer(&back, buf, len));
    tu_assert_same_params(m, back);
    for (l = 0; l < 7; l++) {
        char a[256], b[256];
        OK(seqcls_layer_describe(m, l, a, sizeof a));
        OK(seqcls_layer_describe(back, l, b, sizeof b));
        ck_assert_str_eq(a, b);
    }
    ck_assert_int_eq(get_int(back, 1, SEQCLS_OPT_SCALE_INPUT), 1);
    ck_assert_int_eq(get_int(back, 2, SEQCLS_OPT_ACTIVATION), SEQCLS_ACT_GELU);
    ck_assert(get_float(back, 2, SEQCLS_OPT_DROPOUT) == 0.25f);
    ck_assert(get_float(back, 2, SEQCLS_OPT_LN_EPSILON) == 1e-3f);
    ck_assert_int_eq(get_int(back, 2, SEQCLS_OPT_FLAGS), (int)SEQCLS_NORM_FIRST);
    ck_assert(get_float(back, 3, SEQCLS_OPT_DROPOUT) == 0.1f);
    ck_assert(get_float(back, 3, SEQCLS_OPT_LN_EPSILON) == 1e-5f);
    ck_assert_int_eq(get_int(back, 3, SEQCLS_OPT_HEADS), 4);
    ck_assert_int_eq(get_int(back, 3, SEQCLS_OPT_FF_DIM), 12);
    ck_assert_int_eq(get_int(back, 4, SEQCLS_OPT_MAX_LEN), 30);
    ck_assert_int_eq(get_int(back, 4, SEQCLS_OPT_KIND), SEQCLS_POS_LEARNED);
    ck_assert_int_eq(get_int(back, 5, SEQCLS_OPT_KIND), SEQCLS_POOL_FIRST);
    OK(seqcls_predict(back, x, lens, p2, NULL));
    ck_assert(memcmp(seqcls_tensor_data(p1), seqcls_tensor_data(p2), B * 3 * sizeof(real_t)) == 0);
    /* options from id 12 on are written only away from their default:
     * ln_eps (14) for layer 2, not for layer 3; heads (12) and ff_dim (13)
     * always (their default is 0); scale_input (16) for layer 1 only */
    ck_assert(conf_has_option(buf, len, 2, 14));
    ck_assert(!conf_has_option(buf, len, 3, 14));
    ck_assert(conf_has_option(buf, len, 3, 12) && conf_has_option(buf, len, 3, 13));
    ck_assert(conf_has_option(buf, len, 1, 16));
    ck_assert(!conf_has_option(buf, len, 4, 16));
    ck_assert(conf_has_option(buf, len, 4, 15));
    seqcls_free(buf);
    seqcls_model_free(back);
    seqcls_model_free(m);
    seqcls_tensor_free(x);
    seqcls_tensor_free(p1);
    seqcls_tensor_free(p2);
}
END_TEST

/* ---- padding ---- */

/* Logits, parameter gradients (all concatenated) and the input gradient at
 * valid steps of the encoder model on x's valid steps placed in a batch of
 * T steps with padding filled with `fill`. */
typedef struct {
    real_t logits[4 * 3];
    real_t grads[8000];
    real_t dx[4 * 9 * 8];
    size_t ngrads;
} run_out_t;

static void run_padded(const real_t *x9, const int32_t *lens, int T, double fill, int training,
                       run_out_t *o)
{
    const int B = 4, F = 8;
    seqcls_model_t *m = encoder_model(11);
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, B, T, F), *lg = tu_tensor(SEQCLS_F32, 2, B, 3, 0);
    seqcls_tensor_t *dl = tu_tensor(SEQCLS_F32, 2, B, 3, 0), *gx = NULL;
    real_t *xd = seqcls_tensor_data(x);
    int b, t, f, i;
    /* dropout off: the comparison is about values */
    OK(seqcls_layer_set_float(m, 2, SEQCLS_OPT_DROPOUT, 0));
    OK(seqcls_layer_set_float(m, 3, SEQCLS_OPT_DROPOUT, 0));
    for (b = 0; b < B; b++)
        for (t = 0; t < T; t++)
            for (f = 0; f < F; f++)
                xd[((size_t)b * T + t) * F + f] =
                    t < lens[b] ? x9[((size_t)b * 9 + t) * F + f] : (real_t)(fill * (1 + t + f));
    tu_fill_real(dl, -1, 1, 8);
    OK(seqcls_zero_grad(m));
    OK(seqcls_forward(m, x, lens, lg, training));
    memcpy(o->logits, seqcls_tensor_data(lg), sizeof o->logits);
    o->ngrads = 0;
    if (training) {
        OK(seqcls_backward(m, dl));
        for (i = 0; i < seqcls_param_count(m); i++) {
            int64_t n;
            const real_t *g = grad_data(m, i, &n);
            ck_assert(o->ngrads + (size_t)n <= sizeof o->grads / sizeof o->grads[0]);
            memcpy(o->grads + o->ngrads, g, (size_t)n * sizeof(real_t));
            o->ngrads += (size_t)n;
        }
        OK(seqcls_input_grad(m, &gx));
        memset(o->dx, 0, sizeof o->dx);
        for (b = 0; b < B; b++)
            for (t = 0; t < T; t++)
                for (f = 0; f < F; f++) {
                    const real_t v = ((const real_t *)seqcls_tensor_data(gx))[((size_t)b * T + t) * F + f];
                    if (t < lens[b])
                        o->dx[((size_t)b * 9 + t) * F + f] = v;
                    else
                        ck_assert_msg(v == 0, "input gradient at padding (%d, %d)", b, t);
                }
    }
    seqcls_model_free(m);
    seqcls_tensor_free(x);
    seqcls_tensor_free(lg);
    seqcls_tensor_free(dl);
}

START_TEST(padding_changes_nothing)
{
    const int32_t lens[4] = {9, 5, 1, 0};
    static real_t x9[4 * 9 * 8];
    static run_out_t a, b;
    uint64_t s = 3;
    size_t i;
    int training;
    for (i = 0; i < sizeof x9 / sizeof x9[0]; i++)
        x9[i] = (real_t)(2 * tu_uniform(&s) - 1);
    for (training = 0; training < 2; training++) {
        run_padded(x9, lens, 9, 0.0, training, &a);
        run_padded(x9, lens, 9, 1e3, training, &b);   /* other padding values */
        ck_assert(memcmp(a.logits, b.logits, sizeof a.logits) == 0);
        ck_assert(memcmp(a.grads, b.grads, a.ngrads * sizeof(real_t)) == 0);
        ck_assert(memcmp(a.dx, b.dx, sizeof a.dx) == 0);
        run_padded(x9, lens, 17, -7.0, training, &b);   /* more padding (max_len 20) */
        ck_assert(memcmp(a.logits, b.logits, sizeof a.logits) == 0);
        ck_assert(memcmp(a.grads, b.grads, a.ngrads * sizeof(real_t)) == 0);
        ck_assert(memcmp(a.dx, b.dx, sizeof a.dx) == 0);
    }
}
END_TEST

/* Rows of length 0 give zeros (the logits are the output bias) and no
 * gradient, never NaN, also when every row has length 0. */
START_TEST(zero_length_rows)
{
    const int B = 3, T = 6;
    seqcls_model_t *m = encoder_model(12);
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, B, T, 8), *lg = tu_tensor(SEQCLS_F32, 2, B, 3, 0);
    seqcls_tensor_t *dl = tu_tensor(SEQCLS_F32, 2, B, 3, 0), *w = NULL;
    const real_t *bias = param_data(m, "6.output.bias", NULL);
    int32_t lens[3] = {0, 4, 0};
    int64_t shape[4] = {B, 2, T, T};
    int pass, b, k, i;
    OK(seqcls_tensor_create(&w, SEQCLS_F32, 4, shape));
    tu_fill_real(x, -1, 1, 9);
    tu_fill_real(dl, -1, 1, 10);
    for (pass = 0; pass < 2; pass++) {
        if (pass == 1)
            lens[1] = 0;   /* every row empty */
        OK(seqcls_zero_grad(m));
        OK(seqcls_forward(m, x, lens, lg, 1));
        for (b = 0; b < B; b++)
            for (k = 0; k < 3; k++)
                if (lens[b] == 0)
                    ck_assert(((real_t *)seqcls_tensor_data(lg))[b * 3 + k] == bias[k]);
                else
                    ck_assert(isfinite(((real_t *)seqcls_tensor_data(lg))[b * 3 + k]));
        OK(seqcls_backward(m, dl));
        OK(seqcls_self_attention_weights(m, 2, w));
        for (i = 0; i < B * 2 * T * T; i++) {
            const real_t v = ((real_t *)seqcls_tensor_data(w))[i];
            ck_assert(pass == 0 || v == 0);
            ck_assert(isfinite(v));
        }
        if (pass == 1) {
            /* nothing before the output layer gets a gradient */
            for (i = 0; i < seqcls_param_count(m); i++) {
                int64_t n, j;
                const real_t *g = grad_data(m, i, &n);
                if (strstr(seqcls_param_name(m, i), "output"))
                    continue;
                for (j = 0; j < n; j++)
                    ck_assert_msg(g[j] == 0, "%s has a gradient", seqcls_param_name(m, i));
            }
        }
    }
    seqcls_model_free(m);
    seqcls_tensor_free(x);
    seqcls_tensor_free(lg);
    seqcls_tensor_free(dl);
    seqcls_tensor_free(w);
}
END_TEST

/* ---- threads ---- */

enum { TB = 8, TT = 60, TD = 64 };

static void run_threads(int threads, int training, real_t *logits, real_t *grads, size_t *ng,
                        real_t *dx)
{
    static const int32_t lens[TB] = {60, 3, 41, 0, 60, 17, 1, 33};
    seqcls_model_t *m = NULL;
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, TB, TT, TD), *lg = tu_tensor(SEQCLS_F32, 2, TB, 2, 0);
    seqcls_tensor_t *dl = tu_tensor(SEQCLS_F32, 2, TB, 2, 0), *gx = NULL;
    int l, i;
    OK(seqcls_set_num_threads(threads));
    OK(seqcls_model_create(&m, 21));
    OK(seqcls_add_input(m, TD, NULL));
    OK(seqcls_add_transformer_encoder(m, 4, 96, 0, &l));
    OK(seqcls_layer_set_float(m, l, SEQCLS_OPT_DROPOUT, 0.2f));
    OK(seqcls_add_transformer_encoder(m, 2, 80, SEQCLS_NORM_FIRST, &l));
    OK(seqcls_layer_set_int(m, l, SEQCLS_OPT_ACTIVATION, SEQCLS_ACT_GELU));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(m, 2, NULL));
    tu_fill_real(x, -1, 1, 31);
    tu_fill_real(dl, -1, 1, 32);
    OK(seqcls_zero_grad(m));
    OK(seqcls_forward(m, x, lens, lg, training));
    memcpy(logits, seqcls_tensor_data(lg), TB * 2 * sizeof(real_t));
    *ng = 0;
    if (training) {
        OK(seqcls_backward(m, dl));
        for (i = 0; i < seqcls_param_count(m); i++) {
            int64_t n;
            const real_t *g = grad_data(m, i, &n);
            memcpy(grads + *ng, g, (size_t)n * sizeof(real_t));
            *ng += (size_t)n;
        }
        OK(seqcls_input_grad(m, &gx));
        memcpy(dx, seqcls_tensor_data(gx), (size_t)TB * TT * TD * sizeof(real_t));
    }
    seqcls_model_free(m);
    seqcls_tensor_free(x);
    seqcls_tensor_free(lg);
    seqcls_tensor_free(dl);
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

/* Forward values (products by rows, attention by (row, head), dropout
 * masks by place) are the same bits at any thread count; the weight
 * gradients' products go through the BLAS, equal up to its choice of
 * kernel for a block's size. */
START_TEST(thread_count_changes_nothing)
{
    static real_t l1[TB * 2], l2[TB * 2], g1[120000], g2[120000], x1[TB * TT * TD],
        x2[TB * TT * TD];
    size_t n1, n2;
    int training, threads;
    for (training = 0; training < 2; training++) {
        run_threads(1, training, l1, g1, &n1, x1);
        for (threads = 2; threads <= 3; threads++) {
            run_threads(threads, training, l2, g2, &n2, x2);
            ck_assert_msg(memcmp(l1, l2, sizeof l1) == 0, "logits differ, %d threads", threads);
            if (training) {
                ck_assert(n1 == n2 && n1 <= 120000);
                ck_assert_msg(max_rel_diff(g1, g2, n1) < 1e-5, "gradients differ by %g",
                              max_rel_diff(g1, g2, n1));
                ck_assert_msg(max_rel_diff(x1, x2, sizeof x1 / sizeof x1[0]) < 1e-5,
                              "input gradients differ by %g",
                              max_rel_diff(x1, x2, sizeof x1 / sizeof x1[0]));
            }
        }
    }
}
END_TEST

/* ---- self-attention weights ---- */

START_TEST(self_attention_weights)
{
    const int B = 4, T = 7, H = 2;
    const int32_t lens[4] = {7, 4, 1, 0};
    seqcls_model_t *m = encoder_model(13);
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, B, T, 8), *w = NULL, *bad = NULL;
    seqcls_tensor_t *ids = tu_tensor(SEQCLS_F32, 2, B, T, 0), *p = tu_tensor(SEQCLS_F32, 2, B, 3, 0);
    int64_t shape[4] = {B, H, T, T}, wrong[4] = {B, H, T, T + 1};
    int pass, b, h, i, j;
    OK(seqcls_tensor_create(&w, SEQCLS_F32, 4, shape));
    tu_fill_real(x, -2, 2, 14);

    FAILS(SEQCLS_E_INVALID_ARG, "model is NULL", seqcls_self_attention_weights(NULL, 2, w));
    FAILS(SEQCLS_E_INVALID_ARG, "out is NULL", seqcls_self_attention_weights(m, 2, NULL));
    FAILS(SEQCLS_E_STATE, "no forward", seqcls_self_attention_weights(m, 2, w));
    /* seqcls_predict is not the model's forward */
    OK(seqcls_predict(m, x, lens, p, NULL));
    FAILS(SEQCLS_E_STATE, "no forward", seqcls_self_attention_weights(m, 2, w));
    for (pass = 0; pass < 2; pass++) {
        /* inference, then training with dropout: the weights are the
         * probabilities before dropout */
        OK(seqcls_forward(m, x, lens, NULL, pass));
        FAILS(SEQCLS_E_RANGE, "layer 1 is not a transformer layer",
              seqcls_self_attention_weights(m, 1, w));
        FAILS(SEQCLS_E_RANGE, "layer -1", seqcls_self_attention_weights(m, -1, w));
        FAILS(SEQCLS_E_RANGE, "layer 7", seqcls_self_attention_weights(m, 7, w));
        OK(seqcls_tensor_create(&bad, SEQCLS_F32, 4, wrong));
        FAILS(SEQCLS_E_SHAPE, "out has shape [4, 2, 7, 8], expected [4, 2, 7, 7]",
              seqcls_self_attention_weights(m, 2, bad));
        seqcls_tensor_free(bad);
        FAILS(SEQCLS_E_SHAPE, "out has shape", seqcls_self_attention_weights(m, 3, w)); /* 4 heads */
        FAILS(SEQCLS_E_SHAPE, "out has shape", seqcls_self_attention_weights(m, 2, ids));
        OK(seqcls_self_attention_weights(m, 2, w));
        for (b = 0; b < B; b++)
            for (h = 0; h < H; h++)
                for (i = 0; i < T; i++) {
                    const real_t *row = (real_t *)seqcls_tensor_data(w) + (((size_t)b * H + h) * T + i) * T;
                    double sum = 0;
                    for (j = 0; j < T; j++) {
                        if (i >= lens[b] || j >= lens[b])
                            ck_assert_msg(row[j] == 0, "weight at padding (%d %d %d %d)", b, h, i, j);
                        ck_assert(row[j] >= 0 && row[j] <= 1);
                        sum += row[j];
                    }
                    if (i < lens[b])
                        ck_assert_msg(fabs(sum - 1) < 1e-5, "row sums to %g", sum);
                }
    }
    {
        /* four heads on layer 3 */
        seqcls_tensor_t *w4 = NULL;
        int64_t s4[4] = {B, 4, T, T};
        OK(seqcls_tensor_create(&w4, SEQCLS_F32, 4, s4));
        OK(seqcls_self_attention_weights(m, 3, w4));
        seqcls_tensor_free(w4);
    }
    /* a changed option invalidates the last forward */
    OK(seqcls_layer_set_float(m, 2, SEQCLS_OPT_DROPOUT, 0.5f));
    FAILS(SEQCLS_E_STATE, "no forward", seqcls_self_attention_weights(m, 2, w));
    seqcls_model_free(m);
    seqcls_tensor_free(x);
    seqcls_tensor_free(w);
    seqcls_tensor_free(ids);
    seqcls_tensor_free(p);
}
END_TEST

/* ---- stacks that learn ---- */

/* Is token 1 anywhere in the sequence?  Embedding -> 2 or 3 encoder
 * layers -> pooling -> output(1), Adam; accuracy on the training rows. */
static double learn_presence(int nlayers, int pool)
{
    enum { N = 64, T = 10, V = 12, D = 16 };
    seqcls_model_t *m = NULL;
    seqcls_optimizer_t *o = NULL;
    seqcls_tensor_t *ids = tu_tensor(SEQCLS_I32, 2, N, T, 0), *y = tu_tensor(SEQCLS_I32, 1, N, 0, 0);
    seqcls_tensor_t *probs = tu_tensor(SEQCLS_F32, 2, N, 1, 0);
    int32_t lens[N], *tok = seqcls_tensor_data(ids), *lab = seqcls_tensor_data(y);
    uint64_t s = 5;
    int i, t, step, right = 0;
    float loss;
    for (i = 0; i < N; i++) {
        lens[i] = 2 + (int32_t)(tu_next(&s) % (T - 1));
        lab[i] = i % 2;
        for (t = 0; t < T; t++)
            tok[i * T + t] = t < lens[i] ? 2 + (int32_t)(tu_next(&s) % (V - 2)) : 0;
        if (lab[i])
            tok[i * T + (int)(tu_next(&s) % (uint64_t)lens[i])] = 1;
    }
    OK(seqcls_model_create(&m, 17));
    OK(seqcls_add_embedding(m, V, D, 0, NULL));
    if (pool == SEQCLS_POOL_FIRST)
        OK(seqcls_add_positional_encoding(m, SEQCLS_POS_LEARNED, T, NULL));
    for (i = 0; i < nlayers; i++)
        OK(seqcls_add_transformer_encoder(m, 2, 32, i % 2 ? SEQCLS_NORM_FIRST : 0, NULL));
    OK(seqcls_add_pooling(m, pool, NULL));
    OK(seqcls_add_output(m, 1, NULL));
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, 3e-3f));
    for (step = 0; step < 150; step++) {
        OK(seqcls_zero_grad(m));
        OK(seqcls_forward(m, ids, lens, NULL, 1));
        OK(seqcls_loss_backward(m, y, &loss));
        OK(seqcls_optimizer_step(o, m));
    }
    OK(seqcls_predict(m, ids, lens, probs, NULL));
    for (i = 0; i < N; i++)
        right += (((real_t *)seqcls_tensor_data(probs))[i] >= 0.5f) == lab[i];
    seqcls_optimizer_free(o);
    seqcls_model_free(m);
    seqcls_tensor_free(ids);
    seqcls_tensor_free(y);
    seqcls_tensor_free(probs);
    return (double)right / N;
}

START_TEST(stacks_learn)
{
    double a2 = learn_presence(2, SEQCLS_POOL_MEAN), a3 = learn_presence(3, SEQCLS_POOL_FIRST);
    ck_assert_msg(a2 >= 0.95, "2 layers, mean pooling: accuracy %.3f", a2);
    ck_assert_msg(a3 >= 0.95, "3 layers, first step: accuracy %.3f", a3);
}
END_TEST

/* ---- dropout, site by site ----
 *
 * With weights chosen so that the layer's output is ones through one
 * dropout site (x = 0, every other path zero), pooling the first step and
 * an identity output show the masks.  One rate p serves all four sites,
 * so a value that passes the attention block also passes dropout1, and
 * one that passes the feed-forward's inner dropout also passes dropout2:
 *
 *   site 1 (after attention), 3 (after feed-forward): 0 or s = 1 / (1 - p),
 *       0 with probability p;
 *   site 2 (inside feed-forward): 0 or s^2, 0 with probability 1 - (1 - p)^2;
 *   site 0 (attention weights; Q = K = 0, so the weights are 1/n, V = 1):
 *       s^2 k / n with k ~ Binomial(n, 1 - p) kept keys, 0 with probability
 *       1 - (1 - p)(1 - p^n).
 *
 * The mean is 1 everywhere, rows differ, and inference gives exactly 1. */

enum { DB = 1500, DD = 8, DN = 8 };

static void fill(seqcls_model_t *m, const char *name, real_t v)
{
    int64_t n, k;
    real_t *x = param_data(m, name, &n);
    for (k = 0; k < n; k++)
        x[k] = v;
}

static void dropout_site(int site, float rate)
{
    seqcls_model_t *m = NULL;
    const int T = site == 0 ? DN : 1;
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, DB, T, DD), *lg = tu_tensor(SEQCLS_F32, 2, DB, DD, 0);
    const real_t keep = (real_t)(1.0 / (1.0 - rate));
    real_t *w;
    double zeros = 0, sum = 0, sumsq = 0, n = (double)DB * DD, p = rate, tol, want;
    int i, k, l, differ = 0;
    OK(seqcls_model_create(&m, 23));
    OK(seqcls_add_input(m, DD, NULL));
    OK(seqcls_add_transformer_encoder(m, 2, DD, SEQCLS_NORM_FIRST, &l));
    OK(seqcls_layer_set_float(m, l, SEQCLS_OPT_DROPOUT, rate));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_FIRST, NULL));
    OK(seqcls_add_output(m, DD, NULL));
    fill(m, "1.transformer.self_attn.in_proj_weight", 0);
    fill(m, "1.transformer.self_attn.in_proj_bias", 0);
    fill(m, "1.transformer.self_attn.out_proj.weight", 0);
    fill(m, "1.transformer.self_attn.out_proj.bias", 0);
    fill(m, "1.transformer.linear1.weight", 0);
    fill(m, "1.transformer.linear1.bias", 0);
    fill(m, "1.transformer.linear2.weight", 0);
    fill(m, "1.transformer.linear2.bias", 0);
    fill(m, "3.output.weight", 0);
    fill(m, "3.output.bias", 0);
    w = param_data(m, "3.output.weight", NULL);
    for (k = 0; k < DD; k++)
        w[k * DD + k] = 1;
    switch (site) {
    case 0:   /* attention: V = 1, out_proj = identity */
        w = param_data(m, "1.transformer.self_attn.in_proj_bias", NULL);
        for (k = 2 * DD; k < 3 * DD; k++)
            w[k] = 1;
        w = param_data(m, "1.transformer.self_attn.out_proj.weight", NULL);
        for (k = 0; k < DD; k++)
            w[k * DD + k] = 1;
        break;
    case 1:   /* after the attention block: its output is out_proj.bias = 1 */
        fill(m, "1.transformer.self_attn.out_proj.bias", 1);
        break;
    case 2:   /* inside the feed-forward block: relu(b1 = 1), linear2 = identity */
        fill(m, "1.transformer.linear1.bias", 1);
        w = param_data(m, "1.transformer.linear2.weight", NULL);
        for (k = 0; k < DD; k++)
            w[k * DD + k] = 1;
        break;
    default:  /* after the feed-forward block: its output is linear2.bias = 1 */
        fill(m, "1.transformer.linear2.bias", 1);
        break;
    }
    memset(seqcls_tensor_data(x), 0, (size_t)DB * T * DD * sizeof(real_t));
    OK(seqcls_forward(m, x, NULL, lg, 0));
    for (i = 0; i < DB * DD; i++)
        ck_assert(((real_t *)seqcls_tensor_data(lg))[i] == 1);
    OK(seqcls_forward(m, x, NULL, lg, 1));
    for (i = 0; i < DB * DD; i++) {
        const real_t v = ((real_t *)seqcls_tensor_data(lg))[i];
        if (site == 0) {
            const double kept = v * DN / ((double)keep * keep);
            ck_assert_msg(fabs(kept - floor(kept + 0.5)) < 1e-4, "value %g", (double)v);
        } else {
            ck_assert_msg(v == 0 || v == (site == 2 ? keep * keep : keep), "value %g", (double)v);
        }
        zeros += v == 0;
        sum += v;
        sumsq += (double)v * v;
        differ += v != ((real_t *)seqcls_tensor_data(lg))[i % DD];
    }
    want = site == 0 ? 1 - (1 - p) * (1 - pow(p, DN)) : site == 2 ? 1 - (1 - p) * (1 - p) : p;
    /* within 5 standard deviations */
    tol = 5 * sqrt(want * (1 - want) / n);
    ck_assert_msg(fabs(zeros / n - want) < tol, "site %d: %.4f of the values are 0, not %.4f",
                  site, zeros / n, want);
    tol = 5 * sqrt((sumsq / n - 1) / n);
    ck_assert_msg(fabs(sum / n - 1) < tol, "site %d: mean %.4f", site, sum / n);
    ck_assert(differ > 0);
    seqcls_model_free(m);
    seqcls_tensor_free(x);
    seqcls_tensor_free(lg);
}

START_TEST(dropout_sites)
{
    int site;
    for (site = 0; site < 4; site++) {
        dropout_site(site, 0.25f);
        dropout_site(site, 0.6f);
    }
}
END_TEST

/* ---- positional encodings ---- */

START_TEST(positional_errors_and_options)
{
    seqcls_model_t *m = NULL;
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, 2, 11, 4), *lg = tu_tensor(SEQCLS_F32, 2, 2, 1, 0);
    int32_t lens[2] = {3, 2};
    int l;
    OK(seqcls_model_create(&m, 1));
    FAILS(SEQCLS_E_INVALID_ARG, "model is NULL",
          seqcls_add_positional_encoding(NULL, SEQCLS_POS_SINUSOIDAL, 10, NULL));
    FAILS(SEQCLS_E_STATE, "first layer",
          seqcls_add_positional_encoding(m, SEQCLS_POS_SINUSOIDAL, 10, NULL));
    OK(seqcls_add_input(m, 4, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "unknown positional encoding kind 3",
          seqcls_add_positional_encoding(m, 3, 10, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "unknown positional encoding kind 0",
          seqcls_add_positional_encoding(m, 0, 10, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "max_len (0)",
          seqcls_add_positional_encoding(m, SEQCLS_POS_SINUSOIDAL, 0, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "max_len (16777217)",
          seqcls_add_positional_encoding(m, SEQCLS_POS_LEARNED, (1 << 24) + 1, NULL));
    ck_assert_int_eq(seqcls_layer_count(m), 1);
    OK(seqcls_add_positional_encoding(m, SEQCLS_POS_LEARNED, 10, &l));
    ck_assert_int_eq(seqcls_layer_kind(m, l), SEQCLS_LAYER_POSITIONAL_ENCODING);
    ck_assert_int_eq(get_int(m, l, SEQCLS_OPT_KIND), SEQCLS_POS_LEARNED);
    ck_assert_int_eq(get_int(m, l, SEQCLS_OPT_MAX_LEN), 10);
    ck_assert_int_eq(get_int(m, l, SEQCLS_OPT_UNITS), 4);
    ck_assert_int_eq(get_int(m, l, SEQCLS_OPT_SCALE_INPUT), 0);
    ck_assert_int_eq(seqcls_param_count(m), 1);
    ck_assert_str_eq(seqcls_param_name(m, 0), "1.positional.weight");
    FAILS(SEQCLS_E_INVALID_ARG, "takes 0 or 1, not 2",
          seqcls_layer_set_int(m, l, SEQCLS_OPT_SCALE_INPUT, 2));
    FAILS(SEQCLS_E_INVALID_ARG, "fixed by its constructor",
          seqcls_layer_set_int(m, l, SEQCLS_OPT_MAX_LEN, 20));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    FAILS(SEQCLS_E_STATE, "cannot take a vector",
          seqcls_add_positional_encoding(m, SEQCLS_POS_SINUSOIDAL, 10, NULL));
    OK(seqcls_add_output(m, 1, NULL));
    /* more steps than max_len: refused, even when the rows are shorter */
    tu_fill_real(x, -1, 1, 2);
    FAILS(SEQCLS_E_SHAPE, "takes at most 10 steps, the input has T = 11",
          seqcls_forward(m, x, lens, lg, 0));
    seqcls_model_free(m);
    seqcls_tensor_free(x);
    seqcls_tensor_free(lg);
}
END_TEST

/* The sinusoidal table on zeros, step by step (rows of length t + 1,
 * pooled at their last step, identity output), with and without the
 * sqrt(d) scaling of the input. */
START_TEST(sinusoidal_values)
{
    enum { D = 6, T = 40 };
    seqcls_model_t *m = NULL;
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, T, T, D), *lg = tu_tensor(SEQCLS_F32, 2, T, D, 0);
    int32_t lens[T];
    real_t *w, *xd = seqcls_tensor_data(x);
    int t, i, l, scale;
    OK(seqcls_model_create(&m, 1));
    OK(seqcls_add_input(m, D, NULL));
    OK(seqcls_add_positional_encoding(m, SEQCLS_POS_SINUSOIDAL, T, &l));
    ck_assert_int_eq(seqcls_param_count(m), 0);
    OK(seqcls_add_pooling(m, SEQCLS_POOL_LAST, NULL));
    OK(seqcls_add_output(m, D, NULL));
    w = param_data(m, "3.output.weight", NULL);
    memset(w, 0, D * D * sizeof(real_t));
    for (i = 0; i < D; i++)
        w[i * D + i] = 1;
    memset(param_data(m, "3.output.bias", NULL), 0, D * sizeof(real_t));
    for (t = 0; t < T; t++)
        lens[t] = t + 1;
    for (scale = 0; scale < 2; scale++) {
        for (i = 0; i < T * T * D; i++)
            xd[i] = (real_t)(0.01 * (i % 7));
        OK(seqcls_layer_set_int(m, l, SEQCLS_OPT_SCALE_INPUT, scale));
        OK(seqcls_forward(m, x, lens, lg, 0));
        for (t = 0; t < T; t++)
            for (i = 0; i < D; i++) {
                const double angle = t * exp((i - i % 2) * (-log(10000.0) / D));
                const double pe = i % 2 ? cos(angle) : sin(angle);
                const double in = xd[((size_t)t * T + t) * D + i] * (scale ? sqrt((double)D) : 1);
                const double got = ((real_t *)seqcls_tensor_data(lg))[t * D + i];
                ck_assert_msg(fabs(got - (pe + in)) < 1e-5, "step %d, %d: %g, not %g", t, i, got,
                              pe + in);
            }
    }
    seqcls_model_free(m);
    seqcls_tensor_free(x);
    seqcls_tensor_free(lg);
}
END_TEST

/* ---- pooling the first step ---- */

START_TEST(pool_first)
{
    seqcls_model_t *m = NULL, *back = NULL;
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, 3, 4, 3), *lg = tu_tensor(SEQCLS_F32, 2, 3, 3, 0);
    const int32_t lens[3] = {4, 1, 0};
    real_t *w;
    void *buf = NULL;
    size_t len;
    int b, k;
    OK(seqcls_model_create(&m, 1));
    OK(seqcls_add_input(m, 3, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_FIRST, NULL));
    OK(seqcls_add_output(m, 3, NULL));
    w = param_data(m, "2.output.weight", NULL);
    memset(w, 0, 9 * sizeof(real_t));
    for (k = 0; k < 3; k++)
        w[k * 3 + k] = 1;
    memset(param_data(m, "2.output.bias", NULL), 0, 3 * sizeof(real_t));
    tu_fill_real(x, -1, 1, 4);
    OK(seqcls_forward(m, x, lens, lg, 0));
    for (b = 0; b < 3; b++)
        for (k = 0; k < 3; k++)
            ck_assert(((real_t *)seqcls_tensor_data(lg))[b * 3 + k] ==
                      (lens[b] ? ((real_t *)seqcls_tensor_data(x))[b * 12 + k] : 0));
    describe_is(m, 1, "pooling(first) -> vector of 3");
    OK(seqcls_model_save_buffer(m, &buf, &len));
    OK(seqcls_model_load_buffer(&back, buf, len));
    ck_assert_int_eq(get_int(back, 1, SEQCLS_OPT_KIND), SEQCLS_POOL_FIRST);
    FAILS(SEQCLS_E_INVALID_ARG, "unknown pooling kind 5", seqcls_add_pooling(m, 5, NULL));
    seqcls_free(buf);
    seqcls_model_free(back);
    seqcls_model_free(m);
    seqcls_tensor_free(x);
    seqcls_tensor_free(lg);
}
END_TEST

/* ---- streams ----
 *
 * Pooling the first step and positional encodings run step by step (the
 * position of a pushed step is the number pushed before it): chunks of
 * any size give seqcls_predict's probabilities for the whole sequence,
 * bit for bit; a stream past max_len is refused and left as it was; a
 * transformer layer cannot stream. */

static void stream_equals_predict(seqcls_model_t *m, int ids, int F, int C)
{
    enum { TS = 13 };
    static const int chunks[] = {1, 4, 0, 2, 6};
    seqcls_stream_t *st = NULL;
    seqcls_tensor_t *x = ids ? tu_tensor(SEQCLS_I32, 2, 1, TS, 0) : tu_tensor(SEQCLS_F32, 3, 1, TS, F);
    seqcls_tensor_t *whole = tu_tensor(SEQCLS_F32, 2, 1, C, 0), *p = tu_tensor(SEQCLS_F32, 1, C, 0, 0);
    int32_t len = TS;
    int i, at = 0;
    if (ids)
        tu_fill_ids(x, 1, 9, 3);
    else
        tu_fill_real(x, -1, 1, 3);
    OK(seqcls_predict(m, x, &len, whole, NULL));
    OK(seqcls_stream_create(&st, m));
    for (i = 0; i < (int)(sizeof chunks / sizeof chunks[0]); i++) {
        seqcls_tensor_t *part = NULL;
        int64_t shape[2] = {chunks[i], F};
        if (ids)
            OK(seqcls_tensor_wrap(&part, SEQCLS_I32, 1, shape,
                                  (int32_t *)seqcls_tensor_data(x) + at));
        else
            OK(seqcls_tensor_wrap(&part, SEQCLS_F32, 2, shape,
                                  (real_t *)seqcls_tensor_data(x) + (size_t)at * F));
        OK(seqcls_stream_push(st, part, chunks[i], p));
        at += chunks[i];
        seqcls_tensor_free(part);
    }
    ck_assert_int_eq(at, TS);
    ck_assert_msg(memcmp(seqcls_tensor_data(p), seqcls_tensor_data(whole), C * sizeof(real_t)) == 0,
                  "the stream's probabilities differ from seqcls_predict's");
    seqcls_stream_free(st);
    seqcls_tensor_free(x);
    seqcls_tensor_free(whole);
    seqcls_tensor_free(p);
}

START_TEST(streams)
{
    seqcls_model_t *m = NULL;
    seqcls_stream_t *st = NULL;
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 2, 9, 3, 0), *p = tu_tensor(SEQCLS_F32, 1, 2, 0, 0);
    seqcls_tensor_t *q = tu_tensor(SEQCLS_F32, 1, 2, 0, 0);
    int l;
    /* ids -> sinusoidal (scaled) -> lstm(seq) -> pooling first -> output(3) */
    OK(seqcls_model_create(&m, 5));
    OK(seqcls_add_embedding(m, 10, 6, 0, NULL));
    OK(seqcls_add_positional_encoding(m, SEQCLS_POS_SINUSOIDAL, 16, &l));
    OK(seqcls_layer_set_int(m, l, SEQCLS_OPT_SCALE_INPUT, 1));
    OK(seqcls_add_lstm(m, 5, SEQCLS_RETURN_SEQUENCES, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_FIRST, NULL));
    OK(seqcls_add_output(m, 3, NULL));
    stream_equals_predict(m, 1, 1, 3);
    seqcls_model_free(m);
    /* floats -> learned positions -> gru(seq) -> pooling last -> output(2) */
    OK(seqcls_model_create(&m, 6));
    OK(seqcls_add_input(m, 3, NULL));
    OK(seqcls_add_positional_encoding(m, SEQCLS_POS_LEARNED, 13, NULL));
    OK(seqcls_add_gru(m, 4, SEQCLS_RETURN_SEQUENCES, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_LAST, NULL));
    OK(seqcls_add_output(m, 2, NULL));
    stream_equals_predict(m, 0, 3, 2);
    /* past max_len (13): refused, and the stream is as before */
    tu_fill_real(x, -1, 1, 4);
    OK(seqcls_stream_create(&st, m));
    OK(seqcls_stream_push(st, x, 9, p));
    FAILS(SEQCLS_E_SHAPE, "takes at most 13 steps, the stream would reach 18",
          seqcls_stream_push(st, x, 9, q));
    OK(seqcls_stream_push(st, x, 0, q));
    ck_assert(memcmp(seqcls_tensor_data(p), seqcls_tensor_data(q), 2 * sizeof(real_t)) == 0);
    OK(seqcls_stream_push(st, x, 4, q));
    seqcls_stream_free(st);
    seqcls_model_free(m);
    /* a transformer layer needs the whole sequence */
    OK(seqcls_model_create(&m, 7));
    OK(seqcls_add_input(m, 4, NULL));
    OK(seqcls_add_transformer_encoder(m, 2, 8, 0, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_FIRST, NULL));
    OK(seqcls_add_output(m, 2, NULL));
    st = (seqcls_stream_t *)1;
    FAILS(SEQCLS_E_UNSUPPORTED, "layer 1 (transformer) cannot run step by step",
          seqcls_stream_create(&st, m));
    ck_assert_ptr_null(st);
    seqcls_model_free(m);
    seqcls_tensor_free(x);
    seqcls_tensor_free(p);
    seqcls_tensor_free(q);
}
END_TEST

Suite *transformer_suite(void)
{
    Suite *s = suite_create("transformer");
    TCase *tc = tcase_create("transformer");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, constructor_errors);
    tcase_add_test(tc, options);
    tcase_add_test(tc, descriptions);
    tcase_add_test(tc, parameters_and_initialisation);
    tcase_add_test(tc, save_load_round_trip);
    tcase_add_test(tc, padding_changes_nothing);
    tcase_add_test(tc, zero_length_rows);
    tcase_add_test(tc, thread_count_changes_nothing);
    tcase_add_test(tc, self_attention_weights);
    tcase_add_test(tc, stacks_learn);
    tcase_add_test(tc, dropout_sites);
    tcase_add_test(tc, positional_errors_and_options);
    tcase_add_test(tc, sinusoidal_values);
    tcase_add_test(tc, pool_first);
    tcase_add_test(tc, streams);
    suite_add_tcase(s, tc);
    return s;
}
