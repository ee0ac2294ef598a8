/*
 * presence.c -- train a classifier for "does token 7 occur in the
 * sequence?" on generated data and report its accuracy.
 *
 * It links the shared library and uses only the public API:
 *   embedding -> max pooling over the valid steps -> dense(relu) -> output(1)
 * Exit status 0 when the test accuracy reaches 98%.
 */
#include <stdio.h>
#include <stdlib.h>

#include <seqcls.h>

#define VOCAB 50
#define MAXLEN 20
#define BATCH 64
#define TARGET 7

static uint64_t rng_state = 2024;

static int rand_below(int n)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (int)((rng_state >> 33) % (uint64_t)n);
}

/* Half the rows contain the target token, half do not; lengths vary. */
static void make_batch(int32_t *ids, int32_t *lengths, int32_t *labels)
{
    for (int b = 0; b < BATCH; b++) {
        int len = 1 + rand_below(MAXLEN);
        lengths[b] = len;
        labels[b] = rand_below(2);
        for (int t = 0; t < MAXLEN; t++) {
            int id;
            do
                id = 1 + rand_below(VOCAB - 1);
            while (id == TARGET);
            ids[b * MAXLEN + t] = t < len ? id : 0;
        }
        if (labels[b])
            ids[b * MAXLEN + rand_below(len)] = TARGET;
    }
}

static int check(int status, const char *what)
{
    if (status != SEQCLS_OK) {
        fprintf(stderr, "presence: %s failed: %s\n", what, seqcls_last_error());
        exit(1);
    }
    return status;
}

int main(void)
{
    seqcls_model_t *model = NULL;
    seqcls_optimizer_t *adam = NULL;
    seqcls_tensor_t *ids = NULL, *labels = NULL, *probs = NULL;
    int32_t lengths[BATCH];
    int64_t shape_ids[2] = {BATCH, MAXLEN}, shape_lab[1] = {BATCH}, shape_p[2] = {BATCH, 1};
    int right = 0, total = 0;

    printf("seqcls %s: learning whether token %d occurs in a sequence\n",
           seqcls_version_string(), TARGET);
    check(seqcls_model_create(&model, 1), "model_create");
    check(seqcls_add_embedding(model, VOCAB, 16, 0, NULL), "add_embedding");
    check(seqcls_add_pooling(model, SEQCLS_POOL_MAX, NULL), "add_pooling");
    check(seqcls_add_dense(model, 16, SEQCLS_ACT_RELU, NULL), "add_dense");
    check(seqcls_add_output(model, 1, NULL), "add_output");
    check(seqcls_optimizer_create(&adam, SEQCLS_OPTIM_ADAM, 0.01f), "optimizer_create");
    check(seqcls_tensor_create(&ids, SEQCLS_I32, 2, shape_ids), "tensor_create");
    check(seqcls_tensor_create(&labels, SEQCLS_I32, 1, shape_lab), "tensor_create");
    check(seqcls_tensor_create(&probs, SEQCLS_F32, 2, shape_p), "tensor_create");

    for (int epoch = 1; epoch <= 10; epoch++) {
        double sum = 0;
        for (int step = 0; step < 30; step++) {
            float loss;
            make_batch(seqcls_tensor_data(ids), lengths, seqcls_tensor_data(labels));
            check(seqcls_zero_grad(model), "zero_grad");
            check(seqcls_forward(model, ids, lengths, NULL, 1), "forward");
            check(seqcls_loss_backward(model, labels, &loss), "loss_backward");
            check(seqcls_optimizer_step(adam, model), "optimizer_step");
            sum += loss;
        }
        printf("epoch %2d  loss %.4f\n", epoch, sum / 30);
    }

    for (int step = 0; step < 20; step++) {
        const float *p = seqcls_tensor_data(probs);
        const int32_t *y = seqcls_tensor_data(labels);
        make_batch(seqcls_tensor_data(ids), lengths, seqcls_tensor_data(labels));
        check(seqcls_predict(model, ids, lengths, probs, NULL), "predict");
        for (int b = 0; b < BATCH; b++, total++)
            right += (p[b] > 0.5f) == (y[b] == 1);
    }
    printf("test accuracy %.2f%% on %d new sequences\n", 100.0 * right / total, total);

    seqcls_tensor_free(ids);
    seqcls_tensor_free(labels);
    seqcls_tensor_free(probs);
    seqcls_optimizer_free(adam);
    seqcls_model_free(model);
    return right >= 0.98 * total ? 0 : 1;
}
