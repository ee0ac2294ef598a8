/*
 * test_grad_embedding_bag.c -- gradient checks of the embedding bag (1.1)
 * in the double-precision build (harness in gradcheck.h): bags with
 * repeated ids, empty bags, padding steps holding any ids, under mean
 * pooling, a recurrent layer with attention, and a time-distributed dense
 * layer.  Every element of the table is checked (the tables are small).
 */
#include "gradcheck.h"

/* Ids [B, T, P] in [-1, rows): about one slot in four empty, some bags
 * all empty, repeated ids; padding steps (t >= lens[b]) get ids outside
 * any range, which the layer must ignore. */
static void setup_bags(gradcheck_t *c, int B, int T, int P, int rows, int C, const int32_t *lens)
{
    int32_t *ids;
    uint64_t s = 99;
    int b, t, j;
    setup_ids(c, B, T, rows, C, 1);
    seqcls_tensor_free(c->input);
    c->input = tu_tensor(SEQCLS_I32, 3, B, T, P);
    ids = seqcls_tensor_data(c->input);
    for (b = 0; b < B; b++)
        for (t = 0; t < T; t++)
            for (j = 0; j < P; j++) {
                int32_t *id = &ids[((size_t)b * T + t) * P + j];
                if (lens && t >= lens[b])
                    *id = -7 - j;   /* padding: never read */
                else if ((b + t) % 4 == 3)
                    *id = -1;       /* an empty bag */
                else
                    *id = tu_next(&s) % 4 == 0 ? -1 : (int32_t)(tu_next(&s) % (uint64_t)rows);
            }
    ids[1 * P] = ids[1 * P + 1] = 2;   /* the same id twice in one bag */
}

static const int32_t lens4[4] = {5, 0, 2, 5};

START_TEST(bag_mean_pool_softmax)
{
    gradcheck_t c;
    setup_bags(&c, 4, 5, 4, 9, 3, lens4);
    OK(seqcls_model_create(&c.m, 31));
    OK(seqcls_add_embedding_bag(c.m, 9, 4, 4, NULL));
    OK(seqcls_add_pooling(c.m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(c.m, 3, NULL));
    c.lens = lens4;
    gradcheck(&c, 0);
    teardown(&c);
}
END_TEST

START_TEST(bag_bigru_attention_binary)
{
    gradcheck_t c;
    setup_bags(&c, 4, 5, 3, 8, 1, lens4);
    OK(seqcls_model_create(&c.m, 32));
    OK(seqcls_add_embedding_bag(c.m, 8, 3, 3, NULL));
    OK(seqcls_add_gru(c.m, 3, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
    OK(seqcls_add_attention(c.m, SEQCLS_ATTN_BAHDANAU, 3, NULL));
    OK(seqcls_add_output(c.m, 1, NULL));
    c.lens = lens4;
    gradcheck(&c, 0);
    teardown(&c);
}
END_TEST

START_TEST(bag_dense_max_pool_no_lengths)
{
    gradcheck_t c;
    setup_bags(&c, 3, 4, 5, 10, 2, NULL);
    OK(seqcls_model_create(&c.m, 33));
    OK(seqcls_add_embedding_bag(c.m, 10, 3, 5, NULL));
    OK(seqcls_add_dense(c.m, 4, SEQCLS_ACT_TANH, NULL));
    OK(seqcls_add_pooling(c.m, SEQCLS_POOL_MAX, NULL));
    OK(seqcls_add_output(c.m, 2, NULL));
    gradcheck(&c, 0);
    teardown(&c);
}
END_TEST

Suite *grad_embedding_bag_suite(void)
{
    Suite *s = suite_create("grad_embedding_bag");
    TCase *tc = tcase_create("grad_embedding_bag");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, bag_mean_pool_softmax);
    tcase_add_test(tc, bag_bigru_attention_binary);
    tcase_add_test(tc, bag_dense_max_pool_no_lengths);
    suite_add_tcase(s, tc);
    return s;
}
