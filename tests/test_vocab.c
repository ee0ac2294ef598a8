/*
 * test_vocab.c -- the text front end: tokeniser rules on tricky text,
 * vocabulary building, encoding and decoding, the serialised form under
 * corruption, error paths, and replay of the fuzzer's regression inputs.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

/* The normalised tokens of `text` (len bytes), joined by spaces: built
 * through the public API (count, build with everything, encode, decode). */
static char *norm_n(const char *text, size_t len)
{
    seqcls_vocab_t *v = NULL;
    int32_t *ids, n = -1;
    size_t need = 0, got = 0;
    char *out;
    int max = (int)len + 1;
    OK(seqcls_vocab_create(&v));
    OK(seqcls_vocab_add_text(v, text, len));
    OK(seqcls_vocab_build(v, 0, 0));
    ids = malloc((size_t)max * sizeof *ids);
    ck_assert_ptr_nonnull(ids);
    OK(seqcls_vocab_encode(v, text, len, ids, max, &n));
    ck_assert_int_eq(seqcls_vocab_decode(v, ids, n, NULL, 0, &need), SEQCLS_E_RANGE);
    ck_assert_uint_ge(need, 1);
    out = malloc(need);
    ck_assert_ptr_nonnull(out);
    OK(seqcls_vocab_decode(v, ids, n, out, need, &got));
    ck_assert_uint_eq(got + 1, need);
    ck_assert_uint_eq(strlen(out), got);
    free(ids);
    seqcls_vocab_free(v);
    return out;
}

#define NORM_IS(text, expect)                                                        \
    do {                                                                             \
        char *s_ = norm_n((text), sizeof(text) - 1);                                 \
        ck_assert_msg(strcmp(s_, (expect)) == 0, "tokens of \"%s\": got \"%s\", expected \"%s\"", \
                      (text), s_, (expect));                                         \
        free(s_);                                                                    \
    } while (0)

START_TEST(markup_is_stripped)
{
    NORM_IS("I <b>loved</b> this movie!<br /><br />Great.", "i loved this movie ! great");
    NORM_IS("good<br/>bad<BR>ugly", "good bad ugly");
    NORM_IS("<a href=\"http://x.org/a?b=1\">link</a> text", "link text");
    NORM_IS("V<!-- hidden > still hidden -->iagra", "v iagra");
    NORM_IS("<?xml version=\"1.0\"?><!DOCTYPE html><p>hi</p>", "hi");
    /* a '<' that does not open a tag is punctuation */
    NORM_IS("a < b", "a b");
    NORM_IS("i <3 you", "i 3 you");
    NORM_IS("x<", "x");
    NORM_IS("unclosed <br and more", "unclosed br and more");
    NORM_IS("open <!-- comment never closed", "open ! comment never closed");
    NORM_IS("<<b>>x", "x");
}
END_TEST

START_TEST(apostrophes_and_punctuation)
{
    NORM_IS("'hello' don't l'homme rock'n'roll dogs' '' x'", "hello don't l'homme rock'n'roll dogs x");
    /* U+2019 is normalised to ', U+2018 is a quote */
    NORM_IS("L\xe2\x80\x99homme n\xe2\x80\x99" "est \xe2\x80\x98quoted\xe2\x80\x99",
            "l'homme n'est quoted");
    NORM_IS("don''t", "don t");
    NORM_IS("wow!!! really? yes?!", "wow ! ! ! really ? yes ? !");
    NORM_IS("\xc2\xa1hola! \xc2\xbfqu\xc3\xa9? \xc2\xab" "cit\xc3\xa9\xc2\xbb", "hola ! qu\xc3\xa9 ? cit\xc3\xa9");
    NORM_IS("well-known e-mail (a) [b] {c} \"d\" a.b,c;d:e/f\\g_h@i#j$k%l^m&n*o+p=q|r~s`t",
            "well known e mail a b c d a b c d e f g h i j k l m n o p q r s t");
    NORM_IS("em\xe2\x80\x94" "dash\xe2\x80\xa6" "ellipsis \xe2\x80\x9cquotes\xe2\x80\x9d",
            "em dash ellipsis quotes");
    NORM_IS("top10 2023 3.14 1,000", "top10 2023 3 14 1 000");
    NORM_IS("fullwidth\xef\xbc\x81 \xef\xbc\x9f", "fullwidth ! ?");
    NORM_IS("x \xc3\x97 y \xc3\xb7 z", "x y z");
    /* the soft hyphen joins, also at either end of a word */
    NORM_IS("hy\xc2\xadphen \xc2\xad" "a b\xc2\xad", "hyphen a b");
}
END_TEST

