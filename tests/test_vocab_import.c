/*
 * test_vocab_import.c -- the vocabulary calls of 1.1: encoding that keeps
 * the last tokens (seqcls_vocab_encode_ex, SEQCLS_TRUNCATE_PRE) and a
 * vocabulary from a word index (seqcls_vocab_from_list).
 */
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

static seqcls_vocab_t *abc(void)
{
    static const char *const words[5] = {"", "[UNK]", "a", "b", "c"};
    seqcls_vocab_t *v = NULL;
    OK(seqcls_vocab_from_list(&v, words, 5));
    return v;
}

START_TEST(truncate_pre_keeps_the_last_tokens)
{
    seqcls_vocab_t *v = abc();
    int32_t ids[8], n = -1, want[8];
    int max, i, k;
    /* ids a=2 b=3 c=4, zz=1: "a b c zz a b" is 2 3 4 1 2 3 */
    static const int32_t all[6] = {2, 3, 4, 1, 2, 3};
    for (max = 0; max <= 8; max++) {
        memset(ids, 0x7f, sizeof ids);
        OK(seqcls_vocab_encode_ex(v, "A b c zz a B", 12, max ? ids : NULL, max,
                                  SEQCLS_TRUNCATE_PRE, &n));
        k = max < 6 ? max : 6;
        ck_assert_int_eq(n, k);
        for (i = 0; i < k; i++)
            want[i] = all[6 - k + i];
        for (; i < max; i++)
            want[i] = SEQCLS_PAD_ID;
        for (i = 0; i < max; i++)
            ck_assert_msg(ids[i] == want[i], "max_len %d: ids[%d] = %d, want %d", max, i,
                          (int)ids[i], (int)want[i]);
        if (max < 8)
            ck_assert_int_eq(ids[max], 0x7f7f7f7f);   /* nothing past max_len */
        /* flags 0 is seqcls_vocab_encode */
        {
            int32_t a[8], b[8], na = -1, nb = -2;
            OK(seqcls_vocab_encode_ex(v, "A b c zz a B", 12, a, max, 0, &na));
            OK(seqcls_vocab_encode(v, "A b c zz a B", 12, b, max, &nb));
            ck_assert_int_eq(na, nb);
            ck_assert(!memcmp(a, b, (size_t)max * sizeof *a));
        }
    }
    /* a long text around a small ring */
    {
        char text[4000];
        size_t len = 0;
        int32_t last[3];
        for (i = 0; i < 1000; i++)
            len += (size_t)snprintf(text + len, sizeof text - len, "%s ", i % 3 == 0 ? "a"
                                                                         : i % 3 == 1 ? "b"
                                                                                      : "c");
        OK(seqcls_vocab_encode_ex(v, text, len, last, 3, SEQCLS_TRUNCATE_PRE, &n));
        /* tokens 997, 998, 999: b c a */
        ck_assert_int_eq(n, 3);
        ck_assert_int_eq(last[0], 3);
        ck_assert_int_eq(last[1], 4);
        ck_assert_int_eq(last[2], 2);
    }
    memset(ids, 0x11, sizeof ids);
    FAILS(SEQCLS_E_INVALID_ARG, "unknown flags 0x2",
          seqcls_vocab_encode_ex(v, "a", 1, ids, 8, 0x2, &n));
    ck_assert_int_eq(ids[0], 0x11111111);
    FAILS(SEQCLS_E_INVALID_ARG, "seqcls_vocab_encode_ex: vocabulary is NULL",
          seqcls_vocab_encode_ex(NULL, "a", 1, ids, 8, SEQCLS_TRUNCATE_PRE, &n));
    FAILS(SEQCLS_E_INVALID_ARG, "max_len -1",
          seqcls_vocab_encode_ex(v, "a", 1, ids, -1, SEQCLS_TRUNCATE_PRE, &n));
    {
        seqcls_vocab_t *unbuilt = NULL;
        OK(seqcls_vocab_create(&unbuilt));
        FAILS(SEQCLS_E_STATE, "not built",
              seqcls_vocab_encode_ex(unbuilt, "a", 1, ids, 8, SEQCLS_TRUNCATE_PRE, &n));
        seqcls_vocab_free(unbuilt);
    }
    seqcls_vocab_free(v);
}
END_TEST

