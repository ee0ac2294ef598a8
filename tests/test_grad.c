/*
 * test_grad.c -- gradient checks of the non-recurrent layers, run against
 * the double-precision build (harness in gradcheck.h).
 */
#include "gradcheck.h"

/* lengths covering 0, 1 and T */
static const int32_t lens5[5] = {6, 0, 3, 1, 6};

START_TEST(embedding_dense_mean_dropout_softmax)
{
    gradcheck_t c;
    setup_ids(&c, 5, 6, 9, 3, 1);
    OK(seqcls_model_create(&c.m, 11));
    OK(seqcls_add_embedding(c.m, 9, 4, 0, NULL));
    c.skip_param = 0;      /* padding row 0: elements [0, 4) */
    c.skip_from = 0;
    c.skip_to = 4;
    OK(seqcls_add_dense(c.m, 5, SEQCLS_ACT_TANH, NULL));
    OK(seqcls_add_dropout(c.m, 0.3f, NULL));
    OK(seqcls_add_pooling(c.m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_dense(c.m, 6, SEQCLS_ACT_RELU, NULL));
    OK(seqcls_add_dropout(c.m, 0.25f, NULL));
    OK(seqcls_add_output(c.m, 3, NULL));
    c.lens = lens5;
    gradcheck(&c, 0);
    teardown(&c);
}
END_TEST

START_TEST(input_dense_max_sigmoid_binary)
{
    gradcheck_t c;
    setup_feats(&c, 5, 6, 4, 1, 1);
    OK(seqcls_model_create(&c.m, 12));
    OK(seqcls_add_input(c.m, 4, NULL));
    OK(seqcls_add_dense(c.m, 5, SEQCLS_ACT_SIGMOID, NULL));
    OK(seqcls_add_pooling(c.m, SEQCLS_POOL_MAX, NULL));
    OK(seqcls_add_dense(c.m, 4, SEQCLS_ACT_HARD_SIGMOID, NULL));
    OK(seqcls_add_output(c.m, 1, NULL));
    c.lens = lens5;
    gradcheck(&c, 1);
    teardown(&c);
}
END_TEST

START_TEST(input_last_pool_custom_loss)
{
    gradcheck_t c;
    setup_feats(&c, 5, 6, 3, 2, 0);
    OK(seqcls_model_create(&c.m, 13));
    OK(seqcls_add_input(c.m, 3, NULL));
    OK(seqcls_add_dense(c.m, 4, SEQCLS_ACT_NONE, NULL));
    OK(seqcls_add_pooling(c.m, SEQCLS_POOL_LAST, NULL));
    OK(seqcls_add_dense(c.m, 3, SEQCLS_ACT_TANH, NULL));
    OK(seqcls_add_output(c.m, 2, NULL));
    c.lens = lens5;
    gradcheck(&c, 1);
    teardown(&c);
}
END_TEST

START_TEST(embedding_max_pool_no_lengths)
{
    gradcheck_t c;
    setup_ids(&c, 3, 4, 7, 4, 1);
    OK(seqcls_model_create(&c.m, 14));
    OK(seqcls_add_embedding(c.m, 7, 5, -1, NULL));
    OK(seqcls_add_pooling(c.m, SEQCLS_POOL_MAX, NULL));
    OK(seqcls_add_output(c.m, 4, NULL));
    gradcheck(&c, 0);
    teardown(&c);
}
END_TEST

START_TEST(learned_query_attention)
{
    gradcheck_t c;
    setup_feats(&c, 5, 6, 4, 2, 1);
    OK(seqcls_model_create(&c.m, 15));
    OK(seqcls_add_input(c.m, 4, NULL));
    OK(seqcls_add_dense(c.m, 5, SEQCLS_ACT_TANH, NULL));
    OK(seqcls_add_attention(c.m, SEQCLS_ATTN_LEARNED_QUERY, 3, NULL));
    OK(seqcls_add_output(c.m, 2, NULL));
    c.lens = lens5;
    gradcheck(&c, 1);
    teardown(&c);
}
END_TEST

START_TEST(feature_time_attention)
{
    gradcheck_t c;
    setup_feats(&c, 5, 6, 3, 1, 1);
    OK(seqcls_model_create(&c.m, 16));
    OK(seqcls_add_input(c.m, 3, NULL));
    OK(seqcls_add_attention(c.m, SEQCLS_ATTN_FEATURE_TIME, 6, NULL));
    OK(seqcls_add_dense(c.m, 4, SEQCLS_ACT_TANH, NULL));
    OK(seqcls_add_pooling(c.m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(c.m, 1, NULL));
    c.lens = lens5;
    gradcheck(&c, 1);
    teardown(&c);
}
END_TEST

START_TEST(batchnorm_training_mode)
{
    gradcheck_t c;
    setup_feats(&c, 5, 4, 3, 3, 0);
    OK(seqcls_model_create(&c.m, 17));
    OK(seqcls_add_input(c.m, 3, NULL));
    OK(seqcls_add_pooling(c.m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_dense(c.m, 4, SEQCLS_ACT_NONE, NULL));
    OK(seqcls_add_batchnorm(c.m, NULL));
    OK(seqcls_add_dense(c.m, 3, SEQCLS_ACT_TANH, NULL));
    OK(seqcls_add_output(c.m, 3, NULL));
    {
        /* non-trivial scale and shift */
        seqcls_tensor_t *g, *b;
        OK(seqcls_param(c.m, seqcls_param_find(c.m, "3.batchnorm.weight"), &g, NULL));
        OK(seqcls_param(c.m, seqcls_param_find(c.m, "3.batchnorm.bias"), &b, NULL));
        tu_fill_real(g, 0.5, 1.5, 3);
        tu_fill_real(b, -0.5, 0.5, 4);
    }
    gradcheck(&c, 1);
    teardown(&c);
}
END_TEST

/* conv1d (1.1): valid and same padding, odd and even kernels, dilation,
 * rows shorter than the kernel's span, after floats and after ids */
START_TEST(conv1d_valid_mean_pool)
{
    gradcheck_t c;
    int l;
    setup_feats(&c, 5, 6, 3, 2, 1);
    OK(seqcls_model_create(&c.m, 18));
    OK(seqcls_add_input(c.m, 3, NULL));
    OK(seqcls_add_conv1d(c.m, 4, 3, 0, &l));
    OK(seqcls_layer_set_int(c.m, l, SEQCLS_OPT_ACTIVATION, SEQCLS_ACT_TANH));
    OK(seqcls_add_pooling(c.m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(c.m, 2, NULL));
    c.lens = lens5;
    gradcheck(&c, 1);
    teardown(&c);
}
END_TEST

START_TEST(conv1d_same_even_dilated_stack)
{
    gradcheck_t c;
    int l;
    setup_feats(&c, 5, 6, 2, 3, 0);
    OK(seqcls_model_create(&c.m, 19));
    OK(seqcls_add_input(c.m, 2, NULL));
    OK(seqcls_add_conv1d(c.m, 3, 4, SEQCLS_PAD_SAME, &l));
    OK(seqcls_layer_set_int(c.m, l, SEQCLS_OPT_DILATION, 2));
    OK(seqcls_layer_set_int(c.m, l, SEQCLS_OPT_ACTIVATION, SEQCLS_ACT_SIGMOID));
    OK(seqcls_add_conv1d(c.m, 4, 2, 0, NULL));
    OK(seqcls_add_pooling(c.m, SEQCLS_POOL_LAST, NULL));
    OK(seqcls_add_output(c.m, 3, NULL));
    c.lens = lens5;
    gradcheck(&c, 1);
    teardown(&c);
}
END_TEST

START_TEST(kim_cnn_embedding_conv_max)
{
    gradcheck_t c;
    int l;
    setup_ids(&c, 5, 6, 9, 3, 1);
    OK(seqcls_model_create(&c.m, 20));
    OK(seqcls_add_embedding(c.m, 9, 4, 0, NULL));
    c.skip_param = 0;      /* padding row 0: elements [0, 4) */
    c.skip_from = 0;
    c.skip_to = 4;
    OK(seqcls_add_conv1d(c.m, 5, 2, SEQCLS_PAD_SAME, &l));
    OK(seqcls_layer_set_int(c.m, l, SEQCLS_OPT_ACTIVATION, SEQCLS_ACT_TANH));
    OK(seqcls_add_conv1d(c.m, 4, 3, 0, &l));
    OK(seqcls_layer_set_int(c.m, l, SEQCLS_OPT_DILATION, 2));
    OK(seqcls_add_pooling(c.m, SEQCLS_POOL_MAX, NULL));
    OK(seqcls_add_dropout(c.m, 0.25f, NULL));
    OK(seqcls_add_output(c.m, 3, NULL));
    {
        static const int32_t lens[5] = {6, 5, 0, 4, 6};
        c.lens = lens;
        gradcheck(&c, 0);
    }
    teardown(&c);
}
END_TEST

/* A CNN tagger (1.1): 'same' convolutions under a per-step output, whose
 * loss averages over the valid steps */
START_TEST(cnn_tagger_per_step)
{
    gradcheck_t c;
    int l;
    static const int32_t lens[5] = {6, 0, 3, 1, 6};
    setup_steps(&c, 5, 6, 9, 0, 3, 1, lens);
    OK(seqcls_model_create(&c.m, 22));
    OK(seqcls_add_embedding(c.m, 9, 4, 0, NULL));
    c.skip_param = 0;
    c.skip_from = 0;
    c.skip_to = 4;
    OK(seqcls_add_conv1d(c.m, 5, 3, SEQCLS_PAD_SAME, &l));
    OK(seqcls_layer_set_int(c.m, l, SEQCLS_OPT_ACTIVATION, SEQCLS_ACT_TANH));
    OK(seqcls_add_conv1d(c.m, 4, 2, SEQCLS_PAD_SAME, &l));
    OK(seqcls_layer_set_int(c.m, l, SEQCLS_OPT_DILATION, 2));
    OK(seqcls_add_output(c.m, 3, NULL));
    ck_assert_int_eq(seqcls_model_output_ndim(c.m), 3);
    gradcheck(&c, 0);
    teardown(&c);
}
END_TEST

/* flatten (1.1): a fixed number of steps after the feature-time attention
 * and a valid convolution, into a dense layer */
START_TEST(flatten_after_attention_and_conv)
{
    gradcheck_t c;
    setup_feats(&c, 4, 6, 3, 2, 1);
    OK(seqcls_model_create(&c.m, 21));
    OK(seqcls_add_input(c.m, 3, NULL));
    OK(seqcls_add_attention(c.m, SEQCLS_ATTN_FEATURE_TIME, 6, NULL));
    OK(seqcls_add_conv1d(c.m, 2, 2, 0, NULL));
    OK(seqcls_add_flatten(c.m, NULL));
    OK(seqcls_add_dense(c.m, 4, SEQCLS_ACT_TANH, NULL));
    OK(seqcls_add_output(c.m, 2, NULL));
    gradcheck(&c, 1);
    teardown(&c);
}
END_TEST

Suite *grad_suite(void)
{
    Suite *s = suite_create("gradient check (double)");
    TCase *tc = tcase_create("layers");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, embedding_dense_mean_dropout_softmax);
    tcase_add_test(tc, input_dense_max_sigmoid_binary);
    tcase_add_test(tc, input_last_pool_custom_loss);
    tcase_add_test(tc, embedding_max_pool_no_lengths);
    tcase_add_test(tc, learned_query_attention);
    tcase_add_test(tc, feature_time_attention);
    tcase_add_test(tc, batchnorm_training_mode);
    tcase_add_test(tc, conv1d_valid_mean_pool);
    tcase_add_test(tc, conv1d_same_even_dilated_stack);
    tcase_add_test(tc, kim_cnn_embedding_conv_max);
    tcase_add_test(tc, flatten_after_attention_and_conv);
    tcase_add_test(tc, cnn_tagger_per_step);
    suite_add_tcase(s, tc);
    return s;
}
