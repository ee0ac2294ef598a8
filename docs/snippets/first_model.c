/* docs/getting-started.md: the first model, in C. */
#include <seqcls.h>
#include <stdio.h>

#define CHECK(call) \
    do { if ((call) != SEQCLS_OK) { fprintf(stderr, "%s\n", seqcls_last_error()); return 1; } } while (0)

int main(void)
{
    /* Two rows of token ids, padded to 4 steps; lengths say which steps count. */
    int32_t ids[8] = {5, 17, 42, 0, 7, 7, 0, 0}, lengths[2] = {3, 2}, labels[2] = {1, 0};
    float probs[2];
    int64_t xs[2] = {2, 4}, ys[1] = {2}, ps[2] = {2, 1};
    seqcls_model_t *m = NULL, *again = NULL;
    seqcls_optimizer_t *adam = NULL;
    seqcls_tensor_t *x = NULL, *y = NULL, *p = NULL;

    CHECK(seqcls_model_create(&m, 42));
    CHECK(seqcls_add_embedding(m, 100, 16, 0, NULL));   /* vocab 100, dim 16, id 0 = padding */
    CHECK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    CHECK(seqcls_add_output(m, 1, NULL));               /* one logit: sigmoid + BCE */
    CHECK(seqcls_optimizer_create(&adam, SEQCLS_OPTIM_ADAM, 0.05f));
    CHECK(seqcls_tensor_wrap(&x, SEQCLS_I32, 2, xs, ids));   /* no copies */
    CHECK(seqcls_tensor_wrap(&y, SEQCLS_I32, 1, ys, labels));
    CHECK(seqcls_tensor_wrap(&p, SEQCLS_F32, 2, ps, probs));

    for (int step = 0; step < 50; step++) {
        CHECK(seqcls_zero_grad(m));
        CHECK(seqcls_forward(m, x, lengths, NULL, 1));
        CHECK(seqcls_loss_backward(m, y, NULL));
        CHECK(seqcls_optimizer_step(adam, m));
    }
    CHECK(seqcls_predict(m, x, lengths, p, NULL));
    printf("p(positive) = %.3f %.3f\n", probs[0], probs[1]);

    CHECK(seqcls_model_save(m, "first_model.sqcl"));
    CHECK(seqcls_model_load(&again, "first_model.sqcl"));
    CHECK(seqcls_predict(again, x, lengths, p, NULL));
    printf("reloaded:       %.3f %.3f\n", probs[0], probs[1]);
    remove("first_model.sqcl");

    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    seqcls_tensor_free(p);
    seqcls_optimizer_free(adam);
    seqcls_model_free(again);
    seqcls_model_free(m);
    return 0;
}
