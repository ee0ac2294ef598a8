/*
 * test_metadata.c -- the vocabulary and class names a model carries.
 */
#include "testutil.h"

START_TEST(vocabulary_is_copied_into_the_model)
{
    seqcls_model_t *m = NULL;
    seqcls_vocab_t *v = NULL;
    const seqcls_vocab_t *mv;
    int32_t ids[4], n;
    OK(seqcls_model_create(&m, 1));
    ck_assert_ptr_null(seqcls_model_vocab(m));
    OK(seqcls_vocab_create(&v));
    OK(seqcls_vocab_add_text(v, "spam spam eggs", 14));
    FAILS(SEQCLS_E_STATE, "not built", seqcls_model_set_vocab(m, v));
    OK(seqcls_vocab_build(v, 1, 0));
    OK(seqcls_model_set_vocab(m, v));
    seqcls_vocab_free(v);   /* the model keeps its own copy */
    mv = seqcls_model_vocab(m);
    ck_assert_ptr_nonnull(mv);
    ck_assert_int_eq(seqcls_vocab_size(mv), 4);
    ck_assert_str_eq(seqcls_vocab_token(mv, 2), "spam");
    OK(seqcls_vocab_encode(mv, "eggs and spam", 13, ids, 4, &n));
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(ids[1], SEQCLS_UNK_ID);
    OK(seqcls_model_set_vocab(m, NULL));
    ck_assert_ptr_null(seqcls_model_vocab(m));
    FAILS(SEQCLS_E_INVALID_ARG, "model is NULL", seqcls_model_set_vocab(NULL, NULL));
    seqcls_model_free(m);
}
END_TEST

START_TEST(labels_are_copied_and_checked)
{
    seqcls_model_t *m = NULL;
    char a[8] = "ham";
    const char *names[2] = {a, "spam"}, *bad[2] = {"x", ""};
    OK(seqcls_model_create(&m, 1));
    ck_assert_int_eq(seqcls_model_label_count(m), 0);
    ck_assert_ptr_null(seqcls_model_label(m, 0));
    OK(seqcls_model_set_labels(m, 2, names));
    a[0] = 'j';
    ck_assert_str_eq(seqcls_model_label(m, 0), "ham");
    ck_assert_str_eq(seqcls_model_label(m, 1), "spam");
    ck_assert_ptr_null(seqcls_model_label(m, 2));
    FAILS(SEQCLS_E_INVALID_ARG, "name 1 is empty", seqcls_model_set_labels(m, 2, bad));
    ck_assert_str_eq(seqcls_model_label(m, 1), "spam");   /* unchanged on error */
    FAILS(SEQCLS_E_INVALID_ARG, "names is NULL", seqcls_model_set_labels(m, 2, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "outside", seqcls_model_set_labels(m, -1, names));
    OK(seqcls_model_set_labels(m, 0, NULL));
    ck_assert_int_eq(seqcls_model_label_count(m), 0);
    seqcls_model_free(m);
}
END_TEST

START_TEST(vocabulary_and_labels_are_saved_with_the_model)
{
    seqcls_model_t *m = NULL, *back = NULL, *bare = NULL;
    seqcls_vocab_t *v = NULL;
    const char *names[3] = {"neg", "neutral", "pos"};
    void *buf = NULL;
    size_t len = 0;
    int i;
    OK(seqcls_model_create(&m, 1));
    OK(seqcls_add_embedding(m, 6, 2, 0, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(m, 3, NULL));
    /* without metadata: none comes back */
    OK(seqcls_model_save_buffer(m, &buf, &len));
    OK(seqcls_model_load_buffer(&bare, buf, len));
    ck_assert_ptr_null(seqcls_model_vocab(bare));
    ck_assert_int_eq(seqcls_model_label_count(bare), 0);
    seqcls_free(buf);
    OK(seqcls_vocab_create(&v));
    OK(seqcls_vocab_add_text(v, "caf\xc3\xa9 au lait, caf\xc3\xa9 noir", 24));
    OK(seqcls_vocab_build(v, 1, 0));
    OK(seqcls_model_set_vocab(m, v));
    OK(seqcls_model_set_labels(m, 3, names));
    OK(seqcls_model_save_buffer(m, &buf, &len));
    OK(seqcls_model_load_buffer(&back, buf, len));
    ck_assert_int_eq(seqcls_vocab_size(seqcls_model_vocab(back)), seqcls_vocab_size(v));
    for (i = 0; i < seqcls_vocab_size(v); i++)
        ck_assert_str_eq(seqcls_vocab_token(seqcls_model_vocab(back), i), seqcls_vocab_token(v, i));
    ck_assert_int_eq(seqcls_model_label_count(back), 3);
    for (i = 0; i < 3; i++)
        ck_assert_str_eq(seqcls_model_label(back, i), names[i]);
    seqcls_free(buf);
    seqcls_vocab_free(v);
    seqcls_model_free(m);
    seqcls_model_free(back);
    seqcls_model_free(bare);
}
END_TEST

Suite *metadata_suite(void)
{
    Suite *s = suite_create("metadata");
    TCase *tc = tcase_create("metadata");
    tcase_add_test(tc, vocabulary_is_copied_into_the_model);
    tcase_add_test(tc, labels_are_copied_and_checked);
    tcase_add_test(tc, vocabulary_and_labels_are_saved_with_the_model);
    suite_add_tcase(s, tc);
    return s;
}
