/*
 * make_golden.c -- writes the golden model files and checkpoints that
 * tests/test_golden.c loads forever (tests/golden/README.md).
 *
 * Build it against the library of the version whose files you write (a
 * checkout of that version's commit, built there), and run it from the
 * repository root on a NEW directory named after the version.  The 1.0.0
 * files were written so, with commit 16c1f9407124aa21bed0faac2eadbc77da0ab2be:
 *
 *   git worktree add --detach /tmp/seqcls-old 16c1f9407124aa21bed0faac2eadbc77da0ab2be
 *   make -C /tmp/seqcls-old -j2
 *   cc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -I/tmp/seqcls-old/include -Itests/golden \
 *      -o /tmp/make_golden tests/golden/make_golden.c /tmp/seqcls-old/lib/libseqcls.a \
 *      -lopenblas -lm -lpthread
 *   /tmp/make_golden tests/golden/1.0.0
 *   git worktree remove --force /tmp/seqcls-old
 *
 * (for a later version: its commit and tests/golden/X.Y.Z; the directory
 * must not exist, golden files are never rewritten).
 *
 * It uses only the public API of include/seqcls.h as of 1.0.0.  For each
 * model NAME it writes NAME.sqcl and NAME.expect (golden.h describes the
 * format): the layers, the parameters, the labels and vocabulary, and the
 * outputs the file gives on the fixed input of golden.h, computed from the
 * file as loaded back; for a checkpoint also the optimiser's step count
 * and the outputs after one more training step.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "golden.h"
#include "seqcls.h"

static void die(const char *what)
{
    fprintf(stderr, "make_golden: %s: %s\n", what, seqcls_last_error());
    exit(1);
}

#define CK(call)                  \
    do {                          \
        if ((call) != SEQCLS_OK)  \
            die(#call);           \
    } while (0)

/* One golden file: how to build it and how it is fed. */
typedef struct {
    const char *name;
    uint64_t seed;        /* model seed, and the seed of its inputs */
    int floats;           /* 1: float input of `features`; 0: ids below `vocab` */
    int features, vocab, classes;
    int attention;        /* the model has an attention layer */
    int text;             /* the fixed input is golden_texts[] through the vocabulary */
    void (*build)(seqcls_model_t *m);
    /* training before saving */
    int optim;            /* SEQCLS_OPTIM_* */
    float lr;
    int steps;
    int checkpoint;       /* save with the optimiser state */
    void (*configure)(seqcls_optimizer_t *o);
} spec_t;

static seqcls_vocab_t *vocabulary;   /* of the text model */

/* ---- the models ---- */

/* Frozen embedding with a padding index, BiLSTM (hard-sigmoid gates, input
 * dropout) with Bahdanau attention, dense relu, dropout, softmax over 3;
 * vocabulary and labels. */
static void build_text_bilstm_bahdanau(seqcls_model_t *m)
{
    static const char *const labels[3] = {"negative", "neutral", "positive"};
    int e, r;
    CK(seqcls_add_embedding(m, seqcls_vocab_size(vocabulary), 5, SEQCLS_PAD_ID, &e));
    CK(seqcls_layer_set_int(m, e, SEQCLS_OPT_FREEZE, 1));
    CK(seqcls_add_lstm(m, 4, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, &r));
    CK(seqcls_layer_set_int(m, r, SEQCLS_OPT_RECURRENT_ACTIVATION, SEQCLS_ACT_HARD_SIGMOID));
    CK(seqcls_layer_set_float(m, r, SEQCLS_OPT_INPUT_DROPOUT, 0.25f));
    CK(seqcls_add_attention(m, SEQCLS_ATTN_BAHDANAU, 3, NULL));
    CK(seqcls_add_dense(m, 6, SEQCLS_ACT_RELU, NULL));
    CK(seqcls_add_dropout(m, 0.3f, NULL));
    CK(seqcls_add_output(m, 3, NULL));
    CK(seqcls_model_set_vocab(m, vocabulary));
    CK(seqcls_model_set_labels(m, 3, labels));
}

/* Padding index 3, BiGRU merged by sum, reset before, relu gates, input
 * dropout, general attention, dense tanh, one sigmoid output; labels. */
