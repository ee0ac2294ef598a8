/*
 * architectures.c -- the reference architectures of seqcls, built with
 * the public API; the attention weights of one input printed after a
 * short training of model 4, and the accuracy of Kim's CNN (model 9)
 * trained on the same task (see docs/architectures.md).
 */
#include <stdio.h>
#include <stdlib.h>

#include <seqcls.h>

#define VOCAB 30
#define STEPS 12

static void check(int status, const char *what)
{
    if (status != SEQCLS_OK) {
        fprintf(stderr, "architectures: %s: %s\n", what, seqcls_last_error());
        exit(1);
    }
}

/* 1. The Keras IMDB tutorial: Embedding(mask) -> BiLSTM(seq) ->
 *    BiLSTM(seq + states) -> Bahdanau(query = final states) ->
 *    Dense(relu) -> Dropout -> Output(1). */
static seqcls_model_t *bilstm_bahdanau(void)
{
    seqcls_model_t *m = NULL;
    check(seqcls_model_create(&m, 1), "model");
    check(seqcls_add_embedding(m, VOCAB, 16, 0, NULL), "embedding");
    check(seqcls_add_lstm(m, 16, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL), "lstm");
    check(seqcls_add_lstm(m, 16, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL), "lstm");
    check(seqcls_add_attention(m, SEQCLS_ATTN_BAHDANAU, 16, NULL), "attention");
    check(seqcls_add_dense(m, 16, SEQCLS_ACT_RELU, NULL), "dense");
    check(seqcls_add_dropout(m, 0.3f, NULL), "dropout");
    check(seqcls_add_output(m, 1, NULL), "output");
    return m;
}

/* 2. The PyTorch tutorial: Embedding(padding) -> BiGRU -> final states
 *    (cat(h[-2], h[-1])) -> Dropout -> Output(1). */
static seqcls_model_t *bigru_final_states(void)
{
    seqcls_model_t *m = NULL;
    check(seqcls_model_create(&m, 2), "model");
    check(seqcls_add_embedding(m, VOCAB, 16, 0, NULL), "embedding");
    check(seqcls_add_gru(m, 16, SEQCLS_BIDIRECTIONAL, NULL), "gru");
    check(seqcls_add_dropout(m, 0.2f, NULL), "dropout");
    check(seqcls_add_output(m, 1, NULL), "output");
    return m;
}

/* 3. The Keras attention_3d_block example: float features -> LSTM(seq)
 *    -> per-feature softmax over time -> pooling -> Output(1). */
static seqcls_model_t *feature_time(void)
{
    seqcls_model_t *m = NULL;
    check(seqcls_model_create(&m, 3), "model");
    check(seqcls_add_input(m, 4, NULL), "input");
    check(seqcls_add_lstm(m, 8, SEQCLS_RETURN_SEQUENCES, NULL), "lstm");
    check(seqcls_add_attention(m, SEQCLS_ATTN_FEATURE_TIME, STEPS, NULL), "attention");
    check(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL), "pooling");
    check(seqcls_add_output(m, 1, NULL), "output");
    return m;
}

/* 4. Embedding -> BiLSTM with relu recurrent activation -> Bahdanau ->
 *    BatchNorm -> Output(1); train it with Adam and clipnorm 1. */
static seqcls_model_t *relu_bilstm_batchnorm(void)
{
    seqcls_model_t *m = NULL;
    int rnn;
    check(seqcls_model_create(&m, 4), "model");
    check(seqcls_add_embedding(m, VOCAB, 16, 0, NULL), "embedding");
    check(seqcls_add_lstm(m, 16, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, &rnn), "lstm");
    check(seqcls_layer_set_int(m, rnn, SEQCLS_OPT_RECURRENT_ACTIVATION, SEQCLS_ACT_RELU), "option");
    check(seqcls_add_attention(m, SEQCLS_ATTN_BAHDANAU, 16, NULL), "attention");
    check(seqcls_add_batchnorm(m, NULL), "batchnorm");
    check(seqcls_add_output(m, 1, NULL), "output");
    return m;
}

/* 5. The fastText-style baseline: Embedding -> mean pooling -> Output(C). */
static seqcls_model_t *mean_pool_baseline(int classes)
{
    seqcls_model_t *m = NULL;
    check(seqcls_model_create(&m, 5), "model");
    check(seqcls_add_embedding(m, VOCAB, 16, 0, NULL), "embedding");
    check(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL), "pooling");
    check(seqcls_add_output(m, classes, NULL), "output");
    return m;
}

/* 9. Kim's (2014) CNN for text (1.1): Embedding -> Conv1D(relu) -> max
 *    over time -> Dropout(0.5) -> Output(1). */
static seqcls_model_t *kim_cnn(void)
{
    seqcls_model_t *m = NULL;
    int conv;
    check(seqcls_model_create(&m, 6), "model");
    check(seqcls_add_embedding(m, VOCAB, 16, 0, NULL), "embedding");
    check(seqcls_add_conv1d(m, 32, 3, 0, &conv), "conv1d");   /* valid, as torch's default */
    check(seqcls_layer_set_int(m, conv, SEQCLS_OPT_ACTIVATION, SEQCLS_ACT_RELU), "activation");
    check(seqcls_add_pooling(m, SEQCLS_POOL_MAX, NULL), "pooling");
    check(seqcls_add_dropout(m, 0.5f, NULL), "dropout");
    check(seqcls_add_output(m, 1, NULL), "output");
    return m;
}