START_TEST(utf8_case_folding_and_scripts)
{
    NORM_IS("\xc3\x89T\xc3\x89 Caf\xc3\xa9 \xc3\x80\xc3\x96\xc3\x98\xc3\x9e",
            "\xc3\xa9t\xc3\xa9 caf\xc3\xa9 \xc3\xa0\xc3\xb6\xc3\xb8\xc3\xbe");
    /* Latin Extended-A: Ł Ó D Ź, Ÿ, dotted I */
    NORM_IS("\xc5\x81\xc3\x93" "D\xc5\xb9 \xc5\xb8 \xc4\xb0",
            "\xc5\x82\xc3\xb3" "d\xc5\xba \xc3\xbf i");
    /* Greek: ΕΛΛΆΔΑ, Cyrillic: ПРИВЕТ Ёж */
    NORM_IS("\xce\x95\xce\x9b\xce\x9b\xce\x86\xce\x94\xce\x91",
            "\xce\xb5\xce\xbb\xce\xbb\xce\xac\xce\xb4\xce\xb1");
    NORM_IS("\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2 \xd0\x81\xd0\xb6",
            "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd1\x91\xd0\xb6");
    /* CJK characters are token characters; CJK punctuation splits */
    NORM_IS("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x80\x81\xe3\x81\xa7\xe3\x81\x99\xe3\x80\x82",
            "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xe3\x81\xa7\xe3\x81\x99");
    /* emoji are token characters, also glued to a word */
    NORM_IS("great \xf0\x9f\x98\x80 movie\xf0\x9f\x98\x80", "great \xf0\x9f\x98\x80 movie\xf0\x9f\x98\x80");
    /* a non-breaking space and an ideographic space separate */
    NORM_IS("a\xc2\xa0" "b\xe3\x80\x80" "c\xe2\x80\xaf" "d", "a b c d");
}
END_TEST

