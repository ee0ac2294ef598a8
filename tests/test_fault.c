/*
 * test_fault.c -- allocation failure at every allocation site of a model
 * build, a training step, a fit, an evaluation and a prediction: each
 * must give SEQCLS_E_NOMEM with a message, never a crash or (under ASan
 * and valgrind) a leak.  Runs against the test build, which has the
 * fault-injection hook.
 */
#include <stdio.h>

#include "testutil.h"

void seqcls__fault_fail_after(long n);
long seqcls__fault_allocations(void);

#define B 6
#define T 7

/* Every public call a training program makes; frees everything it made. */
static int scenario(void)
{
    seqcls_model_t *m = NULL;
    seqcls_optimizer_t *o = NULL;
    seqcls_fit_config_t *c = NULL;
    seqcls_metrics_t *mt = NULL;
    seqcls_tensor_t *ids = NULL, *y = NULL, *p = NULL, *att = NULL;
    seqcls_vocab_t *v = NULL, *v2 = NULL;
    void *vbuf = NULL;
    size_t vlen = 0;
    int32_t enc[16], n_enc;
    char dec[128];
    int64_t s_ids[2] = {B, T}, s_y[1] = {B}, s_p[2] = {B, 3}, s_att[2] = {B, T};
    int32_t lens[B] = {7, 1, 0, 3, 7, 5};
    float loss;
    int rc, i;

    /* text front end */
    if ((rc = seqcls_vocab_create(&v)) ||
        (rc = seqcls_vocab_add_text(v, "The <b>cat</b> sat; the cat's hat!", 34)) ||
        (rc = seqcls_vocab_add_text(v, "Caf\xc3\xa9 au lait", 13)) ||
        (rc = seqcls_vocab_build(v, 1, 0)) ||
        (rc = seqcls_vocab_encode(v, "the cat and the dog", 19, enc, 16, &n_enc)) ||
        (rc = seqcls_vocab_decode(v, enc, n_enc, dec, sizeof dec, &vlen)) ||
        (rc = seqcls_vocab_save_buffer(v, &vbuf, &vlen)) ||
        (rc = seqcls_vocab_load_buffer(&v2, vbuf, vlen)))
        goto done;
    if ((rc = seqcls_model_create(&m, 3)) || (rc = seqcls_add_embedding(m, 11, 4, 0, NULL)) ||
        (rc = seqcls_add_dense(m, 5, SEQCLS_ACT_TANH, NULL)) ||
        (rc = seqcls_add_dropout(m, 0.2f, NULL)) ||
        (rc = seqcls_add_attention(m, SEQCLS_ATTN_LEARNED_QUERY, 3, NULL)) ||
        (rc = seqcls_add_batchnorm(m, NULL)) || (rc = seqcls_add_output(m, 3, NULL)) ||
        (rc = seqcls_tensor_create(&ids, SEQCLS_I32, 2, s_ids)) ||
        (rc = seqcls_tensor_create(&y, SEQCLS_I32, 1, s_y)) ||
        (rc = seqcls_tensor_create(&p, SEQCLS_F32, 2, s_p)) ||
        (rc = seqcls_tensor_create(&att, SEQCLS_F32, 2, s_att)))
        goto done;
    for (i = 0; i < B * T; i++)
        ((int32_t *)seqcls_tensor_data(ids))[i] = 1 + i % 10;
    for (i = 0; i < B; i++)
        ((int32_t *)seqcls_tensor_data(y))[i] = i % 3;
    if ((rc = seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, 0.01f)) ||
        (rc = seqcls_forward(m, ids, lens, NULL, 1)) ||
        (rc = seqcls_loss_backward(m, y, &loss)) || (rc = seqcls_optimizer_step(o, m)) ||
        (rc = seqcls_predict(m, ids, lens, p, att)) ||
        (rc = seqcls_fit_config_create(&c)) ||
        (rc = seqcls_fit_config_set_int(c, SEQCLS_FIT_EPOCHS, 2)) ||
        (rc = seqcls_fit_config_set_int(c, SEQCLS_FIT_BATCH_SIZE, 2)) ||
        (rc = seqcls_fit(m, o, ids, lens, y, ids, lens, y, c)) ||
        (rc = seqcls_evaluate(m, ids, lens, y, 4, &mt)))
        goto done;