static void build_gru_sum_general(seqcls_model_t *m)
{
    static const char *const labels[2] = {"ham", "spam"};
    int r;
    CK(seqcls_add_embedding(m, 20, 4, 3, NULL));
    CK(seqcls_add_gru(m, 5,
                      SEQCLS_BIDIRECTIONAL | SEQCLS_MERGE_SUM | SEQCLS_RETURN_SEQUENCES |
                          SEQCLS_GRU_RESET_BEFORE,
                      &r));
    CK(seqcls_layer_set_int(m, r, SEQCLS_OPT_RECURRENT_ACTIVATION, SEQCLS_ACT_RELU));
    CK(seqcls_layer_set_float(m, r, SEQCLS_OPT_INPUT_DROPOUT, 0.1f));
    CK(seqcls_add_attention(m, SEQCLS_ATTN_GENERAL, 0, NULL));
    CK(seqcls_add_dense(m, 4, SEQCLS_ACT_TANH, NULL));
    CK(seqcls_add_output(m, 1, NULL));
    CK(seqcls_model_set_labels(m, 2, labels));
}

/* No padding index, LSTM with relu gates, dot attention, dense sigmoid,
 * softmax over 2. */
static void build_lstm_dot(seqcls_model_t *m)
{
    int r;
    CK(seqcls_add_embedding(m, 20, 4, -1, NULL));
    CK(seqcls_add_lstm(m, 4, SEQCLS_RETURN_SEQUENCES, &r));
    CK(seqcls_layer_set_int(m, r, SEQCLS_OPT_RECURRENT_ACTIVATION, SEQCLS_ACT_RELU));
    CK(seqcls_add_attention(m, SEQCLS_ATTN_DOT, 0, NULL));
    CK(seqcls_add_dense(m, 3, SEQCLS_ACT_SIGMOID, NULL));
    CK(seqcls_add_output(m, 2, NULL));
}

/* Float input, BiGRU (hard-sigmoid gates, input dropout), learned-query
 * attention, batch norm with its own momentum and epsilon, dense
 * hard sigmoid, softmax over 2. */
static void build_input_gru_learned_bn(seqcls_model_t *m)
{
    int r, bn;
    CK(seqcls_add_input(m, 3, NULL));
    CK(seqcls_add_gru(m, 4, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, &r));
    CK(seqcls_layer_set_int(m, r, SEQCLS_OPT_RECURRENT_ACTIVATION, SEQCLS_ACT_HARD_SIGMOID));
    CK(seqcls_layer_set_float(m, r, SEQCLS_OPT_INPUT_DROPOUT, 0.2f));
    CK(seqcls_add_attention(m, SEQCLS_ATTN_LEARNED_QUERY, 5, NULL));
    CK(seqcls_add_batchnorm(m, &bn));
    CK(seqcls_layer_set_float(m, bn, SEQCLS_OPT_BN_MOMENTUM, 0.3f));
    CK(seqcls_layer_set_float(m, bn, SEQCLS_OPT_BN_EPSILON, 1e-3f));
    CK(seqcls_add_dense(m, 3, SEQCLS_ACT_HARD_SIGMOID, NULL));
    CK(seqcls_add_output(m, 2, NULL));
}

/* Float input, time-distributed dense (no activation), BiLSTM returning
 * sequences, dropout on the sequence, Keras' feature-time attention,
 * max pooling, one sigmoid output. */
