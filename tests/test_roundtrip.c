/*
 * test_roundtrip.c -- every recurrent, attention and batch-norm
 * configuration survives save and load exactly: the same predictions bit
 * for bit, and the same bytes when saved again.
 */
#include <stdlib.h>

#include "testutil.h"

#define B 5
#define T 6
#define F 3

static const int32_t lens[B] = {6, 0, 3, 1, 6};

static seqcls_model_t *model(int variant)
{
    seqcls_model_t *m = NULL;
    int l;
    OK(seqcls_model_create(&m, 100 + (uint64_t)variant));
    OK(seqcls_add_input(m, F, NULL));
    switch (variant) {
    case 0:
        OK(seqcls_add_lstm(m, 4, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
        OK(seqcls_add_attention(m, SEQCLS_ATTN_BAHDANAU, 3, NULL));
        OK(seqcls_add_batchnorm(m, &l));
        OK(seqcls_layer_set_float(m, l, SEQCLS_OPT_BN_MOMENTUM, 0.3f));
        OK(seqcls_layer_set_float(m, l, SEQCLS_OPT_BN_EPSILON, 1e-3f));
        break;
    case 1:
        OK(seqcls_add_gru(m, 4, SEQCLS_GRU_RESET_BEFORE | SEQCLS_RETURN_SEQUENCES, &l));
        OK(seqcls_layer_set_int(m, l, SEQCLS_OPT_RECURRENT_ACTIVATION, SEQCLS_ACT_HARD_SIGMOID));
        OK(seqcls_layer_set_float(m, l, SEQCLS_OPT_INPUT_DROPOUT, 0.25f));
        OK(seqcls_add_attention(m, SEQCLS_ATTN_DOT, 0, NULL));
        break;
    case 2:
        OK(seqcls_add_lstm(m, 3, SEQCLS_BIDIRECTIONAL | SEQCLS_MERGE_SUM | SEQCLS_RETURN_SEQUENCES, &l));
        OK(seqcls_layer_set_int(m, l, SEQCLS_OPT_RECURRENT_ACTIVATION, SEQCLS_ACT_RELU));
        OK(seqcls_add_attention(m, SEQCLS_ATTN_GENERAL, 0, NULL));
        break;
    case 3:
        OK(seqcls_add_gru(m, 3, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
        OK(seqcls_add_attention(m, SEQCLS_ATTN_FEATURE_TIME, T, NULL));
        OK(seqcls_add_lstm(m, 3, 0, NULL));
        break;
    default:
        OK(seqcls_add_dense(m, 4, SEQCLS_ACT_TANH, NULL));
        OK(seqcls_add_attention(m, SEQCLS_ATTN_LEARNED_QUERY, 5, NULL));
        OK(seqcls_add_batchnorm(m, NULL));
        break;
    }
    OK(seqcls_add_output(m, 2, NULL));
    return m;
}

START_TEST(recurrent_attention_batchnorm_round_trip)
{
    seqcls_model_t *m = model(_i), *back = NULL;
    seqcls_optimizer_t *o = NULL;
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, B, T, F), *y = tu_tensor(SEQCLS_I32, 1, B, 0, 0);
    seqcls_tensor_t *p1 = tu_tensor(SEQCLS_F32, 2, B, 2, 0), *p2 = tu_tensor(SEQCLS_F32, 2, B, 2, 0);
    seqcls_tensor_t *a1 = tu_tensor(SEQCLS_F32, 2, B, T, 0), *a2 = tu_tensor(SEQCLS_F32, 2, B, T, 0);
    void *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0;
    int s;
    tu_fill_real(x, -1, 1, 7);
    ((int32_t *)seqcls_tensor_data(y))[0] = 1;
    /* a few training steps, so batch-norm statistics and weights move */
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, 0.05f));
    for (s = 0; s < 3; s++) {
        OK(seqcls_zero_grad(m));
        OK(seqcls_forward(m, x, _i == 3 ? NULL : lens, NULL, 1));
        OK(seqcls_loss_backward(m, y, NULL));
        OK(seqcls_optimizer_step(o, m));
    }
    OK(seqcls_model_save_buffer(m, &buf, &len));
    OK(seqcls_model_load_buffer(&back, buf, len));
    OK(seqcls_predict(m, x, _i == 3 ? NULL : lens, p1, a1));
    OK(seqcls_predict(back, x, _i == 3 ? NULL : lens, p2, a2));
    ck_assert(memcmp(seqcls_tensor_data(p1), seqcls_tensor_data(p2), B * 2 * sizeof(real_t)) == 0);
    ck_assert(memcmp(seqcls_tensor_data(a1), seqcls_tensor_data(a2), B * T * sizeof(real_t)) == 0);
    OK(seqcls_model_save_buffer(back, &buf2, &len2));
    ck_assert_uint_eq(len, len2);
    ck_assert(memcmp(buf, buf2, len) == 0);
    seqcls_free(buf);
    seqcls_free(buf2);
    seqcls_optimizer_free(o);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    seqcls_tensor_free(p1);
    seqcls_tensor_free(p2);
    seqcls_tensor_free(a1);
    seqcls_tensor_free(a2);
    seqcls_model_free(m);
    seqcls_model_free(back);
}
END_TEST

Suite *roundtrip_suite(void)
{
    Suite *s = suite_create("round trip");
    TCase *tc = tcase_create("every layer kind");
    tcase_add_loop_test(tc, recurrent_attention_batchnorm_round_trip, 0, 5);
    suite_add_tcase(s, tc);
    return s;
}