START_TEST(from_list_builds_a_vocabulary)
{
    static const char *const words[6] = {NULL, NULL, "the", "don't", "\xc3\xa9t\xc3\xa9", "film"};
    seqcls_vocab_t *v = NULL, *back = NULL;
    void *buf = NULL;
    size_t len = 0;
    int32_t ids[6], n;
    char text[64];
    OK(seqcls_vocab_from_list(&v, words, 6));
    ck_assert_int_eq(seqcls_vocab_size(v), 6);
    ck_assert_str_eq(seqcls_vocab_token(v, 0), "<pad>");
    ck_assert_str_eq(seqcls_vocab_token(v, 1), "<unk>");
    ck_assert_str_eq(seqcls_vocab_token(v, 4), "\xc3\xa9t\xc3\xa9");
    ck_assert_int_eq(seqcls_vocab_id(v, "film"), 5);
    ck_assert_int_eq(seqcls_vocab_id(v, "nope"), SEQCLS_UNK_ID);
    OK(seqcls_vocab_encode(v, "The film, DON'T \xc3\x89T\xc3\x89 now", 26, ids, 6, &n));
    ck_assert_int_eq(n, 5);
    ck_assert(ids[0] == 2 && ids[1] == 5 && ids[2] == 3 && ids[3] == 4 && ids[4] == 1);
    OK(seqcls_vocab_decode(v, ids, 6, text, sizeof text, &len));
    ck_assert_str_eq(text, "the film don't \xc3\xa9t\xc3\xa9 <unk>");
    /* saved and loaded like a built one, and attached to a model */
    OK(seqcls_vocab_save_buffer(v, &buf, &len));
    OK(seqcls_vocab_load_buffer(&back, buf, len));
    ck_assert_int_eq(seqcls_vocab_id(back, "don't"), 3);
    FAILS(SEQCLS_E_STATE, "already built", seqcls_vocab_add_text(v, "x", 1));
    FAILS(SEQCLS_E_STATE, "already built", seqcls_vocab_build(v, 0, 0));
    seqcls_free(buf);
    seqcls_vocab_free(back);
    seqcls_vocab_free(v);
    /* the two reserved ids alone */
    OK(seqcls_vocab_from_list(&v, words, 2));
    ck_assert_int_eq(seqcls_vocab_size(v), 2);
    seqcls_vocab_free(v);
}
END_TEST

START_TEST(from_list_refusals)
{
    static const char *const dup[5] = {"", "", "a", "b", "a"};
    static const char *const hole[4] = {"", "", "a", NULL};
    static const char *const empty[3] = {"", "", ""};
    static const char *const pad[4] = {"", "", "a", "<pad>"};
    static const char *const unk[3] = {"", "", "<unk>"};
    static const char *const bad[3] = {"", "", "\xc3"};
    char longtok[SEQCLS_TOKEN_MAX + 2];
    const char *toolong[3] = {"", "", longtok};
    seqcls_vocab_t *v = (seqcls_vocab_t *)1;
    memset(longtok, 'x', sizeof longtok - 1);
    longtok[sizeof longtok - 1] = '\0';
    FAILS(SEQCLS_E_INVALID_ARG, "out is NULL", seqcls_vocab_from_list(NULL, dup, 5));
    FAILS(SEQCLS_E_INVALID_ARG, "tokens is NULL", seqcls_vocab_from_list(&v, NULL, 5));
    ck_assert_ptr_null(v);
    FAILS(SEQCLS_E_INVALID_ARG, "n = 1 is outside", seqcls_vocab_from_list(&v, dup, 1));
    FAILS(SEQCLS_E_RANGE, "n = 16777217", seqcls_vocab_from_list(&v, dup, SEQCLS_VOCAB_MAX + 1));
    FAILS(SEQCLS_E_INVALID_ARG, "tokens[4] repeats tokens[2] (\"a\")",
          seqcls_vocab_from_list(&v, dup, 5));
    FAILS(SEQCLS_E_INVALID_ARG, "tokens[3] is NULL", seqcls_vocab_from_list(&v, hole, 4));
    FAILS(SEQCLS_E_INVALID_ARG, "tokens[2] has 0 bytes", seqcls_vocab_from_list(&v, empty, 3));
    FAILS(SEQCLS_E_INVALID_ARG, "tokens[3] is \"<pad>\", which only id 0 may be",
          seqcls_vocab_from_list(&v, pad, 4));
    FAILS(SEQCLS_E_INVALID_ARG, "which only id 1 may be", seqcls_vocab_from_list(&v, unk, 3));
    FAILS(SEQCLS_E_INVALID_ARG, "tokens[2] is not valid UTF-8", seqcls_vocab_from_list(&v, bad, 3));
    FAILS(SEQCLS_E_INVALID_ARG, "tokens[2] has 257 bytes", seqcls_vocab_from_list(&v, toolong, 3));
    ck_assert_ptr_null(v);
}
END_TEST

Suite *vocab_import_suite(void)
{
    Suite *s = suite_create("vocabulary import and truncation (1.1)");
    TCase *tc = tcase_create("vocab 1.1");
    tcase_add_test(tc, truncate_pre_keeps_the_last_tokens);
    tcase_add_test(tc, from_list_builds_a_vocabulary);
    tcase_add_test(tc, from_list_refusals);
    suite_add_tcase(s, tc);
    return s;
}