static void build_input_lstm_feature_time(seqcls_model_t *m)
{
    CK(seqcls_add_input(m, 3, NULL));
    CK(seqcls_add_dense(m, 4, SEQCLS_ACT_NONE, NULL));
    CK(seqcls_add_lstm(m, 3, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
    CK(seqcls_add_dropout(m, 0.2f, NULL));
    CK(seqcls_add_attention(m, SEQCLS_ATTN_FEATURE_TIME, GOLDEN_T, NULL));
    CK(seqcls_add_pooling(m, SEQCLS_POOL_MAX, NULL));
    CK(seqcls_add_output(m, 1, NULL));
}

/* BiLSTM merged by sum to a vector of final states, dropout, batch norm
 * (momentum 0.05, eps 1e-4), softmax over 3. */
static void build_lstm_sum_vector_bn(seqcls_model_t *m)
{
    int bn;
    CK(seqcls_add_embedding(m, 20, 5, 0, NULL));
    CK(seqcls_add_lstm(m, 4, SEQCLS_BIDIRECTIONAL | SEQCLS_MERGE_SUM, NULL));
    CK(seqcls_add_dropout(m, 0.2f, NULL));
    CK(seqcls_add_batchnorm(m, &bn));
    CK(seqcls_layer_set_float(m, bn, SEQCLS_OPT_BN_MOMENTUM, 0.05f));
    CK(seqcls_layer_set_float(m, bn, SEQCLS_OPT_BN_EPSILON, 1e-4f));
    CK(seqcls_add_output(m, 3, NULL));
}

/* Stacked GRUs: one returning sequences into a BiGRU (concatenated final
 * states), dense without activation, softmax over 2. */
static void build_gru_stack(seqcls_model_t *m)
{
    CK(seqcls_add_embedding(m, 20, 4, 0, NULL));
    CK(seqcls_add_gru(m, 3, SEQCLS_RETURN_SEQUENCES, NULL));
    CK(seqcls_add_gru(m, 4, SEQCLS_BIDIRECTIONAL, NULL));
    CK(seqcls_add_dense(m, 4, SEQCLS_ACT_NONE, NULL));
    CK(seqcls_add_output(m, 2, NULL));
}

/* Time-distributed dense relu, mean pooling, one sigmoid output. */
static void build_mean_pool(seqcls_model_t *m)
{
    CK(seqcls_add_embedding(m, 20, 6, 0, NULL));
    CK(seqcls_add_dense(m, 5, SEQCLS_ACT_RELU, NULL));
    CK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    CK(seqcls_add_output(m, 1, NULL));
}

/* Bidirectional LSTM (concatenated) returning sequences, last-step
 * pooling, softmax over 4. */
static void build_lstm_last_pool(seqcls_model_t *m)
{
    CK(seqcls_add_embedding(m, 20, 4, 0, NULL));
    CK(seqcls_add_lstm(m, 3, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
    CK(seqcls_add_pooling(m, SEQCLS_POOL_LAST, NULL));
    CK(seqcls_add_output(m, 4, NULL));
}

/* ---- the checkpoints' models ---- */

static void build_ckpt_bilstm_dropout(seqcls_model_t *m)
{
    CK(seqcls_add_embedding(m, 20, 4, 0, NULL));
    CK(seqcls_add_lstm(m, 3, SEQCLS_BIDIRECTIONAL, NULL));
    CK(seqcls_add_dropout(m, 0.25f, NULL));
    CK(seqcls_add_output(m, 2, NULL));
}

static void build_ckpt_gru(seqcls_model_t *m)
{
    CK(seqcls_add_embedding(m, 20, 4, 0, NULL));
    CK(seqcls_add_gru(m, 3, 0, NULL));
    CK(seqcls_add_output(m, 1, NULL));
}

static void build_ckpt_input_lstm_bn(seqcls_model_t *m)
{
    CK(seqcls_add_input(m, 3, NULL));
    CK(seqcls_add_lstm(m, 3, SEQCLS_RETURN_SEQUENCES, NULL));
    CK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    CK(seqcls_add_batchnorm(m, NULL));
    CK(seqcls_add_output(m, 2, NULL));
}

static void build_ckpt_mean_pool(seqcls_model_t *m)
{
    CK(seqcls_add_embedding(m, 20, 4, 0, NULL));
    CK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    CK(seqcls_add_output(m, 3, NULL));
}

static void build_ckpt_gru_learned(seqcls_model_t *m)
{
    CK(seqcls_add_embedding(m, 20, 4, 0, NULL));
    CK(seqcls_add_gru(m, 3, SEQCLS_RETURN_SEQUENCES, NULL));
    CK(seqcls_add_attention(m, SEQCLS_ATTN_LEARNED_QUERY, 3, NULL));
    CK(seqcls_add_output(m, 2, NULL));
}

static void build_ckpt_lstm_dense(seqcls_model_t *m)
{
    CK(seqcls_add_embedding(m, 20, 4, 0, NULL));
    CK(seqcls_add_lstm(m, 3, 0, NULL));
    CK(seqcls_add_dense(m, 3, SEQCLS_ACT_TANH, NULL));
    CK(seqcls_add_output(m, 1, NULL));
}

/* ---- optimiser settings (all non-default) ---- */

static void set(seqcls_optimizer_t *o, int option, float v) { CK(seqcls_optimizer_set_float(o, option, v)); }

static void conf_adam(seqcls_optimizer_t *o)
{
    set(o, SEQCLS_OPTIM_BETA1, 0.8f);
    set(o, SEQCLS_OPTIM_BETA2, 0.99f);
    set(o, SEQCLS_OPTIM_EPS, 1e-6f);
    set(o, SEQCLS_OPTIM_WEIGHT_DECAY, 1e-3f);
    set(o, SEQCLS_OPTIM_CLIPNORM, 0.5f);
}

static void conf_adamw(seqcls_optimizer_t *o)
{
    set(o, SEQCLS_OPTIM_BETA1, 0.85f);
    set(o, SEQCLS_OPTIM_BETA2, 0.95f);
    set(o, SEQCLS_OPTIM_EPS, 1e-7f);
    set(o, SEQCLS_OPTIM_WEIGHT_DECAY, 0.05f);
    set(o, SEQCLS_OPTIM_CLIPVALUE, 0.05f);
}

static void conf_sgd_momentum(seqcls_optimizer_t *o)
{
    set(o, SEQCLS_OPTIM_MOMENTUM, 0.9f);
    set(o, SEQCLS_OPTIM_WEIGHT_DECAY, 1e-3f);
    set(o, SEQCLS_OPTIM_CLIPNORM, 1.0f);
}

static void conf_sgd(seqcls_optimizer_t *o) { set(o, SEQCLS_OPTIM_CLIPVALUE, 0.1f); }

static void conf_rmsprop_momentum(seqcls_optimizer_t *o)
{
    set(o, SEQCLS_OPTIM_RHO, 0.9f);
    set(o, SEQCLS_OPTIM_MOMENTUM, 0.5f);
    set(o, SEQCLS_OPTIM_EPS, 1e-6f);
    set(o, SEQCLS_OPTIM_WEIGHT_DECAY, 1e-3f);
    set(o, SEQCLS_OPTIM_CLIPNORM, 2.0f);
}

static void conf_rmsprop(seqcls_optimizer_t *o)
{
    set(o, SEQCLS_OPTIM_RHO, 0.95f);
    set(o, SEQCLS_OPTIM_EPS, 1e-7f);
    set(o, SEQCLS_OPTIM_CLIPVALUE, 0.2f);
}

static void conf_model(seqcls_optimizer_t *o) { (void)o; }

#define MODEL(n, sd, b, att, ...) \
    {.name = n, .seed = sd, .build = b, .attention = att, .optim = SEQCLS_OPTIM_ADAM, \
     .lr = 0.05f, .steps = 4, .configure = conf_model, __VA_ARGS__}
#define CHECKPOINT(n, sd, b, att, kind, rate, conf, ...) \
    {.name = n, .seed = sd, .build = b, .attention = att, .optim = kind, .lr = rate, \
     .steps = 3, .checkpoint = 1, .configure = conf, __VA_ARGS__}

static const spec_t specs[] = {
    MODEL("text_bilstm_bahdanau", 101, build_text_bilstm_bahdanau, 1, .text = 1, .classes = 3),
    MODEL("gru_sum_general", 102, build_gru_sum_general, 1, .vocab = 20, .classes = 1),
    MODEL("lstm_dot", 103, build_lstm_dot, 1, .vocab = 20, .classes = 2),
    MODEL("input_gru_learned_bn", 104, build_input_gru_learned_bn, 1, .floats = 1,
          .features = 3, .classes = 2),
    MODEL("input_lstm_feature_time", 105, build_input_lstm_feature_time, 1, .floats = 1,
          .features = 3, .classes = 1),
    MODEL("lstm_sum_vector_bn", 106, build_lstm_sum_vector_bn, 0, .vocab = 20, .classes = 3),
    MODEL("gru_stack", 107, build_gru_stack, 0, .vocab = 20, .classes = 2),
    MODEL("mean_pool", 108, build_mean_pool, 0, .vocab = 20, .classes = 1),
    MODEL("lstm_last_pool", 109, build_lstm_last_pool, 0, .vocab = 20, .classes = 4),
    CHECKPOINT("ckpt_adam", 201, build_ckpt_bilstm_dropout, 0, SEQCLS_OPTIM_ADAM, 0.02f,
               conf_adam, .vocab = 20, .classes = 2),
    CHECKPOINT("ckpt_adamw", 202, build_ckpt_gru, 0, SEQCLS_OPTIM_ADAMW, 0.03f, conf_adamw,
               .vocab = 20, .classes = 1),
    CHECKPOINT("ckpt_sgd_momentum", 203, build_ckpt_input_lstm_bn, 0, SEQCLS_OPTIM_SGD, 0.1f,
               conf_sgd_momentum, .floats = 1, .features = 3, .classes = 2),
    CHECKPOINT("ckpt_sgd", 204, build_ckpt_mean_pool, 0, SEQCLS_OPTIM_SGD, 0.5f, conf_sgd,
               .vocab = 20, .classes = 3),
    CHECKPOINT("ckpt_rmsprop_momentum", 205, build_ckpt_gru_learned, 1, SEQCLS_OPTIM_RMSPROP,
               0.01f, conf_rmsprop_momentum, .vocab = 20, .classes = 2),
    CHECKPOINT("ckpt_rmsprop", 206, build_ckpt_lstm_dense, 0, SEQCLS_OPTIM_RMSPROP, 0.005f,
               conf_rmsprop, .vocab = 20, .classes = 1),
};

/* ---- training and the expected outputs ---- */

#define TRAIN_B 8

/* `steps` training steps on random batches (lengths 1..T, never recorded). */
static void train(const spec_t *s, seqcls_model_t *m, seqcls_optimizer_t *o)
{
    uint64_t r = s->seed * 7919u;
    int step, b;
    for (step = 0; step < s->steps; step++) {
        int64_t shape[3] = {TRAIN_B, GOLDEN_T, s->features};
        seqcls_tensor_t *x = NULL, *y = NULL;
        int64_t yshape[1] = {TRAIN_B};
        int32_t lens[TRAIN_B];
        float loss;
        CK(seqcls_tensor_create(&x, s->floats ? SEQCLS_F32 : SEQCLS_I32, s->floats ? 3 : 2, shape));
        CK(seqcls_tensor_create(&y, SEQCLS_I32, 1, yshape));
        if (s->floats)
            golden_fill_floats(seqcls_tensor_data(x), TRAIN_B * GOLDEN_T * s->features,
                               golden_next(&r));
        else
            golden_fill_ids(seqcls_tensor_data(x), TRAIN_B, GOLDEN_T,
                            s->text ? seqcls_vocab_size(vocabulary) : s->vocab, golden_next(&r));
        golden_fill_labels(seqcls_tensor_data(y), TRAIN_B, s->classes, golden_next(&r));
        for (b = 0; b < TRAIN_B; b++)
            lens[b] = 1 + (int32_t)(golden_next(&r) % GOLDEN_T);
        CK(seqcls_zero_grad(m));
        CK(seqcls_forward(m, x, lens, NULL, 1));
        CK(seqcls_loss_backward(m, y, &loss));
        CK(seqcls_optimizer_step(o, m));
        seqcls_tensor_free(x);
        seqcls_tensor_free(y);
    }
}

/* The fixed input of `s` into e (and a tensor of it). */
static seqcls_tensor_t *fixed_input(const spec_t *s, const seqcls_model_t *m, golden_expect_t *e)
{
    seqcls_tensor_t *x = NULL;
    int64_t shape[3] = {GOLDEN_B, GOLDEN_T, s->features};
    int b;
    e->B = GOLDEN_B;
    e->T = GOLDEN_T;
    e->seed = s->seed;
    memcpy(e->lengths, golden_lengths, sizeof golden_lengths);
    if (s->floats) {
        strcpy(e->input_kind, "floats");
        e->F = s->features;
        e->ndata = GOLDEN_B * GOLDEN_T * s->features;
        golden_fill_floats(e->floats, e->ndata, e->seed);
        CK(seqcls_tensor_wrap(&x, SEQCLS_F32, 3, shape, e->floats));
    } else if (s->text) {
        const seqcls_vocab_t *v = seqcls_model_vocab(m);
        strcpy(e->input_kind, "text");
        e->seed = 0;
        e->ndata = GOLDEN_B * GOLDEN_T;
        for (b = 0; b < GOLDEN_B; b++) {
            size_t len;
            CK(seqcls_vocab_encode(v, golden_texts[b], strlen(golden_texts[b]),
                                   e->ids + b * GOLDEN_T, GOLDEN_T, &e->lengths[b]));
            CK(seqcls_vocab_decode(v, e->ids + b * GOLDEN_T, GOLDEN_T, e->decoded[b],
                                   sizeof e->decoded[b], &len));
        }
        CK(seqcls_tensor_wrap(&x, SEQCLS_I32, 2, shape, e->ids));
    } else {
        strcpy(e->input_kind, "ids");
        e->vocab = s->vocab;
        e->ndata = GOLDEN_B * GOLDEN_T;
        golden_fill_ids(e->ids, GOLDEN_B, GOLDEN_T, e->vocab, e->seed);
        CK(seqcls_tensor_wrap(&x, SEQCLS_I32, 2, shape, e->ids));
    }
    return x;
}

static void predict(const spec_t *s, const seqcls_model_t *m, const seqcls_tensor_t *x,
                    const golden_expect_t *e, float *probs, float *att)
{
    int64_t pshape[2] = {GOLDEN_B, s->classes}, ashape[2] = {GOLDEN_B, GOLDEN_T};
    seqcls_tensor_t *p = NULL, *a = NULL;
    CK(seqcls_tensor_wrap(&p, SEQCLS_F32, 2, pshape, probs));
    if (s->attention)
        CK(seqcls_tensor_wrap(&a, SEQCLS_F32, 2, ashape, att));
    CK(seqcls_predict(m, x, e->lengths, p, a));
    seqcls_tensor_free(p);
    seqcls_tensor_free(a);
}

static void describe(seqcls_model_t *m, golden_expect_t *e)
{
    int i, j;
    const seqcls_vocab_t *v = seqcls_model_vocab(m);
    e->nlayers = seqcls_layer_count(m);
    for (i = 0; i < e->nlayers; i++)
        CK(seqcls_layer_describe(m, i, e->layers[i], sizeof e->layers[i]));
    e->nparams = seqcls_param_count(m);
    if (e->nparams > GOLDEN_MAX_PARAMS)
        die("too many parameters");
    for (i = 0; i < e->nparams; i++) {
        seqcls_tensor_t *t = NULL;
        CK(seqcls_param(m, i, &t, NULL));
        snprintf(e->param_names[i], sizeof e->param_names[i], "%s", seqcls_param_name(m, i));
        e->param_ndim[i] = seqcls_tensor_ndim(t);
        for (j = 0; j < e->param_ndim[i]; j++)
            e->param_shape[i][j] = seqcls_tensor_dim(t, j);
    }
    e->nlabels = seqcls_model_label_count(m);
    for (i = 0; i < e->nlabels; i++)
        snprintf(e->labels[i], sizeof e->labels[i], "%s", seqcls_model_label(m, i));
    if (v) {
        e->vocab_size = seqcls_vocab_size(v);
        if (e->vocab_size > GOLDEN_MAX_VOCAB)
            die("vocabulary too large");
        for (i = 0; i < e->vocab_size; i++)
            snprintf(e->tokens[i], sizeof e->tokens[i], "%s", seqcls_vocab_token(v, i));
    }
}

static void write_one(const spec_t *s, const char *dir)
{
    char path[4096], expect[4096];
    seqcls_model_t *m = NULL, *back = NULL;
    seqcls_optimizer_t *o = NULL, *oback = NULL;
    seqcls_tensor_t *x;
    static golden_expect_t e, again;
    float probs2[GOLDEN_MAX_B * GOLDEN_MAX_C];
    FILE *f;

    CK(seqcls_model_create(&m, s->seed));
    s->build(m);
    CK(seqcls_optimizer_create(&o, s->optim, s->lr));
    s->configure(o);
    train(s, m, o);
    snprintf(path, sizeof path, "%s/%s.sqcl", dir, s->name);
    if (s->checkpoint)
        CK(seqcls_checkpoint_save(m, o, path));
    else
        CK(seqcls_model_save(m, path));

    /* Everything expected is computed from the file as loaded back. */
    golden_init(&e);
    snprintf(e.writer, sizeof e.writer, "%s", seqcls_version_string());
    snprintf(e.file, sizeof e.file, "%s.sqcl", s->name);
    strcpy(e.type, s->checkpoint ? "checkpoint" : "model");
    if (s->checkpoint)
        CK(seqcls_checkpoint_load(&back, &oback, path));
    else
        CK(seqcls_model_load(&back, path));
    describe(back, &e);
    x = fixed_input(s, back, &e);
    e.C = s->classes;
    e.has_attention = s->attention;
    predict(s, back, x, &e, e.probs, e.attention);
    /* the model in memory gives the same, bit for bit */
    {
        float att2[GOLDEN_MAX_B * GOLDEN_MAX_T];
        predict(s, m, x, &e, probs2, att2);
        if (memcmp(probs2, e.probs, sizeof(float) * GOLDEN_B * (size_t)s->classes) != 0)
            die("the loaded model predicts differently");
    }
    if (s->checkpoint) {
        int64_t yshape[1] = {GOLDEN_B};
        seqcls_tensor_t *y = NULL;
        e.steps = seqcls_optimizer_steps(oback);
        golden_fill_labels(e.train_labels, GOLDEN_B, s->classes, s->seed + 1);
        CK(seqcls_tensor_wrap(&y, SEQCLS_I32, 1, yshape, e.train_labels));
        CK(seqcls_zero_grad(back));
        CK(seqcls_forward(back, x, e.lengths, NULL, 1));
        CK(seqcls_loss_backward(back, y, &e.loss));
        CK(seqcls_optimizer_step(oback, back));
        predict(s, back, x, &e, e.step_probs, e.step_attention);
        e.step_steps = seqcls_optimizer_steps(oback);
        seqcls_tensor_free(y);
    }
    seqcls_tensor_free(x);

    snprintf(expect, sizeof expect, "%s/%s.expect", dir, s->name);
    f = fopen(expect, "w");
    if (!f) {
        fprintf(stderr, "make_golden: %s: %s\n", expect, strerror(errno));
        exit(1);
    }
    golden_write(f, &e);
    if (fclose(f) != 0) {
        fprintf(stderr, "make_golden: writing %s failed\n", expect);
        exit(1);
    }
    /* the file reads back to what was written */
    {
        char err[4352];
        if (golden_read(expect, &again, err, sizeof err) != 0) {
            fprintf(stderr, "make_golden: %s\n", err);
            exit(1);
        }
    }
    printf("%-26s %2d layers %2d params%s\n", s->name, e.nlayers, e.nparams,
           s->checkpoint ? " + optimiser state" : "");
    seqcls_optimizer_free(o);
    seqcls_optimizer_free(oback);
    seqcls_model_free(m);
    seqcls_model_free(back);
}

/* A small corpus for the vocabulary; capped at 20 ids. */
static void make_vocabulary(void)
{
    static const char *const corpus[] = {
        "The movie was great, great acting and a great plot.",
        "A boring plot and bad acting: the movie was not good at all!",
        "Not bad.  Really not bad at all, the acting was fun?",
        "<p>Great fun</p> for all, and the plot is good",
        "bad bad bad movie",
    };
    size_t i;
    CK(seqcls_vocab_create(&vocabulary));
    for (i = 0; i < sizeof corpus / sizeof corpus[0]; i++)
        CK(seqcls_vocab_add_text(vocabulary, corpus[i], strlen(corpus[i])));
    CK(seqcls_vocab_build(vocabulary, 1, 20));
}

int main(int argc, char **argv)
{
    size_t i;
    if (argc != 2) {
        fprintf(stderr, "usage: make_golden DIRECTORY (a new directory, named after the version)\n");
        return 2;
    }
    /* Golden files are never rewritten: the directory must be new. */
    if (mkdir(argv[1], 0755) != 0) {
        fprintf(stderr, "make_golden: %s: %s%s\n", argv[1], strerror(errno),
                errno == EEXIST ? " (golden files are never rewritten: use a new directory)" : "");
        return 1;
    }
    CK(seqcls_set_num_threads(1));
    make_vocabulary();
    for (i = 0; i < sizeof specs / sizeof specs[0]; i++)
        write_one(&specs[i], argv[1]);
    seqcls_vocab_free(vocabulary);
    return 0;
}