done:
    seqcls_vocab_free(v);
    seqcls_vocab_free(v2);
    seqcls_free(vbuf);
    seqcls_metrics_free(mt);
    seqcls_fit_config_free(c);
    seqcls_optimizer_free(o);
    seqcls_tensor_free(ids);
    seqcls_tensor_free(y);
    seqcls_tensor_free(p);
    seqcls_tensor_free(att);
    seqcls_model_free(m);
    return rc;
}

START_TEST(every_allocation_failure_is_reported)
{
    long total, n;
    int failures = 0;
    seqcls__fault_fail_after(0);
    OK(scenario());
    total = seqcls__fault_allocations();
    ck_assert_int_gt(total, 20);
    for (n = 1; n <= total; n++) {
        int rc;
        seqcls__fault_fail_after(n);
        rc = scenario();
        ck_assert_msg(rc == SEQCLS_E_NOMEM,
                      "allocation %ld of %ld: status %d (%s)", n, total, rc, seqcls_last_error());
        ck_assert_msg(strstr(seqcls_last_error(), "out of memory") != NULL,
                      "allocation %ld: message '%s'", n, seqcls_last_error());
        /* and names the public call that failed */
        ck_assert_msg(strncmp(seqcls_last_error(), "seqcls_", 7) == 0 &&
                          strstr(seqcls_last_error(), ": ") != NULL,
                      "allocation %ld: message '%s' does not name the function", n,
                      seqcls_last_error());
        failures++;
    }
    seqcls__fault_fail_after(0);
    printf("  allocation failure: %ld sites tried, %d reported SEQCLS_E_NOMEM\n", total, failures);
}
END_TEST

/* Workspaces are sized on the first step of a shape and kept: later
 * training steps and predictions of the same shape allocate nothing, on
 * one thread or several. */
START_TEST(steps_after_the_first_allocate_nothing)
{
    seqcls_model_t *m = NULL;
    seqcls_optimizer_t *o = NULL;
    seqcls_tensor_t *ids = NULL, *y = NULL, *p = NULL;
    int64_t s_ids[2] = {40, 30}, s_y[1] = {40}, s_p[2] = {40, 1};
    int32_t lens[40];
    int i, threads;
    for (i = 0; i < 40; i++)
        lens[i] = 1 + (i * 7) % 30;
    for (threads = 1; threads <= 2; threads++) {
        OK(seqcls_set_num_threads(threads));
        OK(seqcls_model_create(&m, 3));
        OK(seqcls_add_embedding(m, 50, 16, 0, NULL));
        OK(seqcls_add_lstm(m, 24, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
        OK(seqcls_add_gru(m, 20, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
        OK(seqcls_add_attention(m, SEQCLS_ATTN_BAHDANAU, 12, NULL));
        OK(seqcls_add_dense(m, 8, SEQCLS_ACT_RELU, NULL));
        OK(seqcls_add_dropout(m, 0.5f, NULL));
        OK(seqcls_add_output(m, 1, NULL));
        OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, 1e-3f));
        OK(seqcls_tensor_create(&ids, SEQCLS_I32, 2, s_ids));
        OK(seqcls_tensor_create(&y, SEQCLS_I32, 1, s_y));
        OK(seqcls_tensor_create(&p, SEQCLS_F32, 2, s_p));
        tu_fill_ids(ids, 1, 50, 5);
        for (i = 0; i < 40; i++)
            ((int32_t *)seqcls_tensor_data(y))[i] = i & 1;
        for (i = 0; i < 3; i++) {
            if (i == 2)
                seqcls__fault_fail_after(0);   /* count from here */
            OK(seqcls_zero_grad(m));
            OK(seqcls_forward(m, ids, lens, NULL, 1));
            OK(seqcls_loss_backward(m, y, NULL));
            OK(seqcls_optimizer_step(o, m));
            OK(seqcls_predict(m, ids, lens, p, NULL));
        }
        ck_assert_msg(seqcls__fault_allocations() == 0,
                      "a training step and a prediction allocated, %d threads", threads);
        seqcls_tensor_free(ids);
        seqcls_tensor_free(y);
        seqcls_tensor_free(p);
        seqcls_optimizer_free(o);
        seqcls_model_free(m);
    }
    OK(seqcls_set_num_threads(0));
}
END_TEST

Suite *fault_suite(void)
{
    Suite *s = suite_create("fault injection");
    TCase *tc = tcase_create("allocation");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, every_allocation_failure_is_reported);
    tcase_add_test(tc, steps_after_the_first_allocate_nothing);
    suite_add_tcase(s, tc);
    return s;
}
