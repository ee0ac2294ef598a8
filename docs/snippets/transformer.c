/* A transformer encoder classifier: rows of noise tokens with one key
 * token, 2 (class 1) or 3 (class 0), somewhere; the model must find it. */
#include <stdio.h>
#include <stdlib.h>

#include <seqcls.h>

enum { ROWS = 512, T = 12, VOCAB = 30, D = 32, HEADS = 4 };

static void check(int status, const char *what)
{
    if (status != SEQCLS_OK) {
        fprintf(stderr, "%s: %s\n", what, seqcls_last_error());
        exit(1);
    }
}

int main(void)
{
    static int32_t ids[ROWS * T], lengths[ROWS], labels[ROWS];
    static float att[HEADS * T * T];
    int64_t sx[2] = {ROWS, T}, sy[1] = {ROWS}, sa[4] = {1, HEADS, T, T};
    seqcls_model_t *m = NULL;
    seqcls_optimizer_t *adam = NULL;
    seqcls_tensor_t *x = NULL, *y = NULL, *w = NULL;
    seqcls_metrics_t *mt = NULL;
    int pe, last = 0;
    uint64_t s = 7;

    for (int n = 0; n < ROWS; n++) {
        lengths[n] = 4 + (int)((s = s * 6364136223846793005u + 1) >> 33) % (T - 3);
        for (int t = 0; t < T; t++) {
            s = s * 6364136223846793005u + 1;
            ids[n * T + t] = t < lengths[n] ? 4 + (int)((s >> 33) % (VOCAB - 4)) : 0;
        }
        labels[n] = (int)((s = s * 6364136223846793005u + 1) >> 33) & 1;
        s = s * 6364136223846793005u + 1;
        ids[n * T + (int)((s >> 33) % (uint64_t)lengths[n])] = labels[n] ? 2 : 3;
    }

    /* "Attention is all you need": embedding x sqrt(d) + sinusoids, two
     * encoder layers (nn.TransformerEncoderLayer(32, 4, 64, batch_first=True)),
     * the mean of the valid steps, a sigmoid output */
    check(seqcls_model_create(&m, 1), "model");
    check(seqcls_add_embedding(m, VOCAB, D, 0, NULL), "embedding");
    check(seqcls_add_positional_encoding(m, SEQCLS_POS_SINUSOIDAL, T, &pe), "positions");
    check(seqcls_layer_set_int(m, pe, SEQCLS_OPT_SCALE_INPUT, 1), "positions");
    for (int l = 0; l < 2; l++)
        check(seqcls_add_transformer_encoder(m, HEADS, 2 * D, 0, &last), "encoder");
    check(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL), "pooling");
    check(seqcls_add_output(m, 1, NULL), "output");

    check(seqcls_tensor_wrap(&x, SEQCLS_I32, 2, sx, ids), "ids");
    check(seqcls_tensor_wrap(&y, SEQCLS_I32, 1, sy, labels), "labels");
    check(seqcls_optimizer_create(&adam, SEQCLS_OPTIM_ADAM, 0.005f), "optimizer");
    check(seqcls_fit(m, adam, x, lengths, y, NULL, NULL, NULL, NULL), "fit");   /* 5 epochs */
    check(seqcls_evaluate(m, x, lengths, y, 0, &mt), "evaluate");
    printf("training accuracy %.3f\n", seqcls_metrics_get(mt, SEQCLS_METRIC_ACCURACY, 0));

    /* the last layer's self-attention on row 0: the weight each token
     * receives, averaged over the heads and the queries (what the mean
     * pooling reads) */
    seqcls_tensor_t *row = NULL;
    int64_t s1[2] = {1, T};
    check(seqcls_tensor_wrap(&row, SEQCLS_I32, 2, s1, ids), "row");
    check(seqcls_forward(m, row, lengths, NULL, 0), "forward");
    check(seqcls_tensor_wrap(&w, SEQCLS_F32, 4, sa, att), "weights");
    check(seqcls_self_attention_weights(m, last, w), "self-attention");
    for (int k = 0; k < lengths[0]; k++) {
        float got = 0;
        for (int h = 0; h < HEADS; h++)
            for (int q = 0; q < lengths[0]; q++)
                got += att[(h * T + q) * T + k] / (HEADS * lengths[0]);
        printf("token %2d  %.3f%s\n", ids[k], got, ids[k] < 4 ? "  <- key" : "");
    }

    seqcls_metrics_free(mt);
    seqcls_tensor_free(row);
    seqcls_tensor_free(w);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    seqcls_optimizer_free(adam);
    seqcls_model_free(m);
    return 0;
}