START_TEST(invalid_utf8_is_replaced)
{
    NORM_IS("caf\xe9 ok\xff", "caf\xef\xbf\xbd ok\xef\xbf\xbd");
    NORM_IS("\xc3\x28", "\xef\xbf\xbd");                                  /* then '(' */
    NORM_IS("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd");                      /* overlong */
    NORM_IS("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");      /* surrogate */
    NORM_IS("\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    NORM_IS("\xe2\x82x", "\xef\xbf\xbdx");           /* one U+FFFD for a maximal subpart */
    NORM_IS("abc \xe2\x82", "abc \xef\xbf\xbd");     /* truncated at the end */
    NORM_IS("abc \xf0\x9f\x98", "abc \xef\xbf\xbd");
    NORM_IS("abc \xc3", "abc \xef\xbf\xbd");
    NORM_IS("\xef\xbf\xbd", "\xef\xbf\xbd");          /* a real U+FFFD stays */
}
END_TEST

START_TEST(empty_whitespace_and_nul)
{
    NORM_IS("", "");
    NORM_IS("\n\n\r\n", "");
    NORM_IS("   \t \v\f  ", "");
    NORM_IS("...!?...", "! ?");
    NORM_IS("<br /><br />", "");
    NORM_IS("a\0b\0\0c", "a b c");
    NORM_IS("line one\n\nline two\n", "line one line two");
    {
        int32_t n = -1, ids[4] = {9, 9, 9, 9};
        seqcls_vocab_t *v = NULL;
        OK(seqcls_tokenize(NULL, 0, NULL, NULL, 0, &n));
        FAILS(SEQCLS_E_INVALID_ARG, "len -2 is negative",
              seqcls_tokenize("x", (size_t)-2, NULL, NULL, 0, &n));
        ck_assert_int_eq(n, 0);
        OK(seqcls_vocab_create(&v));
        OK(seqcls_vocab_add_text(v, NULL, 0));
        OK(seqcls_vocab_build(v, 1, 0));
        ck_assert_int_eq(seqcls_vocab_size(v), 2);
        OK(seqcls_vocab_encode(v, NULL, 0, ids, 4, &n));
        ck_assert_int_eq(n, 0);
        ck_assert_int_eq(ids[0] | ids[1] | ids[2] | ids[3], 0);
        seqcls_vocab_free(v);
    }
}
END_TEST

START_TEST(long_tokens_are_cut_at_a_character)
{
    char text[1024], expect[1024];
    char *s;
    int32_t st[4], en[4], n;
    memset(text, 'a', 300);
    strcpy(text + 300, " b");
    memset(expect, 'a', SEQCLS_TOKEN_MAX);
    strcpy(expect + SEQCLS_TOKEN_MAX, " b");
    s = norm_n(text, strlen(text));
    ck_assert_str_eq(s, expect);
    free(s);
    OK(seqcls_tokenize(text, strlen(text), st, en, 4, &n));
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(st[0], 0);
    ck_assert_int_eq(en[0], 300);     /* the span covers the whole word */
    ck_assert_int_eq(st[1], 301);

    /* 'x' then 200 two-byte characters: 1 + 127 * 2 = 255 bytes fit */
    text[0] = 'x';
    for (n = 0; n < 200; n++)
        memcpy(text + 1 + 2 * n, "\xc3\xa9", 2);
    text[401] = '\0';
    s = norm_n(text, strlen(text));
    ck_assert_uint_eq(strlen(s), 255);
    ck_assert_int_eq(memcmp(s + 253, "\xc3\xa9", 2), 0);
    free(s);

    /* a cut token does not end in an apostrophe */
    memset(text, 'a', 255);
    strcpy(text + 255, "'bc");
    s = norm_n(text, strlen(text));
    ck_assert_uint_eq(strlen(s), 255);
    free(s);
}
END_TEST

START_TEST(spans_point_into_the_original_text)
{
    const char *t = "  Hello, <b>World</b>! L\xe2\x80\x99homme \xc3\x89T\xc3\x89";
    int32_t st[8], en[8], n = -1;
    OK(seqcls_tokenize(t, strlen(t), st, en, 8, &n));
    ck_assert_int_eq(n, 5);
    ck_assert_int_eq(st[0], 2);
    ck_assert_int_eq(en[0], 7);
    ck_assert_int_eq(st[1], 12);
    ck_assert_int_eq(en[1], 17);
    ck_assert_int_eq(st[2], 21);
    ck_assert_int_eq(en[2], 22);
    ck_assert_int_eq(st[3], 23);
    ck_assert_int_eq(en[3], 32);
    ck_assert_int_eq(memcmp(t + st[4], "\xc3\x89T\xc3\x89", 5), 0);
    ck_assert_int_eq(en[4], (int)strlen(t));
    /* only max_tokens are stored */
    OK(seqcls_tokenize(t, strlen(t), st, en, 2, &n));
    ck_assert_int_eq(n, 2);
    OK(seqcls_tokenize(t, strlen(t), NULL, NULL, 0, &n));
    ck_assert_int_eq(n, 0);
    FAILS(SEQCLS_E_INVALID_ARG, "n_out", seqcls_tokenize(t, 3, st, en, 8, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "text", seqcls_tokenize(NULL, 3, st, en, 8, &n));
    FAILS(SEQCLS_E_INVALID_ARG, "starts", seqcls_tokenize(t, 3, NULL, en, 8, &n));
    FAILS(SEQCLS_E_INVALID_ARG, "ends", seqcls_tokenize(t, 3, st, NULL, 8, &n));
    FAILS(SEQCLS_E_INVALID_ARG, "negative", seqcls_tokenize(t, 3, st, en, -1, &n));
    FAILS(SEQCLS_E_RANGE, "longer than", seqcls_tokenize(t, (size_t)SEQCLS_TEXT_MAX + 1, st, en, 8, &n));
}
END_TEST

static seqcls_vocab_t *vocab_of(const char *const *docs, int ndocs, int min_freq, int max_size)
{
    seqcls_vocab_t *v = NULL;
    int i;
    OK(seqcls_vocab_create(&v));
    for (i = 0; i < ndocs; i++)
        OK(seqcls_vocab_add_text(v, docs[i], strlen(docs[i])));
    OK(seqcls_vocab_build(v, min_freq, max_size));
    return v;
}

static void expect_tokens(const seqcls_vocab_t *v, const char *const *want, int n)
{
    int i;
    ck_assert_int_eq(seqcls_vocab_size(v), n);
    for (i = 0; i < n; i++) {
        ck_assert_str_eq(seqcls_vocab_token(v, i), want[i]);
        ck_assert_int_eq(seqcls_vocab_id(v, want[i]), i);
    }
    ck_assert_ptr_null(seqcls_vocab_token(v, n));
    ck_assert_ptr_null(seqcls_vocab_token(v, -1));
}

START_TEST(build_orders_and_limits)
{
    const char *docs[] = {"b a c", "A d", "B, a!", "ab"};   /* a 3, b 2, ! 1, ab 1, c 1, d 1 */
    const char *docs2[] = {"d ab", "a b", "c ! a", "a B"};  /* same counts, other order */
    const char *all[] = {"<pad>", "<unk>", "a", "b", "!", "ab", "c", "d"};
    seqcls_vocab_t *v;
    v = vocab_of(docs, 4, 0, 0);
    expect_tokens(v, all, 8);
    seqcls_vocab_free(v);
    v = vocab_of(docs2, 4, 1, 0);
    expect_tokens(v, all, 8);
    seqcls_vocab_free(v);
    v = vocab_of(docs, 4, 2, 0);
    expect_tokens(v, all, 4);
    seqcls_vocab_free(v);
    v = vocab_of(docs, 4, 4, 0);
    expect_tokens(v, all, 2);
    seqcls_vocab_free(v);
    v = vocab_of(docs, 4, 0, 5);
    expect_tokens(v, all, 5);
    seqcls_vocab_free(v);
    v = vocab_of(docs2, 4, 1, 2);
    expect_tokens(v, all, 2);
    ck_assert_int_eq(seqcls_vocab_id(v, "a"), SEQCLS_UNK_ID);
    seqcls_vocab_free(v);
    v = vocab_of(docs, 4, 0, 100);
    expect_tokens(v, all, 8);
    ck_assert_int_eq(seqcls_vocab_id(v, "zebra"), SEQCLS_UNK_ID);
    ck_assert_int_eq(seqcls_vocab_id(v, "A"), SEQCLS_UNK_ID);   /* exact lookup */
    ck_assert_int_eq(seqcls_vocab_id(v, ""), SEQCLS_UNK_ID);
    seqcls_vocab_free(v);
}
END_TEST

START_TEST(build_many_tokens)
{
    /* enough distinct tokens to grow every table several times */
    seqcls_vocab_t *v = NULL;
    char doc[64];
    int i, j;
    OK(seqcls_vocab_create(&v));
    for (i = 0; i < 20000; i++) {
        int len = snprintf(doc, sizeof doc, "w%d w%d common", i, i % 100);
        OK(seqcls_vocab_add_text(v, doc, (size_t)len));
    }
    OK(seqcls_vocab_build(v, 0, 0));
    ck_assert_int_eq(seqcls_vocab_size(v), 2 + 20000 + 1);
    ck_assert_str_eq(seqcls_vocab_token(v, 2), "common");
    /* then w0..w99 (201 times each), then the rest (once each), each
     * group in byte order */
    for (j = 3; j < seqcls_vocab_size(v) - 1; j++) {
        const char *a = seqcls_vocab_token(v, j), *b = seqcls_vocab_token(v, j + 1);
        int ca = atoi(a + 1) < 100 ? 2 : 1, cb = atoi(b + 1) < 100 ? 2 : 1;
        ck_assert_int_ge(ca, cb);
        if (ca == cb)
            ck_assert_int_lt(strcmp(a, b), 0);
        ck_assert_int_eq(seqcls_vocab_id(v, a), j);
    }
    seqcls_vocab_free(v);
}
END_TEST

START_TEST(encode_truncates_and_pads)
{
    const char *docs[] = {"a b c"};
    seqcls_vocab_t *v = vocab_of(docs, 1, 0, 0);
    int32_t ids[8], n = -1;
    const int32_t want8[8] = {2, 3, 4, 1, 2, 0, 0, 0};
    int i;
    OK(seqcls_vocab_encode(v, "A b c zz a", 10, ids, 8, &n));
    ck_assert_int_eq(n, 5);
    for (i = 0; i < 8; i++)
        ck_assert_int_eq(ids[i], want8[i]);
    OK(seqcls_vocab_encode(v, "A b c zz a", 10, ids, 3, &n));
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(ids[0], 2);
    ck_assert_int_eq(ids[2], 4);
    ck_assert_int_eq(ids[3], 1);   /* untouched past max_len */
    OK(seqcls_vocab_encode(v, "A b c zz a", 10, NULL, 0, &n));
    ck_assert_int_eq(n, 0);
    OK(seqcls_vocab_encode(v, "c", 1, ids, 8, NULL));   /* n_out is optional */
    ck_assert_int_eq(ids[0], 4);
    ck_assert_int_eq(ids[1], 0);
    seqcls_vocab_free(v);
}
END_TEST

START_TEST(decode_round_trip_and_sizes)
{
    const char *text = "The <i>movie</i> wasn't GOOD... \xc3\x89T\xc3\x89 \xe6\x97\xa5\xe6\x9c\xac!";
    const char *docs[] = {text};
    seqcls_vocab_t *v = vocab_of(docs, 1, 0, 0);
    int32_t ids[16], n;
    char buf[128];
    size_t len = 0;
    const char *want = "the movie wasn't good \xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac !";
    OK(seqcls_vocab_encode(v, text, strlen(text), ids, 16, &n));
    ck_assert_int_eq(n, 7);
    OK(seqcls_vocab_decode(v, ids, n, buf, sizeof buf, &len));
    ck_assert_str_eq(buf, want);
    ck_assert_uint_eq(len, strlen(want));
    /* a whole padded row decodes the same (padding is skipped) */
    OK(seqcls_vocab_decode(v, ids, 16, buf, sizeof buf, &len));
    ck_assert_str_eq(buf, want);
    /* exact fit, one byte short, size query */
    OK(seqcls_vocab_decode(v, ids, n, buf, strlen(want) + 1, &len));
    FAILS(SEQCLS_E_RANGE, "needs", seqcls_vocab_decode(v, ids, n, buf, strlen(want), &len));
    ck_assert_uint_eq(len, strlen(want) + 1);
    ck_assert_str_eq(buf, "");
    FAILS(SEQCLS_E_RANGE, "needs", seqcls_vocab_decode(v, ids, n, NULL, 0, &len));
    ck_assert_uint_eq(len, strlen(want) + 1);
    /* nothing and only padding give "" */
    OK(seqcls_vocab_decode(v, ids, 0, buf, 1, &len));
    ck_assert_str_eq(buf, "");
    ck_assert_uint_eq(len, 0);
    /* unknown tokens come back as <unk> */
    OK(seqcls_vocab_encode(v, "the zebra", 9, ids, 16, &n));
    OK(seqcls_vocab_decode(v, ids, n, buf, sizeof buf, &len));
    ck_assert_str_eq(buf, "the <unk>");
    ids[1] = seqcls_vocab_size(v);
    FAILS(SEQCLS_E_RANGE, "outside", seqcls_vocab_decode(v, ids, n, buf, sizeof buf, &len));
    ids[1] = -3;
    FAILS(SEQCLS_E_RANGE, "outside", seqcls_vocab_decode(v, ids, n, buf, sizeof buf, &len));
    seqcls_vocab_free(v);
}
END_TEST

START_TEST(errors_for_nulls_and_order)
{
    seqcls_vocab_t *v = NULL;
    int32_t ids[4], n;
    char buf[16];
    size_t len;
    void *p = (void *)1;
    FAILS(SEQCLS_E_INVALID_ARG, "out is NULL", seqcls_vocab_create(NULL));
    seqcls_vocab_free(NULL);
    FAILS(SEQCLS_E_INVALID_ARG, "vocabulary is NULL", seqcls_vocab_add_text(NULL, "a", 1));
    FAILS(SEQCLS_E_INVALID_ARG, "vocabulary is NULL", seqcls_vocab_build(NULL, 0, 0));
    FAILS(SEQCLS_E_INVALID_ARG, "vocabulary is NULL", seqcls_vocab_encode(NULL, "a", 1, ids, 4, &n));
    FAILS(SEQCLS_E_INVALID_ARG, "vocabulary is NULL", seqcls_vocab_id(NULL, "a"));
    FAILS(SEQCLS_E_INVALID_ARG, "vocabulary is NULL", seqcls_vocab_decode(NULL, ids, 0, buf, 16, &len));
    FAILS(SEQCLS_E_INVALID_ARG, "vocabulary is NULL", seqcls_vocab_save_buffer(NULL, &p, &len));
    ck_assert_ptr_null(p);
    ck_assert_int_eq(seqcls_vocab_size(NULL), 0);
    ck_assert_ptr_null(seqcls_vocab_token(NULL, 0));

    OK(seqcls_vocab_create(&v));
    FAILS(SEQCLS_E_INVALID_ARG, "text is NULL", seqcls_vocab_add_text(v, NULL, 3));
    /* a negative length through size_t says so (not 18446744073709551615) */
    FAILS(SEQCLS_E_INVALID_ARG, "len -1 is negative", seqcls_vocab_add_text(v, "ab", (size_t)-1));
    ck_assert(strstr(seqcls_last_error(), "18446744073709551615") == NULL);
    FAILS(SEQCLS_E_RANGE, "longer than", seqcls_vocab_add_text(v, "a", (size_t)SEQCLS_TEXT_MAX + 1));
    /* not built yet */
    ck_assert_int_eq(seqcls_vocab_size(v), 0);
    ck_assert_ptr_null(seqcls_vocab_token(v, 0));
    FAILS(SEQCLS_E_STATE, "not built", seqcls_vocab_encode(v, "a", 1, ids, 4, &n));
    FAILS(SEQCLS_E_STATE, "not built", seqcls_vocab_id(v, "a"));
    FAILS(SEQCLS_E_STATE, "not built", seqcls_vocab_decode(v, ids, 0, buf, 16, &len));
    FAILS(SEQCLS_E_STATE, "not built", seqcls_vocab_save_buffer(v, &p, &len));
    /* bad build arguments leave it unbuilt */
    FAILS(SEQCLS_E_INVALID_ARG, "min_freq", seqcls_vocab_build(v, -1, 0));
    FAILS(SEQCLS_E_INVALID_ARG, "max_size", seqcls_vocab_build(v, 0, 1));
    FAILS(SEQCLS_E_INVALID_ARG, "max_size", seqcls_vocab_build(v, 0, -7));
    FAILS(SEQCLS_E_RANGE, "max_size", seqcls_vocab_build(v, 0, SEQCLS_VOCAB_MAX + 1));
    OK(seqcls_vocab_add_text(v, "a b", 3));
    OK(seqcls_vocab_build(v, 0, SEQCLS_VOCAB_MAX));
    FAILS(SEQCLS_E_STATE, "already built", seqcls_vocab_build(v, 0, 0));
    FAILS(SEQCLS_E_STATE, "already built", seqcls_vocab_add_text(v, "c", 1));
    /* built */
    FAILS(SEQCLS_E_INVALID_ARG, "token is NULL", seqcls_vocab_id(v, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "negative", seqcls_vocab_encode(v, "a", 1, ids, -1, &n));
    FAILS(SEQCLS_E_INVALID_ARG, "ids is NULL", seqcls_vocab_encode(v, "a", 1, NULL, 4, &n));
    FAILS(SEQCLS_E_INVALID_ARG, "text is NULL", seqcls_vocab_encode(v, NULL, 1, ids, 4, &n));
    FAILS(SEQCLS_E_RANGE, "longer than",
          seqcls_vocab_encode(v, "a", (size_t)SEQCLS_TEXT_MAX + 1, ids, 4, &n));
    FAILS(SEQCLS_E_INVALID_ARG, "len_out is NULL", seqcls_vocab_decode(v, ids, 0, buf, 16, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "ids is NULL", seqcls_vocab_decode(v, NULL, 2, buf, 16, &len));
    FAILS(SEQCLS_E_INVALID_ARG, "buf is NULL", seqcls_vocab_decode(v, ids, 0, NULL, 16, &len));
    FAILS(SEQCLS_E_INVALID_ARG, "negative", seqcls_vocab_decode(v, ids, -2, buf, 16, &len));
    FAILS(SEQCLS_E_INVALID_ARG, "buf is NULL", seqcls_vocab_save_buffer(v, NULL, &len));
    FAILS(SEQCLS_E_INVALID_ARG, "len is NULL", seqcls_vocab_save_buffer(v, &p, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "out is NULL", seqcls_vocab_load_buffer(NULL, "", 0));
    seqcls_vocab_free(v);
    v = (seqcls_vocab_t *)&len;   /* any non-NULL value: must be reset */
    FAILS(SEQCLS_E_INVALID_ARG, "buf is NULL", seqcls_vocab_load_buffer(&v, NULL, 8));
    ck_assert_ptr_null(v);
}
END_TEST

/* Serialised form of "<pad>", "<unk>", "the", "caf\xc3\xa9". */
static const unsigned char SAMPLE[] = {
    4, 0, 0, 0,
    5, 0, 0, 0, '<', 'p', 'a', 'd', '>',
    5, 0, 0, 0, '<', 'u', 'n', 'k', '>',
    3, 0, 0, 0, 't', 'h', 'e',
    5, 0, 0, 0, 'c', 'a', 'f', 0xc3, 0xa9,
};

START_TEST(serialise_round_trip)
{
    const char *docs[] = {"the caf\xc3\xa9 the"};
    seqcls_vocab_t *v = vocab_of(docs, 1, 0, 0), *w = NULL;
    void *buf = NULL;
    size_t len = 0;
    int32_t ids[4], n;
    OK(seqcls_vocab_save_buffer(v, &buf, &len));
    ck_assert_uint_eq(len, sizeof SAMPLE);
    ck_assert_int_eq(memcmp(buf, SAMPLE, len), 0);
    OK(seqcls_vocab_load_buffer(&w, buf, len));
    expect_tokens(w, (const char *const[]){"<pad>", "<unk>", "the", "caf\xc3\xa9"}, 4);
    OK(seqcls_vocab_encode(w, "Caf\xc3\x89 THE x", 11, ids, 4, &n));
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(ids[0], 3);
    ck_assert_int_eq(ids[1], 2);
    ck_assert_int_eq(ids[2], 1);
    FAILS(SEQCLS_E_STATE, "already built", seqcls_vocab_add_text(w, "x", 1));
    seqcls_free(buf);
    seqcls_vocab_free(w);
    seqcls_vocab_free(v);
}
END_TEST

static void load_fails(const void *buf, size_t len, const char *needle)
{
    seqcls_vocab_t *w = (seqcls_vocab_t *)&w;   /* must be set to NULL */
    FAILS(SEQCLS_E_FORMAT, needle, seqcls_vocab_load_buffer(&w, buf, len));
    ck_assert_ptr_null(w);
}

START_TEST(hostile_serialised_forms)
{
    unsigned char b[64];
    memcpy(b, SAMPLE, sizeof SAMPLE);
    load_fails(b, 0, "cannot hold");
    load_fails(b, 3, "cannot hold");
    b[0] = 1;
    load_fails(b, sizeof SAMPLE, "below 2");
    b[0] = 0xFF, b[1] = 0xFF, b[2] = 0xFF, b[3] = 0xFF;
    load_fails(b, sizeof SAMPLE, "above the limit");
    b[0] = 0, b[1] = 0, b[2] = 0, b[3] = 1;      /* 2^24 */
    load_fails(b, sizeof SAMPLE, "needs more");
    b[0] = 100, b[3] = 0;
    load_fails(b, sizeof SAMPLE, "needs more");
    memcpy(b, SAMPLE, sizeof SAMPLE);
    b[0] = 5;                                       /* one more than present */
    load_fails(b, sizeof SAMPLE, "token 4 of 5");
    memcpy(b, SAMPLE, sizeof SAMPLE);
    b[22] = 0;                                      /* "the" of length 0 */
    load_fails(b, sizeof SAMPLE, "length 0 is outside");
    b[22] = 0xFF, b[25] = 0xFF;                     /* huge length */
    load_fails(b, sizeof SAMPLE, "is outside");
    memcpy(b, SAMPLE, sizeof SAMPLE);
    b[22] = 40;                                     /* runs past the end */
    load_fails(b, sizeof SAMPLE, "past the end");
    memcpy(b, SAMPLE, sizeof SAMPLE);
    b[36] = 0x28;                                   /* "caf\xc3(" */
    load_fails(b, sizeof SAMPLE, "not valid UTF-8");
    memcpy(b, SAMPLE, sizeof SAMPLE);
    b[27] = 0;                                      /* "t\0e" */
    load_fails(b, sizeof SAMPLE, "NUL");
    memcpy(b, SAMPLE, sizeof SAMPLE);
    b[9] = 'P';
    load_fails(b, sizeof SAMPLE, "reserved \"<pad>\"");
    memcpy(b, SAMPLE, sizeof SAMPLE);
    memcpy(b + 17, "<pad>", 5);
    load_fails(b, sizeof SAMPLE, "reserved \"<unk>\"");
    memcpy(b, SAMPLE, sizeof SAMPLE);
    memcpy(b + 29, "\x03\0\0\0the", 7);             /* "the" twice: 7 bytes < 9 */
    load_fails(b, sizeof SAMPLE - 2, "token 3 of 4 is a duplicate");
    memcpy(b, SAMPLE, sizeof SAMPLE);
    b[sizeof SAMPLE] = 0;
    load_fails(b, sizeof SAMPLE + 1, "1 trailing bytes");
}
END_TEST

/* Every truncation is refused; every single-byte change is refused or,
 * if it still makes a valid vocabulary, saved back byte for byte. */
START_TEST(every_corruption_and_truncation)
{
    const char *docs[] = {"one two two three three three \xc3\xa9t\xc3\xa9 \xe6\x97\xa5 don't"};
    seqcls_vocab_t *v = vocab_of(docs, 1, 0, 0), *w;
    void *buf = NULL, *again;
    unsigned char *b;
    size_t len = 0, i, alen;
    int x, accepted = 0;
    OK(seqcls_vocab_save_buffer(v, &buf, &len));
    b = buf;
    for (i = 0; i < len; i++) {
        w = NULL;
        ck_assert_int_eq(seqcls_vocab_load_buffer(&w, b, i), SEQCLS_E_FORMAT);
        ck_assert_ptr_null(w);
    }
    for (i = 0; i < len; i++) {
        unsigned char orig = b[i];
        for (x = 0; x < 256; x++) {
            int rc;
            if (x == orig)
                continue;
            b[i] = (unsigned char)x;
            w = NULL;
            rc = seqcls_vocab_load_buffer(&w, b, len);
            ck_assert_msg(rc == SEQCLS_OK || rc == SEQCLS_E_FORMAT, "byte %zu = %d: rc %d", i,
                          x, rc);
            if (rc == SEQCLS_OK) {
                accepted++;
                OK(seqcls_vocab_save_buffer(w, &again, &alen));
                ck_assert_uint_eq(alen, len);
                ck_assert_int_eq(memcmp(again, b, len), 0);
                seqcls_free(again);
                seqcls_vocab_free(w);
            } else {
                ck_assert_ptr_null(w);
                ck_assert_uint_gt(strlen(seqcls_last_error()), 10);
            }
        }
        b[i] = orig;
    }
    ck_assert_int_gt(accepted, 0);   /* e.g. a letter changed to another letter */
    seqcls_free(buf);
    seqcls_vocab_free(v);
}
END_TEST

/* The public-API part of fuzz/fuzz_vocab.c on one input. */
static void replay(const unsigned char *data, size_t size)
{
    seqcls_vocab_t *v = NULL, *w = NULL;
    int32_t st[64], en[64], ids[64], n = 0, n2 = 0;
    char *dec = malloc(64 * (SEQCLS_TOKEN_MAX + 1) + 1);
    size_t dlen;
    int rc;
    ck_assert_ptr_nonnull(dec);
    OK(seqcls_tokenize((const char *)data, size, st, en, 64, &n));
    OK(seqcls_vocab_create(&v));
    OK(seqcls_vocab_add_text(v, (const char *)data, size));
    OK(seqcls_vocab_build(v, size ? data[0] % 3 : 0, 0));
    OK(seqcls_vocab_encode(v, (const char *)data, size, ids, 64, &n2));
    ck_assert_int_eq(n, n2);
    OK(seqcls_vocab_decode(v, ids, 64, dec, 64 * (SEQCLS_TOKEN_MAX + 1) + 1, &dlen));
    seqcls_vocab_free(v);
    rc = seqcls_vocab_load_buffer(&w, data, size);
    ck_assert(rc == SEQCLS_OK || rc == SEQCLS_E_FORMAT);
    seqcls_vocab_free(w);
    free(dec);
}

START_TEST(fuzz_regressions_replay)
{
    const char *dirs[] = {"fuzz/regressions/vocab", "../fuzz/regressions/vocab"};
    DIR *d = NULL;
    struct dirent *e;
    const char *dir = NULL;
    size_t k;
    int files = 0;
    for (k = 0; k < 2 && !d; k++)
        if ((d = opendir(dirs[k])) != NULL)
            dir = dirs[k];
    ck_assert_msg(d != NULL, "fuzz/regressions/vocab not found from the working directory");
    while ((e = readdir(d)) != NULL) {
        char path[1024];
        unsigned char *data;
        long size;
        FILE *f;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        f = fopen(path, "rb");
        ck_assert_ptr_nonnull(f);
        fseek(f, 0, SEEK_END);
        size = ftell(f);
        fseek(f, 0, SEEK_SET);
        data = malloc((size_t)size + 1);
        ck_assert_ptr_nonnull(data);
        ck_assert_uint_eq(fread(data, 1, (size_t)size, f), (size_t)size);
        fclose(f);
        replay(data, (size_t)size);
        free(data);
        files++;
    }
    closedir(d);
    ck_assert_int_gt(files, 0);
}
END_TEST

Suite *vocab_suite(void)
{
    Suite *s = suite_create("vocab");
    TCase *tc = tcase_create("vocab");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, markup_is_stripped);
    tcase_add_test(tc, apostrophes_and_punctuation);
    tcase_add_test(tc, utf8_case_folding_and_scripts);
    tcase_add_test(tc, invalid_utf8_is_replaced);
    tcase_add_test(tc, empty_whitespace_and_nul);
    tcase_add_test(tc, long_tokens_are_cut_at_a_character);
    tcase_add_test(tc, spans_point_into_the_original_text);
    tcase_add_test(tc, build_orders_and_limits);
    tcase_add_test(tc, build_many_tokens);
    tcase_add_test(tc, encode_truncates_and_pads);
    tcase_add_test(tc, decode_round_trip_and_sizes);
    tcase_add_test(tc, errors_for_nulls_and_order);
    tcase_add_test(tc, serialise_round_trip);
    tcase_add_test(tc, hostile_serialised_forms);
    tcase_add_test(tc, every_corruption_and_truncation);
    tcase_add_test(tc, fuzz_regressions_replay);
    suite_add_tcase(s, tc);
    return s;
}
