/*
 * test_grad_steps.c -- gradient checks of per-step outputs (an output
 * layer after a sequence: logits [B, T, C]), with the built-in loss
 * averaged over valid steps and with a custom loss, run against the
 * double-precision build (harness in gradcheck.h).  Labels at padding
 * steps are -100 and dlogits there NaN: neither may be read.
 */
#include "gradcheck.h"

/* lengths covering 0, 1 and T */
static const int32_t lens5[5] = {6, 0, 3, 1, 6};

/* The tagger of the parity test: embedding -> BiLSTM(return_sequences) -> output per step. */
START_TEST(tagger_bilstm_softmax)
{
    gradcheck_t c;
    setup_steps(&c, 5, 6, 9, 0, 4, 1, lens5);
    OK(seqcls_model_create(&c.m, 31));
    OK(seqcls_add_embedding(c.m, 9, 4, 0, NULL));
    c.skip_param = 0;
    c.skip_from = 0;
    c.skip_to = 4;
    OK(seqcls_add_lstm(c.m, 3, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
    OK(seqcls_add_output(c.m, 4, NULL));
    ck_assert_int_eq(seqcls_model_output_ndim(c.m), 3);
    gradcheck(&c, 0);
    teardown(&c);
}
END_TEST

/* Binary per step (C = 1: sigmoid + binary cross-entropy at each valid step). */
START_TEST(stacked_gru_dense_binary)
{
    gradcheck_t c;
    setup_steps(&c, 5, 6, 2, 3, 1, 1, lens5);
    OK(seqcls_model_create(&c.m, 32));
    OK(seqcls_add_input(c.m, 3, NULL));
    OK(seqcls_add_gru(c.m, 4, SEQCLS_RETURN_SEQUENCES, NULL));
    OK(seqcls_add_gru(c.m, 3, SEQCLS_RETURN_SEQUENCES | SEQCLS_GRU_RESET_BEFORE, NULL));
    OK(seqcls_add_dense(c.m, 5, SEQCLS_ACT_TANH, NULL));
    OK(seqcls_add_dropout(c.m, 0.2f, NULL));
    OK(seqcls_add_output(c.m, 1, NULL));
    gradcheck(&c, 1);
    teardown(&c);
}
END_TEST

/* A custom loss through seqcls_backward with dlogits [B, T, C]. */
START_TEST(lstm_custom_loss_per_step)
{
    gradcheck_t c;
    setup_steps(&c, 5, 6, 2, 2, 3, 0, lens5);
    OK(seqcls_model_create(&c.m, 33));
    OK(seqcls_add_input(c.m, 2, NULL));
    OK(seqcls_add_lstm(c.m, 4, SEQCLS_RETURN_SEQUENCES, NULL));
    OK(seqcls_add_output(c.m, 3, NULL));
    gradcheck(&c, 1);
    teardown(&c);
}
END_TEST

/* Straight from the features (no recurrent layer), every row full. */
START_TEST(dense_per_step_no_lengths)
{
    gradcheck_t c;
    setup_steps(&c, 3, 4, 2, 3, 5, 1, NULL);
    OK(seqcls_model_create(&c.m, 34));
    OK(seqcls_add_input(c.m, 3, NULL));
    OK(seqcls_add_dense(c.m, 4, SEQCLS_ACT_RELU, NULL));
    OK(seqcls_add_output(c.m, 5, NULL));
    gradcheck(&c, 1);
    teardown(&c);
}
END_TEST

Suite *grad_steps_suite(void)
{
    Suite *s = suite_create("gradient check, per-step outputs (double)");
    TCase *tc = tcase_create("per step");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, tagger_bilstm_softmax);
    tcase_add_test(tc, stacked_gru_dense_binary);
    tcase_add_test(tc, lstm_custom_loss_per_step);
    tcase_add_test(tc, dense_per_step_no_lengths);
    suite_add_tcase(s, tc);
    return s;
}
