/*
 * test_grad_rnn.c -- gradient checks of the LSTM and GRU layers (double
 * build, harness in gradcheck.h): both GRU variants, one and two
 * directions, every merge (concat, sum, and since 1.1 ave and mul),
 * sequences and final states, stacking,
 * lengths 0 to T, every recurrent activation, input dropout and (1.1)
 * recurrent dropout with fixed masks, and the gradient of the final
 * states that an attention query sends back.
 */
#include "gradcheck.h"

/* The layer ops themselves, for the final-state gradient (no layer of
 * this branch consumes `fin` yet). */
#include "../src/internal.h"

/* lengths covering 0, 1, a middle value and T, unsorted */
static const int32_t lens6[6] = {5, 0, 3, 1, 5, 2};

enum { LSTM, GRU, GRU_BEFORE };

static int add_rnn(seqcls_model_t *m, int cell, int hidden, unsigned flags, int *layer)
{
    if (cell == LSTM)
        return seqcls_add_lstm(m, hidden, flags, layer);
    return seqcls_add_gru(m, hidden, flags | (cell == GRU_BEFORE ? SEQCLS_GRU_RESET_BEFORE : 0u),
                          layer);
}

/* input(3) -> rnn(4, flags) [-> pooling] -> output(classes), lengths lens6 */
static void check_rec(int cell, unsigned flags, int pool, int act, float dropout, float rec,
                      int classes, int with_loss)
{
    gradcheck_t c;
    int layer;
    setup_feats(&c, 6, 5, 3, classes, with_loss);
    OK(seqcls_model_create(&c.m, 21));
    OK(seqcls_add_input(c.m, 3, NULL));
    OK(add_rnn(c.m, cell, 4, flags, &layer));
    if (act)
        OK(seqcls_layer_set_int(c.m, layer, SEQCLS_OPT_RECURRENT_ACTIVATION, act));
    if (dropout > 0)
        OK(seqcls_layer_set_float(c.m, layer, SEQCLS_OPT_INPUT_DROPOUT, dropout));
    if (rec > 0)   /* the harness reseeds before every evaluation: fixed masks */
        OK(seqcls_layer_set_float(c.m, layer, SEQCLS_OPT_RECURRENT_DROPOUT, rec));
    if (flags & SEQCLS_RETURN_SEQUENCES)
        OK(seqcls_add_pooling(c.m, pool, NULL));
    OK(seqcls_add_output(c.m, classes, NULL));
    c.lens = lens6;
    printf("  %s flags 0x%x pool %d act %d dropout %.2f recurrent dropout %.2f:\n",
           cell == LSTM ? "lstm" : cell == GRU ? "gru" : "gru reset-before", flags, pool, act,
           (double)dropout, (double)rec);
    gradcheck(&c, 1);
    teardown(&c);
}

static void check_one(int cell, unsigned flags, int pool, int act, float dropout, int classes,
                      int with_loss)
{
    check_rec(cell, flags, pool, act, dropout, 0, classes, with_loss);
}

#define BI SEQCLS_BIDIRECTIONAL
#define SEQ SEQCLS_RETURN_SEQUENCES
#define SUM SEQCLS_MERGE_SUM
#define AVE SEQCLS_MERGE_AVE
#define MUL SEQCLS_MERGE_MUL

START_TEST(final_state_each_cell)
{
    int cell = _i;
    check_one(cell, 0, 0, 0, 0, 1, 1);
    check_one(cell, BI, 0, 0, 0, 2, 0);
    check_one(cell, BI | SUM, 0, 0, 0, 3, 1);
}
END_TEST

START_TEST(sequences_each_cell)
{
    int cell = _i;
    check_one(cell, SEQ, SEQCLS_POOL_LAST, 0, 0, 2, 0);
    check_one(cell, SEQ | BI, SEQCLS_POOL_MEAN, 0, 0, 3, 1);
    check_one(cell, SEQ | BI | SUM, SEQCLS_POOL_MAX, 0, 0, 1, 1);
}
END_TEST

/* Keras' merge modes ave and mul (1.1), of final states and sequences */
START_TEST(merge_ave_mul)
{
    int cell = _i;
    check_one(cell, BI | AVE, 0, 0, 0, 2, 0);
    check_one(cell, BI | MUL, 0, 0, 0, 3, 1);
    check_one(cell, SEQ | BI | AVE, SEQCLS_POOL_MEAN, 0, 0, 2, 1);
    check_one(cell, SEQ | BI | MUL, SEQCLS_POOL_LAST, 0, 0, 3, 0);
}
END_TEST

