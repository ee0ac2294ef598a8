/*
 * test_grad_attention.c -- gradient checks of the attention kinds that
 * take their query from a recurrent layer's final states, so the check
 * also covers the gradient flowing back into that layer through the
 * query (double-precision build, harness in gradcheck.h).
 */
#include "gradcheck.h"

/* lengths covering 0, 1 and T */
static const int32_t lens[5] = {5, 0, 3, 1, 5};

/* Float input -> recurrent(return sequences) [-> dropout] -> attention(kind) -> output. */
static void check_query_attention(int kind, int units, int gru, unsigned flags, int with_dropout)
{
    gradcheck_t c;
    setup_feats(&c, 5, 5, 3, 2, 1);
    OK(seqcls_model_create(&c.m, 31));
    OK(seqcls_add_input(c.m, 3, NULL));
    if (gru)
        OK(seqcls_add_gru(c.m, 4, SEQCLS_RETURN_SEQUENCES | flags, NULL));
    else
        OK(seqcls_add_lstm(c.m, 4, SEQCLS_RETURN_SEQUENCES | flags, NULL));
    if (with_dropout)
        OK(seqcls_add_dropout(c.m, 0.2f, NULL));
    OK(seqcls_add_attention(c.m, kind, units, NULL));
    OK(seqcls_add_output(c.m, 2, NULL));
    c.lens = lens;
    gradcheck(&c, 1);
    teardown(&c);
}

START_TEST(bahdanau_after_bilstm)
{
    check_query_attention(SEQCLS_ATTN_BAHDANAU, 3, 0, SEQCLS_BIDIRECTIONAL, 0);
}
END_TEST

START_TEST(bahdanau_after_gru_and_dropout)
{
    check_query_attention(SEQCLS_ATTN_BAHDANAU, 4, 1, 0, 1);
}
END_TEST

START_TEST(dot_after_lstm)
{
    check_query_attention(SEQCLS_ATTN_DOT, 0, 0, 0, 0);
}
END_TEST

START_TEST(general_after_bigru)
{
    check_query_attention(SEQCLS_ATTN_GENERAL, 0, 1, SEQCLS_BIDIRECTIONAL, 0);
}
END_TEST

START_TEST(general_after_summed_bilstm)
{
    /* merge by sum: sequence [B,T,H], query still [B,2H] */
    check_query_attention(SEQCLS_ATTN_GENERAL, 0, 0, SEQCLS_BIDIRECTIONAL | SEQCLS_MERGE_SUM, 0);
}
END_TEST

/* The headline architecture: embedding -> BiLSTM(seq) -> BiLSTM(seq +
 * states) -> Bahdanau -> dense(relu) -> dropout -> output(1). */
START_TEST(stacked_bilstm_bahdanau_head)
{
    gradcheck_t c;
    setup_ids(&c, 5, 5, 8, 1, 1);
    OK(seqcls_model_create(&c.m, 32));
    OK(seqcls_add_embedding(c.m, 8, 3, 0, NULL));
    c.skip_param = 0;
    c.skip_from = 0;
    c.skip_to = 3;
    OK(seqcls_add_lstm(c.m, 3, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
    OK(seqcls_add_lstm(c.m, 3, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
    OK(seqcls_add_attention(c.m, SEQCLS_ATTN_BAHDANAU, 4, NULL));
    OK(seqcls_add_dense(c.m, 4, SEQCLS_ACT_RELU, NULL));
    OK(seqcls_add_dropout(c.m, 0.3f, NULL));
    OK(seqcls_add_output(c.m, 1, NULL));
    c.lens = lens;
    gradcheck(&c, 0);
    teardown(&c);
}
END_TEST

Suite *grad_attention_suite(void)
{
    Suite *s = suite_create("gradient check: attention with a recurrent query (double)");
    TCase *tc = tcase_create("attention");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, bahdanau_after_bilstm);
    tcase_add_test(tc, bahdanau_after_gru_and_dropout);
    tcase_add_test(tc, dot_after_lstm);
    tcase_add_test(tc, general_after_bigru);
    tcase_add_test(tc, general_after_summed_bilstm);
    tcase_add_test(tc, stacked_bilstm_bahdanau_head);
    suite_add_tcase(s, tc);
    return s;
}