/* 10. Keras' attention after an LSTM, flattened (1.1): float features ->
 *    LSTM(seq) -> attention_3d_block -> Flatten -> Output(1). */
static seqcls_model_t *attention_flatten(void)
{
    seqcls_model_t *m = NULL;
    check(seqcls_model_create(&m, 7), "model");
    check(seqcls_add_input(m, 4, NULL), "input");
    check(seqcls_add_lstm(m, 8, SEQCLS_RETURN_SEQUENCES, NULL), "lstm");
    check(seqcls_add_attention(m, SEQCLS_ATTN_FEATURE_TIME, STEPS, NULL), "attention");
    check(seqcls_add_flatten(m, NULL), "flatten");   /* [B, STEPS * 8] */
    check(seqcls_add_output(m, 1, NULL), "output");
    return m;
}

/* Rows of noise tokens 4.. with one key token, 2 (class 1) or 3 (class 0). */
static void key_data(int32_t *ids, int32_t *lengths, int32_t *labels, int rows)
{
    uint64_t s = 7;
    for (int n = 0; n < rows; n++) {
        lengths[n] = 4 + (int)((s = s * 6364136223846793005ull + 1) >> 33) % (STEPS - 3);
        for (int t = 0; t < STEPS; t++) {
            s = s * 6364136223846793005ull + 1;
            ids[n * STEPS + t] = t < lengths[n] ? 4 + (int)((s >> 33) % (VOCAB - 4)) : 0;
        }
        s = s * 6364136223846793005ull + 1;
        labels[n] = (int)((s >> 33) & 1);
        s = s * 6364136223846793005ull + 1;
        ids[n * STEPS + (int)((s >> 33) % (uint64_t)lengths[n])] = labels[n] ? 2 : 3;
    }
}

int main(void)
{
    enum { ROWS = 512 };
    static int32_t ids[ROWS * STEPS], lengths[ROWS], labels[ROWS];
    seqcls_model_t *models[7] = {bilstm_bahdanau(), bigru_final_states(), feature_time(),
                                 relu_bilstm_batchnorm(), mean_pool_baseline(4), kim_cnn(),
                                 attention_flatten()};
    seqcls_optimizer_t *adam6 = NULL;
    seqcls_metrics_t *mt = NULL;
    seqcls_tensor_t *x = NULL, *y = NULL, *one = NULL, *p = NULL, *w = NULL;
    seqcls_optimizer_t *adam = NULL;
    int64_t sx[2] = {ROWS, STEPS}, sy[1] = {ROWS}, s1[2] = {1, STEPS}, sp[2] = {1, 1};

    /* (models 6 to 8 of docs/architectures.md have programs of their own) */
    static const int number[7] = {1, 2, 3, 4, 5, 9, 10};
    for (int i = 0; i < 7; i++)
        printf("model %d: %d layers, %d parameter tensors\n", number[i],
               seqcls_layer_count(models[i]), seqcls_param_count(models[i]));

    /* Train model 4 briefly on the key task and show where it looks (its
     * single BiLSTM leaves the attention more to do than model 1's two). */
    key_data(ids, lengths, labels, ROWS);
    check(seqcls_tensor_wrap(&x, SEQCLS_I32, 2, sx, ids), "wrap");
    check(seqcls_tensor_wrap(&y, SEQCLS_I32, 1, sy, labels), "wrap");
    check(seqcls_optimizer_create(&adam, SEQCLS_OPTIM_ADAM, 0.005f), "optimizer");
    check(seqcls_optimizer_set_float(adam, SEQCLS_OPTIM_CLIPNORM, 1.0f), "clipnorm");
    check(seqcls_fit(models[3], adam, x, lengths, y, NULL, NULL, NULL, NULL), "fit");
    check(seqcls_tensor_wrap(&one, SEQCLS_I32, 2, s1, ids), "wrap");
    check(seqcls_tensor_create(&p, SEQCLS_F32, 2, sp), "tensor");
    check(seqcls_tensor_create(&w, SEQCLS_F32, 2, s1), "tensor");
    check(seqcls_predict(models[3], one, lengths, p, w), "predict");
    printf("input 0 (key token %d), p(class 1) = %.3f, attention:\n", labels[0] ? 2 : 3,
           ((float *)seqcls_tensor_data(p))[0]);
    for (int t = 0; t < lengths[0]; t++)
        printf("  step %2d  token %2d  %.3f %s\n", t, ids[t], ((float *)seqcls_tensor_data(w))[t],
               ids[t] < 4 ? "<- key" : "");

    /* Kim's CNN on the same task: a filter that fires on the key token */
    check(seqcls_optimizer_create(&adam6, SEQCLS_OPTIM_ADAM, 0.005f), "optimizer");
    check(seqcls_fit(models[5], adam6, x, lengths, y, NULL, NULL, NULL, NULL), "fit");
    check(seqcls_evaluate(models[5], x, lengths, y, 0, &mt), "evaluate");
    printf("Kim's CNN: training accuracy %.3f\n", seqcls_metrics_get(mt, SEQCLS_METRIC_ACCURACY, 0));
    seqcls_metrics_free(mt);
    seqcls_optimizer_free(adam6);

    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    seqcls_tensor_free(one);
    seqcls_tensor_free(p);
    seqcls_tensor_free(w);
    seqcls_optimizer_free(adam);
    for (int i = 0; i < 7; i++)
        seqcls_model_free(models[i]);
    return 0;
}