START_TEST(recurrent_activations)
{
    int cell = _i;
    check_one(cell, BI, 0, SEQCLS_ACT_HARD_SIGMOID, 0, 2, 0);
    check_one(cell, SEQ | BI, SEQCLS_POOL_MEAN, SEQCLS_ACT_RELU, 0, 2, 0);
    check_one(cell, 0, 0, SEQCLS_ACT_SIGMOID, 0, 1, 1);
}
END_TEST

START_TEST(input_dropout)
{
    int cell = _i;
    check_one(cell, BI | SEQ, SEQCLS_POOL_MEAN, 0, 0.3f, 2, 0);
    check_one(cell, 0, 0, 0, 0.5f, 1, 1);
}
END_TEST

/* Keras' recurrent_dropout (1.1): masks on h_{t-1} in the products */
START_TEST(recurrent_dropout)
{
    int cell = _i;
    check_rec(cell, BI | SEQ, SEQCLS_POOL_MEAN, 0, 0, 0.3f, 2, 0);
    check_rec(cell, 0, 0, 0, 0.2f, 0.5f, 1, 1);
    check_rec(cell, BI | MUL, 0, SEQCLS_ACT_HARD_SIGMOID, 0, 0.25f, 3, 1);
    check_rec(cell, SEQ, SEQCLS_POOL_LAST, 0, 0.1f, 0.4f, 2, 0);
}
END_TEST

