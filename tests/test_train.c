/*
 * test_train.c -- end-to-end learning through the public API: a model
 * must actually learn a task it can only solve by reading the right
 * step, and training must be reproducible from the seed.
 */
#include "testutil.h"

#define B 32
#define T 12
#define V 30

/* Task: 3 classes, the class is (last valid token) mod 3; rows have
 * random lengths 1..T and random junk at padding steps. */
static void make_batch(uint64_t *rng, int32_t *ids, int32_t *lens, int32_t *labels)
{
    int b, t;
    for (b = 0; b < B; b++) {
        lens[b] = 1 + (int32_t)(tu_next(rng) % T);
        for (t = 0; t < T; t++)
            ids[b * T + t] = 1 + (int32_t)(tu_next(rng) % (V - 1));
        labels[b] = ids[b * T + lens[b] - 1] % 3;
    }
}

static seqcls_model_t *build(uint64_t seed)
{
    seqcls_model_t *m = NULL;
    OK(seqcls_model_create(&m, seed));
    OK(seqcls_add_embedding(m, V, 8, 0, NULL));
    OK(seqcls_add_dense(m, 16, SEQCLS_ACT_TANH, NULL));   /* time-distributed */
    OK(seqcls_add_pooling(m, SEQCLS_POOL_LAST, NULL));
    OK(seqcls_add_dropout(m, 0.1f, NULL));
    OK(seqcls_add_output(m, 3, NULL));
    return m;
}

/* Train `steps` Adam steps; return the accuracy on fresh batches. */
static double train(seqcls_model_t *m, int steps, uint64_t data_seed)
{
    seqcls_tensor_t *ids = tu_tensor(SEQCLS_I32, 2, B, T, 0);
    seqcls_tensor_t *labels = tu_tensor(SEQCLS_I32, 1, B, 0, 0);
    seqcls_tensor_t *probs = tu_tensor(SEQCLS_F32, 2, B, 3, 0);
    seqcls_optimizer_t *o = NULL;
    int32_t lens[B];
    int s, b, right = 0, total = 0;
    float loss = 0, first = -1;
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, 0.01f));
    for (s = 0; s < steps; s++) {
        make_batch(&data_seed, seqcls_tensor_data(ids), lens, seqcls_tensor_data(labels));
        OK(seqcls_zero_grad(m));
        OK(seqcls_forward(m, ids, lens, NULL, 1));
        OK(seqcls_loss_backward(m, labels, &loss));
        OK(seqcls_optimizer_step(o, m));
        if (first < 0)
            first = loss;
    }
    ck_assert_msg(loss < first, "loss did not fall: %g -> %g", first, loss);
    for (s = 0; s < 10; s++) {
        const real_t *p = seqcls_tensor_data(probs);
        const int32_t *y = seqcls_tensor_data(labels);
        make_batch(&data_seed, seqcls_tensor_data(ids), lens, seqcls_tensor_data(labels));
        OK(seqcls_predict(m, ids, lens, probs, NULL));
        for (b = 0; b < B; b++) {
            int c, best = 0;
            for (c = 1; c < 3; c++)
                if (p[b * 3 + c] > p[b * 3 + best])
                    best = c;
            right += best == y[b];
            total++;
        }
    }
    seqcls_optimizer_free(o);
    seqcls_tensor_free(ids);
    seqcls_tensor_free(labels);
    seqcls_tensor_free(probs);
    return (double)right / total;
}

START_TEST(learns_a_task_that_needs_the_lengths)
{
    seqcls_model_t *m = build(7);
    double acc = train(m, 300, 99);
    ck_assert_msg(acc >= 0.95, "accuracy %.3f", acc);
    seqcls_model_free(m);
}
END_TEST

START_TEST(training_is_reproducible_from_the_seed)
{
    seqcls_model_t *a = build(3), *b = build(3);
    train(a, 20, 5);
    train(b, 20, 5);
    tu_assert_same_params(a, b);
    seqcls_model_free(a);
    seqcls_model_free(b);
}
END_TEST

Suite *train_suite(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("train");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, learns_a_task_that_needs_the_lengths);
    tcase_add_test(tc, training_is_reproducible_from_the_seed);
    suite_add_tcase(s, tc);
    return s;
}