/* Two recurrent layers, and an embedding in front (ids, padding row). */
START_TEST(stacked)
{
    gradcheck_t c;
    int cell = _i;
    setup_feats(&c, 6, 5, 3, 2, 0);
    OK(seqcls_model_create(&c.m, 22));
    OK(seqcls_add_input(c.m, 3, NULL));
    OK(add_rnn(c.m, cell, 3, BI | SEQ, NULL));
    OK(add_rnn(c.m, (cell + 1) % 3, 4, BI | SUM, NULL));
    OK(seqcls_add_output(c.m, 2, NULL));
    c.lens = lens6;
    printf("  stacked, first cell %d:\n", cell);
    gradcheck(&c, 1);
    teardown(&c);

    setup_ids(&c, 6, 5, 9, 3, 1);
    OK(seqcls_model_create(&c.m, 23));
    OK(seqcls_add_embedding(c.m, 9, 3, 0, NULL));
    c.skip_param = 0;
    c.skip_from = 0;
    c.skip_to = 3;
    OK(add_rnn(c.m, cell, 4, SEQ, NULL));
    OK(seqcls_add_dropout(c.m, 0.2f, NULL));
    OK(add_rnn(c.m, (cell + 2) % 3, 3, BI | SEQ, NULL));
    OK(seqcls_add_pooling(c.m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(c.m, 3, NULL));
    c.lens = lens6;
    printf("  embedding, stacked with dropout between, first cell %d:\n", cell);
    gradcheck(&c, 0);
    teardown(&c);
}
END_TEST

/* ---- the layer alone, with gradient through the sequence and the final states ---- */

typedef struct {
    layer_t *L;
    workspace_t ws;
    value_t in, out;
    real *dy, *dfin;
} layer_check_t;

/* sum(dy * y) + sum(dfin * fin) */
static double layer_objective(layer_check_t *k)
{
    run_ctx_t ctx = {1, NULL, "test"};
    double s = 0;
    size_t i, ny = (size_t)k->in.B * k->in.T * k->L->out_F, nf = (size_t)k->in.B * k->L->out_fin_F;
    OK(k->L->ops->forward(k->L, &k->ws, &k->in, &k->out, &ctx));
    ck_assert_int_eq(k->out.fin_F, k->L->out_fin_F);
    for (i = 0; i < ny; i++)
        s += k->dy[i] * k->out.x[i];
    for (i = 0; i < nf; i++)
        s += k->dfin[i] * k->out.fin[i];
    return s;
}

static double layer_check_values(layer_check_t *k, real *x, const real *analytic, size_t n,
                                 const char *what)
{
    size_t stride = n > MAX_PER_PARAM ? n / MAX_PER_PARAM : 1, j;
    double worst = 0;
    for (j = 0; j < n; j += stride) {
        real keep = x[j];
        double fp, fm, num, err;
        x[j] = keep + STEP;
        fp = layer_objective(k);
        x[j] = keep - STEP;
        fm = layer_objective(k);
        x[j] = keep;
        num = (fp - fm) / (2 * STEP);
        err = rel_error(analytic[j], num);
        ck_assert_msg(err <= TOL, "%s[%zu]: analytic %.10g numeric %.10g (rel err %.3g)", what, j,
                      analytic[j], num, err);
        worst = fmax(worst, err);
    }
    return worst;
}

static void check_layer_fin(int cell, unsigned flags)
{
    const int B = 6, T = 5, F = 3;
    seqcls_model_t *m = NULL;
    layer_check_t k;
    run_ctx_t ctx = {1, NULL, "test"};
    value_t dout, din;
    real *x, *dx;
    uint64_t seed = 5;
    size_t i, nx = (size_t)B * T * F, ny, nf;
    double worst = 0;
    int p, b, t;

    OK(seqcls_model_create(&m, 31));
    OK(seqcls_add_input(m, F, NULL));
    OK(add_rnn(m, cell, 4, flags | SEQ, NULL));
    memset(&k, 0, sizeof k);
    k.L = m->layers[1];
    ny = (size_t)B * T * k.L->out_F;
    nf = (size_t)B * k.L->out_fin_F;
    x = malloc(nx * sizeof *x);
    dx = malloc(nx * sizeof *dx);
    k.dy = malloc(ny * sizeof *k.dy);
    k.dfin = malloc(nf * sizeof *k.dfin);
    for (i = 0; i < nx; i++)
        x[i] = -1.5 + 3 * tu_uniform(&seed);
    for (i = 0; i < ny; i++)
        k.dy[i] = -1 + 2 * tu_uniform(&seed);
    for (i = 0; i < nf; i++)
        k.dfin[i] = -1 + 2 * tu_uniform(&seed);
    k.in.kind = VAL_SEQ;
    k.in.B = B;
    k.in.T = T;
    k.in.F = F;
    k.in.x = x;
    k.in.len = lens6;

    for (p = 0; p < k.L->np; p++)
        memset(k.L->g[p], 0, k.L->wn[p] * sizeof(real));
    layer_objective(&k);
    memset(&dout, 0, sizeof dout);
    dout = k.out;
    dout.x = k.dy;
    dout.fin = k.dfin;
    OK(k.L->ops->backward(k.L, &k.ws, &k.in, &k.out, &dout, &din, &ctx));
    memcpy(dx, din.x, nx * sizeof *dx);
    for (b = 0; b < B; b++)
        for (t = lens6[b]; t < T; t++)
            for (i = 0; i < (size_t)F; i++)
                ck_assert(dx[((size_t)b * T + t) * F + i] == 0);
    for (p = 0; p < k.L->np; p++) {
        real *g = malloc(k.L->wn[p] * sizeof *g);
        memcpy(g, k.L->g[p], k.L->wn[p] * sizeof *g);
        worst = fmax(worst, layer_check_values(&k, k.L->w[p], g, k.L->wn[p],
                                               seqcls_param_name(m, k.L->p0 + p)));
        free(g);
    }
    worst = fmax(worst, layer_check_values(&k, x, dx, nx, "input"));
    printf("  layer %s flags 0x%x, gradient through sequence and final states: worst relative "
           "error %.2e\n",
           k.L->ops->name, k.L->flags, worst);
    ws_free(&k.ws);
    free(x);
    free(dx);
    free(k.dy);
    free(k.dfin);
    seqcls_model_free(m);
}

START_TEST(final_state_gradient)
{
    int cell = _i;
    check_layer_fin(cell, 0);
    check_layer_fin(cell, BI);
    check_layer_fin(cell, BI | SUM);
    check_layer_fin(cell, BI | AVE);
    check_layer_fin(cell, BI | MUL);
}
END_TEST

Suite *grad_rnn_suite(void)
{
    Suite *s = suite_create("gradient check, recurrent (double)");
    TCase *tc = tcase_create("lstm/gru");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, final_state_each_cell, LSTM, GRU_BEFORE + 1);
    tcase_add_loop_test(tc, sequences_each_cell, LSTM, GRU_BEFORE + 1);
    tcase_add_loop_test(tc, merge_ave_mul, LSTM, GRU_BEFORE + 1);
    tcase_add_loop_test(tc, recurrent_activations, LSTM, GRU_BEFORE + 1);
    tcase_add_loop_test(tc, input_dropout, LSTM, GRU_BEFORE + 1);
    tcase_add_loop_test(tc, recurrent_dropout, LSTM, GRU_BEFORE + 1);
    tcase_add_loop_test(tc, stacked, LSTM, GRU_BEFORE + 1);
    tcase_add_loop_test(tc, final_state_gradient, LSTM, GRU_BEFORE + 1);
    suite_add_tcase(s, tc);
    return s;
}
