/*
 * seqcls.h -- public interface of the seqcls sequence-classifier library.
 *
 * seqcls trains and runs embedding -> (bi)LSTM/GRU -> attention/pooling ->
 * dense -> output models on CPUs.  This header is the whole API and its
 * reference: every call says what it does, who owns what, and which
 * status codes it returns.
 *
 * Conventions (see docs/api.md):
 *   - Every fallible call returns int: SEQCLS_OK (0) or a negative
 *     SEQCLS_E_* code; seqcls_last_error() then holds a message naming the
 *     argument and the problem.  The message is thread-local.
 *   - Constructors take the out pointer first and set *out = NULL on
 *     failure.  Every *_free accepts NULL.
 *   - Getters return borrowed pointers that stay valid as long as their
 *     parent object (and, where stated, until the next call on it).
 *   - The library never prints, aborts or exits.
 *
 * Within major version 1 the ABI only grows: functions, constants and
 * options are added, never renamed, renumbered or changed (docs/abi.md).
 */
#ifndef SEQCLS_H
#define SEQCLS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(SEQCLS_BUILDING)
#define SEQCLS_API __declspec(dllexport)
#elif defined(__GNUC__) && defined(SEQCLS_BUILDING)
#define SEQCLS_API __attribute__((visibility("default")))
#else
#define SEQCLS_API
#endif

/* ------------------------------------------------------------------ */
/* Version                                                             */
/* ------------------------------------------------------------------ */

#define SEQCLS_VERSION_MAJOR 1
#define SEQCLS_VERSION_MINOR 1
#define SEQCLS_VERSION_PATCH 0
#define SEQCLS_VERSION_STRING "1.1.0"
#define SEQCLS_VERSION_NUMBER \
    (SEQCLS_VERSION_MAJOR * 10000 + SEQCLS_VERSION_MINOR * 100 + SEQCLS_VERSION_PATCH)

/** Version of the library actually linked: MAJOR*10000 + MINOR*100 + PATCH. */
SEQCLS_API int seqcls_version(void);
/** Version as a static string, e.g. "1.0.0". Never NULL. */
SEQCLS_API const char *seqcls_version_string(void);

/* ------------------------------------------------------------------ */
/* Status codes and errors                                             */
/* ------------------------------------------------------------------ */

#define SEQCLS_OK             0
#define SEQCLS_E_INVALID_ARG (-1)  /* NULL pointer, bad flag or option value */
#define SEQCLS_E_NOMEM       (-2)  /* allocation failed or size absurd */
#define SEQCLS_E_SHAPE       (-3)  /* tensor rank, dimension or dtype wrong */
#define SEQCLS_E_RANGE       (-4)  /* token id, length, label or index out of range */
#define SEQCLS_E_STATE       (-5)  /* call out of order (e.g. backward before forward) */
#define SEQCLS_E_NUMERIC     (-6)  /* NaN or Inf in input, loss or gradients */
#define SEQCLS_E_FORMAT      (-7)  /* model file corrupt, truncated or not a model */
#define SEQCLS_E_VERSION     (-8)  /* model file from a newer format version */
#define SEQCLS_E_IO          (-9)  /* file system error */
#define SEQCLS_E_UNSUPPORTED (-10) /* valid request this build cannot do */
#define SEQCLS_E_COMM        (-11) /* a communicator call failed, or the ranks disagree (1.1) */

/** Short static description of a status code. Never NULL. */
SEQCLS_API const char *seqcls_strerror(int status);

/**
 * Message describing the last failure in the calling thread, e.g.
 * "seqcls_forward: token id 12000 at [3,17] is outside [0, 10000)".
 * Never NULL ("" when no error has occurred).  Valid until the next
 * seqcls call in the same thread.
 */
SEQCLS_API const char *seqcls_last_error(void);

/* ------------------------------------------------------------------ */
/* Tensors                                                             */
/* ------------------------------------------------------------------ */

/** A dense row-major array of 1 to 8 dimensions. */
typedef struct seqcls_tensor seqcls_tensor_t;

#define SEQCLS_F32 1  /* float */
#define SEQCLS_I32 2  /* int32_t */
#define SEQCLS_MAX_DIMS 8

/**
 * Create a zero-filled tensor with 64-byte aligned storage that it owns.
 * Dimensions must be >= 0 (0 gives an empty tensor).
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (NULL out/shape, bad dtype or
 *         ndim outside 1..8), SEQCLS_E_SHAPE (negative dimension),
 *         SEQCLS_E_NOMEM (allocation failed or the size overflows).
 */
SEQCLS_API int seqcls_tensor_create(seqcls_tensor_t **out, int dtype, int ndim,
                                    const int64_t *shape);

/**
 * Create a tensor that borrows `data` (not copied, not freed): the
 * caller keeps `data` alive and unmoved for the tensor's lifetime.
 * `data` needs only the natural alignment of the dtype.
 * @return as seqcls_tensor_create; SEQCLS_E_INVALID_ARG if data is NULL
 *         for a non-empty shape.
 */
SEQCLS_API int seqcls_tensor_wrap(seqcls_tensor_t **out, int dtype, int ndim,
                                  const int64_t *shape, void *data);

/** Free a tensor (and its storage if it owns it). NULL is allowed. */
SEQCLS_API void seqcls_tensor_free(seqcls_tensor_t *t);
/** Element storage, borrowed from the tensor; NULL if t is NULL. */
SEQCLS_API void *seqcls_tensor_data(const seqcls_tensor_t *t);
/** Number of dimensions; 0 if t is NULL. */
SEQCLS_API int seqcls_tensor_ndim(const seqcls_tensor_t *t);
/** Size of dimension `axis` (negative counts from the end); -1 if out of range or t NULL. */
SEQCLS_API int64_t seqcls_tensor_dim(const seqcls_tensor_t *t, int axis);
/** SEQCLS_F32 or SEQCLS_I32; 0 if t is NULL. */
SEQCLS_API int seqcls_tensor_dtype(const seqcls_tensor_t *t);
/** Total number of elements; 0 if t is NULL. */
SEQCLS_API int64_t seqcls_tensor_numel(const seqcls_tensor_t *t);

/* ------------------------------------------------------------------ */
/* Models and layers                                                   */
/* ------------------------------------------------------------------ */

/** A model: an ordered list of layers with their parameters. */
typedef struct seqcls_model seqcls_model_t;

/* recurrent flags (seqcls_add_lstm / seqcls_add_gru) */
#define SEQCLS_BIDIRECTIONAL     0x1u
#define SEQCLS_RETURN_SEQUENCES  0x2u
#define SEQCLS_MERGE_SUM         0x4u
#define SEQCLS_GRU_RESET_BEFORE  0x8u
/* transformer flag (seqcls_add_transformer_encoder, 1.1) */
#define SEQCLS_NORM_FIRST        0x10u  /* pre-norm (PyTorch norm_first=True); default post-norm */
#define SEQCLS_MERGE_AVE         0x20u  /* (forward + backward) / 2, Keras merge_mode="ave" (1.1) */
#define SEQCLS_MERGE_MUL         0x40u  /* forward * backward, Keras merge_mode="mul" (1.1) */

/* attention kinds */
#define SEQCLS_ATTN_BAHDANAU      1
#define SEQCLS_ATTN_DOT           2
#define SEQCLS_ATTN_GENERAL       3
#define SEQCLS_ATTN_LEARNED_QUERY 4
#define SEQCLS_ATTN_FEATURE_TIME  5

/* pooling kinds */
#define SEQCLS_POOL_LAST 1
#define SEQCLS_POOL_MEAN 2
#define SEQCLS_POOL_MAX  3
#define SEQCLS_POOL_FIRST 4   /* the first step (the [CLS] convention), 1.1 */

/* positional encodings (seqcls_add_positional_encoding, 1.1) */
#define SEQCLS_POS_SINUSOIDAL 1
#define SEQCLS_POS_LEARNED    2

/* activations */
#define SEQCLS_ACT_NONE         0
#define SEQCLS_ACT_RELU         1
#define SEQCLS_ACT_TANH         2
#define SEQCLS_ACT_SIGMOID      3
#define SEQCLS_ACT_HARD_SIGMOID 4  /* clip(0.2x + 0.5, 0, 1), old Keras */
#define SEQCLS_ACT_GELU         5  /* x Phi(x), the exact erf form (transformer, 1.1) */

/* conv1d flags (seqcls_add_conv1d's own flag namespace, since 1.1) */
#define SEQCLS_PAD_SAME          0x1u  /* output length = input length (PyTorch padding='same') */

/*
 * Layer options.  1-5 can be set after the constructor
 * (seqcls_layer_set_int / seqcls_layer_set_float), and so can those
 * marked "settable" below (1.1); every option a layer kind has can be
 * read (seqcls_layer_get_int / seqcls_layer_get_float, since 1.1),
 * including those fixed by its constructor.
 */
#define SEQCLS_OPT_FREEZE                1  /* int, embedding (and embedding bag): 1 = no gradient, not updated */
#define SEQCLS_OPT_RECURRENT_ACTIVATION  2  /* int, lstm/gru: SEQCLS_ACT_SIGMOID (default), _HARD_SIGMOID, _RELU */
#define SEQCLS_OPT_INPUT_DROPOUT         3  /* float, lstm/gru: dropout rate on the inputs, [0, 1) */
#define SEQCLS_OPT_BN_MOMENTUM           4  /* float, batch norm */
#define SEQCLS_OPT_BN_EPSILON            5  /* float, batch norm */
/* read-only, as given to the constructor (1.1) */
#define SEQCLS_OPT_UNITS                 6  /* int: embedding dim, input features, lstm/gru hidden,
                                               attention units (0 for dot/general), dense units, output classes */
#define SEQCLS_OPT_VOCAB                 7  /* int, embedding, embedding bag: rows */
#define SEQCLS_OPT_PADDING_IDX           8  /* int, embedding: padding row or -1 */
#define SEQCLS_OPT_ACTIVATION            9  /* int, dense: SEQCLS_ACT_*; conv1d: settable, [SEQCLS_ACT_NONE] */
#define SEQCLS_OPT_KIND                 10  /* int, attention: SEQCLS_ATTN_*; pooling: SEQCLS_POOL_* */
#define SEQCLS_OPT_FLAGS                11  /* int, lstm/gru: the SEQCLS_BIDIRECTIONAL... flags */
#define SEQCLS_OPT_DROPOUT              12  /* float, dropout: the rate; transformer: settable,
                                               default 0.1 (PyTorch's dropouts, all the same rate) */
/* 1.1 */
#define SEQCLS_OPT_HEADS                13  /* int, transformer: attention heads (read-only) */
#define SEQCLS_OPT_FF_DIM               14  /* int, transformer: feed-forward width (read-only) */
#define SEQCLS_OPT_LN_EPSILON           15  /* float, transformer: layer-norm epsilon, settable, 1e-5 */
#define SEQCLS_OPT_MAX_LEN              16  /* int, positional encoding: most steps (read-only) */
#define SEQCLS_OPT_SCALE_INPUT          17  /* int, positional encoding: 1 = multiply the input by
                                               sqrt(d) first (settable, default 0) */
#define SEQCLS_OPT_DILATION             18  /* int, conv1d: settable while no layer follows, [1] */
#define SEQCLS_OPT_RECURRENT_DROPOUT    19  /* float, lstm/gru: settable, dropout rate on h_{t-1}
                                               in the recurrent products, [0, 1), [0] */
#define SEQCLS_OPT_PER_STEP             20  /* int, embedding bag: ids per step (read-only) */

/*
 * Layer kinds, as seqcls_layer_kind returns them (1.1).  They are also the
 * kinds' ids in model files: numbers are never reused.
 */
#define SEQCLS_LAYER_EMBEDDING  1
#define SEQCLS_LAYER_INPUT      2
#define SEQCLS_LAYER_LSTM       3
#define SEQCLS_LAYER_GRU        4
#define SEQCLS_LAYER_ATTENTION  5
#define SEQCLS_LAYER_POOLING    6
#define SEQCLS_LAYER_DENSE      7
#define SEQCLS_LAYER_DROPOUT    8
#define SEQCLS_LAYER_BATCHNORM  9
#define SEQCLS_LAYER_OUTPUT    10
#define SEQCLS_LAYER_POSITIONAL_ENCODING 11
#define SEQCLS_LAYER_TRANSFORMER_ENCODER 12
#define SEQCLS_LAYER_EMBEDDING_BAG 13  /* seqcls_add_embedding_bag (1.1) */
#define SEQCLS_LAYER_CONV1D    14  /* since 1.1 */
#define SEQCLS_LAYER_FLATTEN   15  /* since 1.1 */

/**
 * Create an empty model.  `seed` makes initialisation and dropout
 * reproducible: the same seed and the same calls give the same numbers.
 * Free with seqcls_model_free.
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (out NULL), SEQCLS_E_NOMEM.
 */
SEQCLS_API int seqcls_model_create(seqcls_model_t **out, uint64_t seed);
/** Free a model, its parameters and workspaces. NULL is allowed. */
SEQCLS_API void seqcls_model_free(seqcls_model_t *m);
/** Number of layers; 0 if m is NULL. */
SEQCLS_API int seqcls_layer_count(const seqcls_model_t *m);
/**
 * Describe layer `layer` in one line, e.g. "lstm(hidden=64, bidirectional,
 * return_sequences) -> sequence of 128", into `buf` (NUL-terminated,
 * truncated to `cap`).  @return SEQCLS_OK, SEQCLS_E_INVALID_ARG,
 * SEQCLS_E_RANGE (no such layer).
 */
SEQCLS_API int seqcls_layer_describe(const seqcls_model_t *m, int layer, char *buf, size_t cap);

/*
 * Layer constructors.  Each appends a layer and, if `layer` is not NULL,
 * stores its index there.  Parameters are initialised as PyTorch does
 * (embedding N(0,1) with the padding row zero; dense U(-1/sqrt(in),
 * 1/sqrt(in)) for weight and bias).  All return SEQCLS_OK,
 * SEQCLS_E_INVALID_ARG (NULL model, size < 1, unknown kind),
 * SEQCLS_E_STATE (the layer cannot follow the previous one, e.g. a dense
 * layer after the output, an embedding that is not first) or
 * SEQCLS_E_NOMEM.
 */

/**
 * Token embedding; must be the first layer.  Input: I32 ids [B, T].
 * Output: sequence [B, T, dim].  `padding_idx` in [0, vocab) names a row
 * that stays zero and gets no gradient, or -1 for none.  Ids must lie in
 * [0, vocab) at valid steps; steps at t >= lengths[b] are ignored.
 */
SEQCLS_API int seqcls_add_embedding(seqcls_model_t *m, int vocab, int dim,
                                    int padding_idx, int *layer);

/**
 * Embedding bag (since 1.1), fastText's input layer; must be the first
 * layer.  Input: I32 [B, T, per_step], a bag of up to per_step ids per
 * step, -1 marking an unused slot (seqcls_vocab_encode_subwords writes
 * such rows: a word's own id and its character n-gram ids).  Output:
 * sequence [B, T, dim], at each valid step the mean of the rows of its
 * ids (as torch.nn.EmbeddingBag(mode="mean") over each step's bag); a
 * step whose bag is empty, and every padding step (t >= lengths[b],
 * whatever its ids), gives zeros.  Ids at valid steps must be -1 or lie in
 * [0, rows).  Parameter "weight" [rows, dim], initialised U(-1/dim,
 * 1/dim) as fastText initialises its input vectors.  Options:
 * SEQCLS_OPT_FREEZE (settable), SEQCLS_OPT_VOCAB (rows), SEQCLS_OPT_UNITS
 * (dim), SEQCLS_OPT_PER_STEP.
 *
 * The weight's gradient is sparse: a backward gives rows only to the ids
 * it saw, and an optimiser step updates only the rows that got a gradient
 * since the last seqcls_zero_grad -- lazily, as torch.optim.SparseAdam
 * and fastText do: moments, momentum and weight decay of the other rows
 * wait until their next gradient.  (With SGD without momentum or weight
 * decay this equals a dense update.)  So a table of millions of rows
 * trains at the cost of the rows a batch uses; a gradient written into
 * another row by hand is not applied.  The gradient tensor of "weight" is
 * allocated when first used (seqcls_param asking for it, or a backward
 * outside seqcls_fit; seqcls_fit keeps the rows' gradients compactly on
 * its own, and that tensor, if there is one, holds zeros after it).
 * @return as the other constructors; SEQCLS_E_INVALID_ARG also for rows,
 *         dim or per_step < 1, SEQCLS_E_NOMEM for a table above 2^34
 *         values.
 */
SEQCLS_API int seqcls_add_embedding_bag(seqcls_model_t *m, int rows, int dim, int per_step,
                                        int *layer);

/**
 * Copy `rows` pretrained rows of `dim` floats into the embedding (or,
 * since 1.1, embedding bag) of layer `layer`, starting at row
 * `first_row`.  The padding row, if any, is kept zero.  Combine with
 * SEQCLS_OPT_FREEZE to keep them fixed.
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (NULL, not an embedding),
 *         SEQCLS_E_RANGE (rows outside the vocabulary), SEQCLS_E_SHAPE
 *         (dim differs), SEQCLS_E_NUMERIC (NaN/Inf in data),
 *         SEQCLS_E_STATE (since 1.1: the model is quantised).
 */
SEQCLS_API int seqcls_embedding_set_rows(seqcls_model_t *m, int layer, int first_row,
                                         int rows, int dim, const float *data);

/** Float-sequence input; must be the first layer. Input: F32 [B, T, features]. */
SEQCLS_API int seqcls_add_input(seqcls_model_t *m, int features, int *layer);

/**
 * LSTM layer over the sequence produced by the previous layer.  Flags:
 * SEQCLS_BIDIRECTIONAL (merge by concatenation, or with one of
 * SEQCLS_MERGE_SUM, and since 1.1 SEQCLS_MERGE_AVE, (f + b) / 2, and
 * SEQCLS_MERGE_MUL, f * b, Keras' merge modes), SEQCLS_RETURN_SEQUENCES
 * (output the sequence; without it the output is the vector of final
 * states, forward last and backward first concatenated, or merged).
 * Parameters use PyTorch's names and layouts.
 *
 * Lengths follow PyTorch's packed sequences: each row's forward direction
 * stops at its last valid step, its backward direction starts there;
 * padding steps output zero and influence nothing; a row of length 0
 * gives zero outputs and final states.  With SEQCLS_RETURN_SEQUENCES the
 * final states [B, H] (bidirectional: [B, 2H], concatenated even with
 * SEQCLS_MERGE_SUM) are also handed to a following attention layer as its
 * query.  Without it, a merge mode outputs their merge [B, H].
 * Options: SEQCLS_OPT_RECURRENT_ACTIVATION replaces the gates' sigmoid
 * (Keras' recurrent_activation); SEQCLS_OPT_INPUT_DROPOUT drops inputs in
 * training with one mask per sequence, the same at every step and in
 * both directions (Keras' `dropout`); SEQCLS_OPT_RECURRENT_DROPOUT (1.1,
 * Keras' `recurrent_dropout`) drops units of h_{t-1} where it enters the
 * recurrent products (W_hh h_{t-1}, every gate) in training, with one
 * mask per sequence, unit and direction, the same at every step
 * (variational dropout); the cell state, the GRU's z * h_{t-1} and the
 * outputs are not masked.
 * Errors as the other constructors; SEQCLS_E_INVALID_ARG also for an
 * unknown flag, a merge mode without SEQCLS_BIDIRECTIONAL or two merge
 * modes, and SEQCLS_E_NOMEM for weights above 2^32 elements.
 */
SEQCLS_API int seqcls_add_lstm(seqcls_model_t *m, int hidden, unsigned flags, int *layer);
/**
 * GRU layer; as seqcls_add_lstm, gates [r | z | n] as PyTorch, plus
 * SEQCLS_GRU_RESET_BEFORE: Keras' reset_after=False, where the reset gate
 * multiplies h before the recurrent matmul (same parameters).
 */
SEQCLS_API int seqcls_add_gru(seqcls_model_t *m, int hidden, unsigned flags, int *layer);

/**
 * Attention pooling over the sequence the previous layer returns.
 * SEQCLS_ATTN_BAHDANAU: score_t = v^T tanh(W1 h_t + b1 + W2 q + b2) with
 * `units` wide W1, W2 and a bias-free v, query q = the final states of the
 * nearest recurrent layer before it (forward last, backward first).
 * SEQCLS_ATTN_DOT: q . h_t; SEQCLS_ATTN_GENERAL: q^T W h_t (same query).
 * SEQCLS_ATTN_LEARNED_QUERY: score_t = v^T tanh(W h_t + b) with a trained
 * v (needs no recurrent layer).  These four output the context vector
 * [B, F] = sum_t softmax(score)_t h_t over valid steps.
 * SEQCLS_ATTN_FEATURE_TIME: Keras' attention_3d_block, per feature a
 * dense layer over time and a softmax over time, multiplied into the
 * sequence; its output is the weighted sequence [B, T, F].
 * `units` is the width of W1/W2 (BAHDANAU) or W (LEARNED_QUERY); for
 * FEATURE_TIME it is the number of time steps T the layer is built for
 * (inputs must then have exactly T steps); DOT and GENERAL ignore it.
 * Parameters: BAHDANAU "W1.weight" [units, F], "W1.bias", "W2.weight"
 * [units, Q], "W2.bias", "V.weight" [1, units], "V.bias" [1] (as Keras'
 * Dense(1) default; it shifts all scores equally and never changes the
 * weights); GENERAL "W.weight" [Q, F]; LEARNED_QUERY "W.weight" [units,
 * F], "W.bias", "query.weight" [1, units]; FEATURE_TIME "time.weight"
 * [T, T] (output step, input step), "time.bias" [T].  Attention is
 * masked: padding steps get weight exactly 0, a row of length 0 gives
 * zero weights and a zero context.
 */
SEQCLS_API int seqcls_add_attention(seqcls_model_t *m, int kind, int units, int *layer);

/**
 * Batch normalisation of a vector [B, F]: batch statistics in training,
 * running mean and variance (updated with SEQCLS_OPT_BN_MOMENTUM,
 * default 0.1 as PyTorch) at inference; SEQCLS_OPT_BN_EPSILON default 1e-5.
 * Parameters "weight" and "bias"; "running_mean" and "running_var" are
 * parameters that are not trained.
 */
SEQCLS_API int seqcls_add_batchnorm(seqcls_model_t *m, int *layer);

/**
 * Pooling over the valid steps of a sequence: SEQCLS_POOL_LAST (step
 * lengths[b]-1), SEQCLS_POOL_MEAN, SEQCLS_POOL_MAX, SEQCLS_POOL_FIRST
 * (step 0, since 1.1).  Output: vector [B, F]; a row of length 0 gives
 * zeros.
 */
SEQCLS_API int seqcls_add_pooling(seqcls_model_t *m, int kind, int *layer);

/**
 * Dense layer y = act(x W^T + b), W [units, in] (PyTorch nn.Linear
 * layout).  On a vector it gives a vector; on a sequence it is applied
 * at every valid step (time-distributed) and padding steps output zero.
 * `activation` is one of SEQCLS_ACT_*.
 */
SEQCLS_API int seqcls_add_dense(seqcls_model_t *m, int units, int activation, int *layer);

/**
 * Positional encoding (since 1.1): sequence [B, T, d] to a sequence of
 * the same shape, with the position added at every valid step (steps at
 * or beyond a row's length stay zero); T may not exceed `max_len`.
 * SEQCLS_POS_SINUSOIDAL adds PE[p, 2i] = sin(p / 10000^(2i/d)),
 * PE[p, 2i+1] = cos(p / 10000^(2i/d)) (no parameters);
 * SEQCLS_POS_LEARNED adds a trained table, parameter "weight"
 * [max_len, d], initialised N(0, 1) as nn.Embedding.  Option
 * SEQCLS_OPT_SCALE_INPUT = 1 multiplies the input by sqrt(d) first, as
 * "Attention is all you need" does for embeddings.
 */
SEQCLS_API int seqcls_add_positional_encoding(seqcls_model_t *m, int kind, int max_len,
                                              int *layer);

/**
 * One transformer encoder layer (since 1.1), exactly PyTorch 1.13's
 * nn.TransformerEncoderLayer(d_model = the input width, nhead = heads,
 * dim_feedforward = ff_dim, batch_first = True): sequence [B, T, d] to
 * [B, T, d].  Post-norm by default, pre-norm with SEQCLS_NORM_FIRST:
 *
 *     post-norm:  x = LN1(x + Drop(MHA(x)));  x = LN2(x + Drop(W2 Drop(act(W1 x + b1)) + b2))
 *     pre-norm:   x = x + Drop(MHA(LN1(x)));  x = x + Drop(W2 Drop(act(W1 LN2(x) + b1)) + b2)
 *
 * Keys at padding steps are masked (PyTorch's src_key_padding_mask from
 * the lengths); outputs at padding steps are zero; a row of length 0
 * gives zeros.  `heads` must divide d.  Options: SEQCLS_OPT_DROPOUT (0.1),
 * SEQCLS_OPT_ACTIVATION (SEQCLS_ACT_RELU, default, or SEQCLS_ACT_GELU),
 * SEQCLS_OPT_LN_EPSILON (1e-5).  Parameters named as PyTorch's
 * state_dict: "self_attn.in_proj_weight" [3d, d], "self_attn.in_proj_bias",
 * "self_attn.out_proj.weight" [d, d], "self_attn.out_proj.bias",
 * "linear1.weight" [ff_dim, d], "linear1.bias", "linear2.weight"
 * [d, ff_dim], "linear2.bias", "norm1.weight", "norm1.bias",
 * "norm2.weight", "norm2.bias".  Stack layers by adding several.
 */
SEQCLS_API int seqcls_add_transformer_encoder(seqcls_model_t *m, int heads, int ff_dim,
                                              unsigned flags, int *layer);

/**
 * Inverted dropout with drop probability `rate` in [0, 1): active only
 * when training, identity otherwise.
 */
SEQCLS_API int seqcls_add_dropout(seqcls_model_t *m, float rate, int *layer);

/**
 * The output layer, last: a dense layer to `classes` logits on a vector.
 * classes = 1: sigmoid + binary cross-entropy; classes >= 2: softmax +
 * cross-entropy.  Both losses are computed from the logits, stably.
 *
 * After a sequence (since 1.1) it gives logits at every step, [B, T, C]
 * (time-distributed, as Keras' TimeDistributed(Dense) or a PyTorch
 * nn.Linear on an RNN's output), zero at padding steps: a tagger or a
 * language model.  Such a model is "per step": its logits, dlogits and
 * probabilities are [B, T, C] and its labels I32 [B, T]; the built-in loss
 * is the mean over the valid steps of the batch, steps at t >= lengths[b]
 * counting for nothing (PyTorch's CrossEntropyLoss(ignore_index) /
 * BCEWithLogitsLoss over a mask; Keras' masked TimeDistributed softmax).
 * seqcls_model_output_ndim tells the two kinds of model apart.
 */
SEQCLS_API int seqcls_add_output(seqcls_model_t *m, int classes, int *layer);

/**
 * One-dimensional convolution over the sequence the previous layer
 * gives, as torch.nn.Conv1d with stride 1 applied to each row's valid
 * steps: y[b, t, u] = act(bias[u] + sum over j < kernel_size and input
 * features c of weight[u, c, j] x[b, t - pad + j*dilation, c]), where
 * steps outside the row's valid ones count as zeros.  Parameters
 * "weight" [filters, in, kernel_size] and "bias" [filters], initialised
 * as PyTorch (U(-1/sqrt(in*k), 1/sqrt(in*k))).
 *
 * Without flags the convolution is valid (pad = 0): a row of length L
 * gives max(0, L - (kernel_size-1)*dilation) output steps, and the
 * output has T - (kernel_size-1)*dilation steps (at least 1: a batch
 * shorter than the kernel gives one padding step per row).  With
 * SEQCLS_PAD_SAME a row of length L gives L steps and the output T: the
 * (kernel_size-1)*dilation padding steps are split with the larger half
 * on the right (pad = half, rounded down), as PyTorch's padding='same'.
 * A row's outputs depend only on its own valid steps, never on how much
 * padding follows; padding steps of the output are zero.
 * Options: SEQCLS_OPT_ACTIVATION (SEQCLS_ACT_*, default none, settable),
 * SEQCLS_OPT_DILATION (default 1, settable before the next layer is
 * added), SEQCLS_OPT_UNITS (filters) and SEQCLS_OPT_FLAGS (read-only).
 * With SEQCLS_ACT_RELU and max pooling it is Kim's (2014) CNN for text.
 * Since 1.1.
 * @return as the other constructors; SEQCLS_E_INVALID_ARG also for
 *         filters outside [1, 2^24], kernel_size outside [1, 65536] or an
 *         unknown flag; SEQCLS_E_NOMEM for weights above 2^32 elements.
 */
SEQCLS_API int seqcls_add_conv1d(seqcls_model_t *m, int filters, int kernel_size,
                                 unsigned flags, int *layer);

/**
 * Flatten a sequence of a fixed number of steps T [B, T, F] into a vector
 * [B, T*F], step after step (Keras' Flatten).  T is fixed by an earlier
 * layer built for a number of steps (SEQCLS_ATTN_FEATURE_TIME, as in
 * Keras' attention-after-LSTM example; less the steps valid convolutions
 * in between remove); SEQCLS_OPT_UNITS reads it.  Every row must have
 * all its steps: a forward with a row shorter than T fails with
 * SEQCLS_E_RANGE and a message naming the row.  Since 1.1.
 * @return as the other constructors; SEQCLS_E_STATE also when no earlier
 *         layer fixes the number of steps.
 */
SEQCLS_API int seqcls_add_flatten(seqcls_model_t *m, int *layer);

/**
 * Set an integer or float option (SEQCLS_OPT_*) on layer `layer`.
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (option not for this layer
 *         kind, or value out of range), SEQCLS_E_RANGE (no such layer).
 */
SEQCLS_API int seqcls_layer_set_int(seqcls_model_t *m, int layer, int option, int value);
SEQCLS_API int seqcls_layer_set_float(seqcls_model_t *m, int layer, int option, float value);

/* ---- introspection (1.1) ---- */

/**
 * Kind of layer `layer`: a SEQCLS_LAYER_* constant (> 0), or a negative
 * status: SEQCLS_E_INVALID_ARG (m is NULL), SEQCLS_E_RANGE (no such
 * layer).  Since 1.1.
 */
SEQCLS_API int seqcls_layer_kind(const seqcls_model_t *m, int layer);
/**
 * Read an option of layer `layer` (SEQCLS_OPT_*: those that can be set,
 * and those the constructor fixed, such as SEQCLS_OPT_UNITS) into *value.
 * Integer options through _get_int, float options through _get_float.
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (NULL argument, an option this
 *         layer kind does not have, or of the other type), SEQCLS_E_RANGE
 *         (no such layer).  Since 1.1.
 */
SEQCLS_API int seqcls_layer_get_int(const seqcls_model_t *m, int layer, int option, int *value);
SEQCLS_API int seqcls_layer_get_float(const seqcls_model_t *m, int layer, int option,
                                      float *value);
/**
 * Width of the model's output: its number of logits C (1 for a binary
 * sigmoid output), as the probabilities of seqcls_predict have it.
 * @return C > 0, or SEQCLS_E_INVALID_ARG (m is NULL), SEQCLS_E_STATE (the
 *         model has no output layer yet).  Since 1.1.
 */
SEQCLS_API int seqcls_model_output_width(const seqcls_model_t *m);
/**
 * Rank of the model's logits and probabilities: 2 ([B, C], one result per
 * row; labels I32 [B]) or 3 ([B, T, C], one per step, for an output layer
 * after a sequence; labels I32 [B, T]).
 * @return 2 or 3, or SEQCLS_E_INVALID_ARG (m is NULL), SEQCLS_E_STATE (the
 *         model has no output layer yet).  Since 1.1.
 */
SEQCLS_API int seqcls_model_output_ndim(const seqcls_model_t *m);

/* ------------------------------------------------------------------ */
/* Parameters                                                          */
/* ------------------------------------------------------------------ */

/** Number of parameter tensors; 0 if m is NULL. */
SEQCLS_API int seqcls_param_count(const seqcls_model_t *m);
/**
 * Name of parameter i, "<layer>.<kind>.<name>", e.g. "0.embedding.weight",
 * "1.lstm.weight_ih_l0_reverse", "3.dense.bias".  Borrowed, valid while
 * the model lives; NULL if i is out of range.
 */
SEQCLS_API const char *seqcls_param_name(const seqcls_model_t *m, int i);
/**
 * Borrow parameter i's value and gradient tensors (either out pointer may
 * be NULL).  Both live as long as the model.  Writing into the value
 * changes the model (that is how weights are imported).
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG, SEQCLS_E_RANGE, SEQCLS_E_NOMEM
 *         (since 1.1: the gradient of an embedding bag's table is
 *         allocated when first asked for).
 */
SEQCLS_API int seqcls_param(seqcls_model_t *m, int i, seqcls_tensor_t **value,
                            seqcls_tensor_t **grad);
/** Index of the parameter with this exact name, or -1. */
SEQCLS_API int seqcls_param_find(const seqcls_model_t *m, const char *name);

/* ------------------------------------------------------------------ */
/* Reduced precision: int8 and bfloat16 inference (1.1)                */
/* ------------------------------------------------------------------ */

/* Precisions of a model's weights (seqcls_model_precision), the number of
 * bits of each weight.  They are not tensor dtypes. */
#define SEQCLS_FP32 32  /* float32: every model as built, trained or loaded from 1.0 */
#define SEQCLS_BF16 16  /* bfloat16 weights and activations, float32 sums */
#define SEQCLS_INT8 8   /* int8 weights per output channel, int8 activations per row */

/**
 * Quantise a trained model for inference, as PyTorch's
 * torch.quantization.quantize_dynamic does: the weights of dense and
 * output layers, W_ih, W_hh of LSTM and GRU layers (both directions)
 * and the key projection W of bahdanau and learned_query attention are
 * stored in `precision`, and so is an embedding's table (int8: per row,
 * each token's row dequantised when it is looked up); biases, the rest
 * of attention (its query projection and score vector), embedding bags,
 * pooling, convolutions, batch norm and transformer layers stay float32,
 * and so do the cell state, the gates' nonlinearities (in quick forms,
 * within about 1e-4) and the softmax.
 *
 * SEQCLS_INT8: each output channel (row) of a weight gets a float scale,
 * max |w| / 127, and int8 values in [-127, 127]; each row of activations
 * entering one of these products (a batch row, or a row at one time
 * step) is quantised the same way with a scale of its own, at run time;
 * products are summed in int32 and scaled back to float32.  Results are
 * the same on every CPU (AVX512-VNNI, AVX2 and portable kernels compute
 * the same integers).  SEQCLS_BF16: weights and activations rounded to
 * bfloat16 (to nearest even), products summed in float32.
 *
 * The float32 weights are freed: the model takes about a quarter (int8)
 * or half (bfloat16) of the memory of its quantised weights, and saves
 * to a file that size (seqcls_model_save; seqcls 1.0 refuses such a
 * file with SEQCLS_E_VERSION).  Afterwards the model predicts
 * (seqcls_predict, seqcls_forward with training = 0, seqcls_evaluate,
 * streams); the training calls (seqcls_forward with training != 0,
 * seqcls_backward, seqcls_loss_backward, seqcls_zero_grad,
 * seqcls_optimizer_step, seqcls_fit, seqcls_checkpoint_save, the
 * communicator calls) refuse it with SEQCLS_E_STATE, no layer can be
 * added, seqcls_param refuses a quantised weight's value and
 * seqcls_embedding_set_rows a quantised table (SEQCLS_E_STATE).  Not thread-safe on one model.  Since 1.1.
 *
 * @return SEQCLS_OK; SEQCLS_E_INVALID_ARG (m NULL, precision neither
 *         SEQCLS_INT8 nor SEQCLS_BF16); SEQCLS_E_STATE (the model is
 *         quantised already, or has no weight to quantise);
 *         SEQCLS_E_UNSUPPORTED (int8: a layer with more than 65536
 *         inputs); SEQCLS_E_NOMEM.  On error the model is unchanged.
 */
SEQCLS_API int seqcls_model_quantize(seqcls_model_t *m, int precision);

/**
 * The precision of m's weights: SEQCLS_FP32, SEQCLS_BF16 or SEQCLS_INT8
 * (> 0), or SEQCLS_E_INVALID_ARG if m is NULL.  Since 1.1.
 */
SEQCLS_API int seqcls_model_precision(const seqcls_model_t *m);

/**
 * Parameter i's precision, SEQCLS_FP32, SEQCLS_BF16 or SEQCLS_INT8 (> 0),
 * and its shape into shape[0..ndim) (shape may be NULL; it must hold
 * SEQCLS_MAX_DIMS values otherwise, and ndim may be NULL): what a
 * program can know of a quantised weight, whose value seqcls_param
 * refuses.  Since 1.1.
 * @return the precision, or SEQCLS_E_INVALID_ARG (m NULL), SEQCLS_E_RANGE
 *         (no parameter i).
 */
SEQCLS_API int seqcls_param_precision(const seqcls_model_t *m, int i, int *ndim, int64_t *shape);

/* ------------------------------------------------------------------ */
/* Forward and backward                                                */
/* ------------------------------------------------------------------ */

/**
 * Run the model on a batch.  `input` is I32 ids [B, T] after an
 * embedding, I32 [B, T, per_step] after an embedding bag (1.1), F32
 * [B, T, F] after an input layer.  `lengths` holds B
 * values in [0, T], or is NULL for all T.  `logits`, if not NULL, must be
 * F32 [B, C] and receives the output layer's logits; for a per-step model
 * (seqcls_add_output after a sequence) F32 [B, T, C], zero at padding
 * steps.  `training` != 0
 * enables dropout and keeps what seqcls_backward needs.
 * With `training` != 0 the model keeps pointing at `input`'s data (not
 * copied; `lengths` is) for seqcls_backward / seqcls_loss_backward: keep
 * it alive and unchanged until then.
 * Not thread-safe on one model (use seqcls_predict for that).
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG, SEQCLS_E_STATE (model has no
 *         output layer), SEQCLS_E_SHAPE, SEQCLS_E_RANGE (token id or
 *         length), SEQCLS_E_NUMERIC (NaN/Inf in a float input),
 *         SEQCLS_E_NOMEM.  On error `logits` is left unchanged.
 */
SEQCLS_API int seqcls_forward(seqcls_model_t *m, const seqcls_tensor_t *input,
                              const int32_t *lengths, seqcls_tensor_t *logits, int training);

/**
 * Back-propagate `dlogits` (F32 [B, C], the gradient of your loss with
 * respect to the logits of the last training forward; [B, T, C] for a
 * per-step model, whose padding steps are ignored) and add the
 * parameter gradients into the gradient tensors (they accumulate, as in
 * PyTorch; see seqcls_zero_grad).
 * @return SEQCLS_OK, SEQCLS_E_STATE (no training forward before),
 *         SEQCLS_E_SHAPE, SEQCLS_E_NUMERIC (NaN/Inf in dlogits),
 *         SEQCLS_E_INVALID_ARG, SEQCLS_E_NOMEM.
 */
SEQCLS_API int seqcls_backward(seqcls_model_t *m, const seqcls_tensor_t *dlogits);

/**
 * Compute the built-in loss of the last training forward against
 * `labels` (I32 [B]: class indices, 0/1 when C = 1), averaged over the
 * batch, store it in *loss (may be NULL), and back-propagate it.
 * A per-step model takes labels I32 [B, T] and averages over the valid
 * steps of the batch only; labels at padding steps are not read (any
 * value will do, e.g. PyTorch's -100).  A batch with no valid step has
 * loss 0 and no gradient.
 * @return as seqcls_backward, plus SEQCLS_E_RANGE (label outside the
 *         classes) and SEQCLS_E_NUMERIC (loss is not finite).
 */
SEQCLS_API int seqcls_loss_backward(seqcls_model_t *m, const seqcls_tensor_t *labels,
                                    float *loss);

/**
 * Gradient of the last backward with respect to a float input (F32
 * [B, T, F], zero at padding steps), borrowed and valid until the next
 * forward.  Only for models that start with seqcls_add_input.
 * @return SEQCLS_OK, SEQCLS_E_STATE (no backward yet, or ids input).
 */
SEQCLS_API int seqcls_input_grad(seqcls_model_t *m, seqcls_tensor_t **grad);

/** Set every parameter gradient to zero. @return SEQCLS_OK, SEQCLS_E_INVALID_ARG. */
SEQCLS_API int seqcls_zero_grad(seqcls_model_t *m);

/**
 * Attention weights [B, T] of the last forward of attention layer
 * `layer` (-1 = the last attention layer), borrowed until the next forward.
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG, SEQCLS_E_RANGE (no such
 *         attention layer), SEQCLS_E_STATE (no forward yet).
 */
SEQCLS_API int seqcls_attention_weights(seqcls_model_t *m, int layer, seqcls_tensor_t **weights);

/**
 * The final states of recurrent layer `layer` (-1 = the last one) from the
 * last seqcls_forward (training or not; seqcls_predict keeps nothing),
 * written into `h` and `c`, F32 [B, dirs*H] each, dirs = 2 for a
 * bidirectional layer; either may be NULL, and `c`, the cell state, must
 * be NULL for a GRU.  Row b holds the forward direction's state after its
 * last valid step (lengths[b] - 1) in [0, H) and the backward direction's
 * state after step 0 in [H, 2H), whatever the merge mode: exactly what
 * PyTorch's nn.LSTM / nn.GRU return as (h_n, c_n) for a sequence packed
 * with the same lengths (pack_padded_sequence), with h[b, d*H + k] =
 * h_n[d, b, k]; for a stacked PyTorch module (num_layers = N), h_n[2*l + d]
 * belongs to the l-th seqcls layer.  Keras' return_state gives [output,
 * h, c], and for a Bidirectional layer forward h, c then backward h, c:
 * h is [forward h | backward h].  A row of length 0 (which PyTorch cannot
 * pack) has zero states.  Since 1.1.
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (m NULL, c given for a GRU),
 *         SEQCLS_E_RANGE (no such recurrent layer), SEQCLS_E_STATE (no
 *         forward since the model was built, loaded or changed),
 *         SEQCLS_E_SHAPE (h or c not F32 [B, dirs*H]).
 */
SEQCLS_API int seqcls_final_states(seqcls_model_t *m, int layer, seqcls_tensor_t *h,
                                   seqcls_tensor_t *c);

/**
 * Self-attention weights of the last forward (seqcls_forward) of
 * transformer layer `layer`, copied into `out`: F32 [B, heads, T, T],
 * out[b, h, i, j] the weight query step i gives key step j; each row of a
 * valid query sums to 1 over the valid keys and is 0 at padding keys;
 * rows of padding queries are 0.  After a training forward these are the
 * weights before dropout.  seqcls_predict does not change them.  Since 1.1.
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG, SEQCLS_E_RANGE (not a
 *         transformer layer), SEQCLS_E_SHAPE (out's shape), SEQCLS_E_STATE
 *         (no forward yet).
 */
SEQCLS_API int seqcls_self_attention_weights(const seqcls_model_t *m, int layer,
                                             seqcls_tensor_t *out);

/**
 * Run the model for inference (dropout off) and write class
 * probabilities into `probs` (F32 [B, C]; sigmoid when C = 1, softmax
 * otherwise; for a per-step model F32 [B, T, C], zero at padding steps).  `attention`, if not NULL, must be F32 [B, T] and receives
 * the weights of the last attention layer.  Safe to call from many
 * threads at once on the same model, as long as nothing modifies it.
 * @return as seqcls_forward.
 */
SEQCLS_API int seqcls_predict(const seqcls_model_t *m, const seqcls_tensor_t *input,
                              const int32_t *lengths, seqcls_tensor_t *probs,
                              seqcls_tensor_t *attention);

/* ------------------------------------------------------------------ */
/* Streams: one sequence, a few steps at a time (1.1)                  */
/* ------------------------------------------------------------------ */

/**
 * A stream runs a model over one sequence as it arrives (sensor readings,
 * log lines, keystrokes; a language model's own samples), keeping the
 * state of its layers between calls: pushing a sequence in chunks of any
 * sizes gives the probabilities seqcls_predict gives for the whole
 * sequence (to float rounding; the recurrent and pooling layers give the
 * same bits).
 *
 * A stream only reads its model: many streams may run on one model, from
 * many threads, beside seqcls_predict, as long as nothing modifies the
 * model during a push.  Each push uses the weights the model has then
 * (train between pushes if you like).  The model must outlive its
 * streams.  One stream is not to be pushed from two threads at once.
 * Since 1.1.
 */
typedef struct seqcls_stream seqcls_stream_t;

/**
 * Create a stream over model `m`, at the start of a sequence.  Every
 * layer must be able to run step by step: embedding, embedding bag,
 * input, LSTM and GRU in one direction (with or without
 * SEQCLS_RETURN_SEQUENCES), pooling (last, first, mean and max, kept as
 * running values), positional encoding (at most max_len steps in all),
 * dense, dropout (identity) and output; not a transformer encoder (every
 * output depends on every step).  Free with seqcls_stream_free.
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (NULL out or model),
 *         SEQCLS_E_STATE (no output layer), SEQCLS_E_UNSUPPORTED (a layer
 *         that needs the whole sequence, e.g. a bidirectional recurrent
 *         layer, attention or batch norm; the message names the layer and
 *         why), SEQCLS_E_NOMEM.  Since 1.1.
 */
SEQCLS_API int seqcls_stream_create(seqcls_stream_t **out, const seqcls_model_t *m);

/**
 * Feed the next `n_steps` steps of the sequence: the first n_steps rows of
 * `input`, I32 ids [>= n_steps] after an embedding, I32 [>= n_steps,
 * per_step] after an embedding bag, or F32 [>= n_steps, F] after an input
 * layer (the tensor may hold more rows than are pushed).
 * `probs`, if not NULL, receives the model's probabilities: F32 [C] after
 * the last step pushed so far for a model with one result per sequence
 * (n_steps may be 0 to read them again, or before any step: those of an
 * empty sequence); F32 [n_steps, C] for a per-step model (seqcls_add_output
 * after a sequence: one row per step of this push; n_steps = 0 does
 * nothing).  A push that fails changes nothing: the stream is as before.
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (NULL stream or input, n_steps <
 *         0), SEQCLS_E_SHAPE (dtype, rank, width or too few rows),
 *         SEQCLS_E_RANGE (a token id outside the vocabulary),
 *         SEQCLS_E_NUMERIC (NaN/Inf in a float input, or a layer's output
 *         overflowed), SEQCLS_E_NOMEM.  Since 1.1.
 */
SEQCLS_API int seqcls_stream_push(seqcls_stream_t *s, const seqcls_tensor_t *input, int n_steps,
                                  seqcls_tensor_t *probs);

/**
 * Go back to the start of a sequence (every state zero), as a new stream.
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (s is NULL).  Since 1.1.
 */
SEQCLS_API int seqcls_stream_reset(seqcls_stream_t *s);

/** Free a stream (not its model). NULL is allowed. Since 1.1. */
SEQCLS_API void seqcls_stream_free(seqcls_stream_t *s);

/**
 * Draw a class from the probabilities `probs[0, n)` at `temperature`,
 * with the library's random numbers, for text generation.
 *
 * The rule: with T = temperature > 0, class i has weight p_i^(1/T),
 * renormalised over the classes (computed as exp((log p_i - log p_max) / T),
 * so no weight underflows to all zeros); a uniform u in [0, 1) is drawn
 * and the first class whose cumulative weight exceeds u * (sum of the
 * weights) is returned.  T = 1 samples from `probs` as they are, T < 1
 * sharpens them, T > 1 flattens them.  T = 0 returns the most probable
 * class (the first of equal ones) and draws nothing.  `probs` need not
 * sum to 1.  n = 1 is a one-logit (sigmoid) model's output: p of class 1,
 * so the classes are 0 and 1 with weights 1 - p and p.
 *
 * `*rng_state` is the generator's whole state, 64 bits, which any value
 * (including 0) seeds; each draw advances it by one step of splitmix64,
 * the generator that seeds the library's own, so the same seed gives the
 * same draws on every platform.  It may be NULL when temperature is 0.
 * Safe from any thread (the state is the caller's).
 * @return the class, in [0, n) (n = 1: 0 or 1), or SEQCLS_E_INVALID_ARG
 *         (NULL probs or rng_state, n < 1, temperature negative or not
 *         finite, a probability negative or not finite, n = 1 with p > 1,
 *         or no positive probability).  Since 1.1.
 */
SEQCLS_API int seqcls_sample(const float *probs, int n, float temperature, uint64_t *rng_state);

/* ------------------------------------------------------------------ */
/* Threads                                                             */
/* ------------------------------------------------------------------ */

/**
 * Set the process-wide number of threads seqcls computes with; 0 (the
 * default) = one per core.  seqcls runs a small pool of its own threads,
 * started at the first call that can use them and joined when the library
 * is unloaded: with n = 1 it never starts a thread.  The BLAS is put at
 * one thread (seqcls splits large products over its pool instead, so the
 * two never oversubscribe the cores); this is process-wide for OpenBLAS.
 * Results do not depend on n beyond float rounding.  Safe to call at any
 * time; it takes effect at the next call that starts work.
 * @return SEQCLS_OK, or SEQCLS_E_INVALID_ARG if n is outside [0, 1024].
 */
SEQCLS_API int seqcls_set_num_threads(int n);
/** The thread count in effect (>= 1). */
SEQCLS_API int seqcls_get_num_threads(void);

/* ------------------------------------------------------------------ */
/* Optimisers                                                          */
/* ------------------------------------------------------------------ */

typedef struct seqcls_optimizer seqcls_optimizer_t;

#define SEQCLS_OPTIM_ADAM    1  /* Adam with L2 weight decay, as torch.optim.Adam */
#define SEQCLS_OPTIM_SGD     2  /* SGD with optional momentum, as torch.optim.SGD */
#define SEQCLS_OPTIM_RMSPROP 3  /* RMSprop, as torch.optim.RMSprop */
#define SEQCLS_OPTIM_ADAMW   4  /* Adam with decoupled weight decay, as torch.optim.AdamW */

/* optimiser options (seqcls_optimizer_set_float); defaults are PyTorch's */
#define SEQCLS_OPTIM_LR           1  /* learning rate */
#define SEQCLS_OPTIM_BETA1        2  /* Adam: 0.9 */
#define SEQCLS_OPTIM_BETA2        3  /* Adam: 0.999 */
#define SEQCLS_OPTIM_EPS          4  /* Adam 1e-8, RMSprop 1e-8 */
#define SEQCLS_OPTIM_WEIGHT_DECAY 5  /* 0 (AdamW: 0.01) */
#define SEQCLS_OPTIM_MOMENTUM     6  /* SGD, RMSprop: 0 */
#define SEQCLS_OPTIM_RHO          7  /* RMSprop smoothing (PyTorch alpha): 0.99 */
#define SEQCLS_OPTIM_CLIPNORM     8  /* 0 = off; else scale all gradients so their global L2 norm is at
                                        most this (PyTorch's clip_grad_norm_, Keras' global_clipnorm) */
#define SEQCLS_OPTIM_CLIPVALUE    9  /* 0 = off; else clip each gradient element to [-v, v] */
#define SEQCLS_OPTIM_CLIPNORM_PER_TENSOR 10 /* 0 = off; else scale each parameter's gradient so its
                                        own L2 norm is at most this (Keras' clipnorm) (1.1) */

/**
 * Create an optimiser of `kind` with learning rate `lr` (> 0).  Its
 * state is created on the first step for the model it is used with; use
 * one optimiser per model.
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG, SEQCLS_E_NOMEM.
 */
SEQCLS_API int seqcls_optimizer_create(seqcls_optimizer_t **out, int kind, float lr);
/** Set an option (SEQCLS_OPTIM_*). @return SEQCLS_OK or SEQCLS_E_INVALID_ARG (unknown option, value out of range). */
SEQCLS_API int seqcls_optimizer_set_float(seqcls_optimizer_t *o, int option, float value);
/**
 * Update every trainable parameter of `m` from its gradient, clipping
 * first if asked: each tensor to SEQCLS_OPTIM_CLIPNORM_PER_TENSOR, then
 * all of them to SEQCLS_OPTIM_CLIPNORM, then each element to
 * SEQCLS_OPTIM_CLIPVALUE (the gradients are clipped in place).  Gradients
 * are not zeroed (call seqcls_zero_grad).
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG, SEQCLS_E_STATE (used with a
 *         different model than before), SEQCLS_E_NUMERIC (a gradient is
 *         NaN/Inf: nothing is updated), SEQCLS_E_NOMEM.
 */
SEQCLS_API int seqcls_optimizer_step(seqcls_optimizer_t *o, seqcls_model_t *m);
/** Number of steps taken. */
SEQCLS_API int64_t seqcls_optimizer_steps(const seqcls_optimizer_t *o);
/** Free an optimiser. NULL is allowed. */
SEQCLS_API void seqcls_optimizer_free(seqcls_optimizer_t *o);

/* ------------------------------------------------------------------ */
/* Training loop and evaluation                                        */
/* ------------------------------------------------------------------ */

/** Settings of seqcls_fit, made with seqcls_fit_config_create. */
typedef struct seqcls_fit_config seqcls_fit_config_t;

/* integer settings (seqcls_fit_config_set_int), defaults in brackets */
#define SEQCLS_FIT_BATCH_SIZE   1  /* rows per batch [32] */
#define SEQCLS_FIT_EPOCHS       2  /* passes over the training data [10] */
#define SEQCLS_FIT_SHUFFLE      3  /* 1 = reshuffle every epoch [1] */
#define SEQCLS_FIT_SEED         4  /* seed of the shuffling [0] */
#define SEQCLS_FIT_PATIENCE     5  /* stop after this many epochs without a better
                                      validation loss; 0 = never [0] */
#define SEQCLS_FIT_RESTORE_BEST 6  /* 1 = end with the weights of the best validation
                                      loss [1] */
#define SEQCLS_FIT_BUCKETING    7  /* 1 = batch rows of similar length and cut each
                                      batch to its longest row [1] */
#define SEQCLS_FIT_INITIAL_EPOCH 9 /* epoch to start from, to resume training (as Keras'
                                      initial_epoch): epochs run from it to EPOCHS - 1,
                                      with the same shuffling as an uninterrupted run [0] */
/* float settings (seqcls_fit_config_set_float) */
#define SEQCLS_FIT_VALID_SPLIT  8  /* fraction of the rows (the last ones, as Keras)
                                      held out for validation when no validation set
                                      is given [0] */

/**
 * Called after every training batch with the epoch (from 0), the batch
 * index (from 0) and count of the epoch, and the batch's loss and
 * accuracy.  Return non-zero to stop training (seqcls_fit then returns
 * SEQCLS_OK with the weights as they are, or the best ones if
 * SEQCLS_FIT_RESTORE_BEST applies).
 */
typedef int (*seqcls_batch_fn)(void *user, int epoch, int batch, int batches, float loss,
                               float accuracy);
/**
 * Called after every epoch with its mean training loss and accuracy and
 * the validation loss and accuracy (NaN when there is no validation
 * data).  Return non-zero to stop training.
 */
typedef int (*seqcls_epoch_fn)(void *user, int epoch, float loss, float accuracy,
                               float val_loss, float val_accuracy);
/** Learning rate for `epoch` (from 0), given the optimiser's initial rate. */
typedef float (*seqcls_lr_schedule_fn)(void *user, int epoch, float initial_lr);

/** Create settings with the defaults above. @return SEQCLS_OK, SEQCLS_E_INVALID_ARG, SEQCLS_E_NOMEM. */
SEQCLS_API int seqcls_fit_config_create(seqcls_fit_config_t **out);
/** Free settings. NULL is allowed. */
SEQCLS_API void seqcls_fit_config_free(seqcls_fit_config_t *c);
/** @return SEQCLS_OK or SEQCLS_E_INVALID_ARG (unknown setting, value out of range). */
SEQCLS_API int seqcls_fit_config_set_int(seqcls_fit_config_t *c, int setting, int64_t value);
SEQCLS_API int seqcls_fit_config_set_float(seqcls_fit_config_t *c, int setting, float value);
/** Set (or clear, with NULL) the callbacks; `user` is passed back to each. */
SEQCLS_API int seqcls_fit_config_set_callbacks(seqcls_fit_config_t *c, seqcls_batch_fn on_batch,
                                               seqcls_epoch_fn on_epoch,
                                               seqcls_lr_schedule_fn lr_schedule, void *user);

/**
 * Train `m` with optimiser `o` on rows of `x` (I32 ids [N, T] or F32
 * [N, T, F], as seqcls_forward takes), `lengths` (N values, or NULL for
 * all T) and `y` (I32 [N] class indices; for a per-step model I32 [N, T],
 * read at valid steps only).  The loss and accuracy passed to the
 * callbacks are per row, or for a per-step model per valid step.  Validation data (`val_x`,
 * `val_lengths`, `val_y`) may be NULL, in which case
 * SEQCLS_FIT_VALID_SPLIT may hold out the last rows of x.  `config` may be
 * NULL for the defaults.  The caller's arrays are only read.
 *
 * Batches are drawn in a seeded random order; with bucketing, rows of
 * similar length share a batch (which changes only the order in which
 * rows are seen).  The best weights by validation loss are kept in memory
 * and restored at the end (SEQCLS_FIT_RESTORE_BEST).  Dropout masks are
 * drawn per row from the model's seed, SEQCLS_FIT_SEED, the epoch and the
 * row's index in x (since 1.1; 1.0 drew them from the model's stream), so
 * that they do not depend on which batch, thread or rank holds the row.
 * With a communicator (seqcls_fit_config_set_comm) it trains one replica
 * of a data-parallel job.
 *
 * @return SEQCLS_OK (also when a callback stopped training),
 *         SEQCLS_E_INVALID_ARG, SEQCLS_E_SHAPE, SEQCLS_E_RANGE (a length,
 *         token id or label out of range: checked before any update),
 *         SEQCLS_E_NUMERIC (the loss or a gradient became NaN/Inf: training
 *         stops and the weights of the last good step are kept),
 *         SEQCLS_E_NOMEM, SEQCLS_E_COMM (with a communicator: a callback
 *         failed, another rank failed, or the ranks' settings, data or
 *         replicas differ; the message says which).
 */
SEQCLS_API int seqcls_fit(seqcls_model_t *m, seqcls_optimizer_t *o, const seqcls_tensor_t *x,
                          const int32_t *lengths, const seqcls_tensor_t *y,
                          const seqcls_tensor_t *val_x, const int32_t *val_lengths,
                          const seqcls_tensor_t *val_y, const seqcls_fit_config_t *config);

/* ------------------------------------------------------------------ */
/* Distributed training (1.1; docs/distributed.md)                     */
/* ------------------------------------------------------------------ */

/**
 * A communicator: how the N processes ("ranks") of a data-parallel job
 * reach each other.  The library knows no transport: the caller provides
 * two collective operations as callbacks, and libseqcls-mpi
 * (seqcls_mpi.h, `pkg-config seqcls-mpi`) builds one from an MPI_Comm.
 * Every rank of a job makes the same calls on its own communicator, in
 * the same order.  Since 1.1.
 */
typedef struct seqcls_comm seqcls_comm_t;

/**
 * All-reduce: replace data[0, n) on every rank by the element-wise sum
 * over the ranks.  Every rank must receive bit-identical sums (MPI's
 * MPI_Allreduce with MPI_SUM does for every algorithm Open MPI uses on
 * floats; the library checks that the replicas stay equal, see
 * seqcls_fit).  Return 0 on success, anything else on failure.
 */
typedef int (*seqcls_allreduce_fn)(void *user, float *data, size_t n);
/**
 * Broadcast: copy `bytes` bytes at `data` on rank 0 into `data` on every
 * other rank.  Return 0 on success, anything else on failure.
 */
typedef int (*seqcls_broadcast_fn)(void *user, void *data, size_t bytes);
/** Called with the user pointer when a communicator is freed (seqcls_comm_set_destructor). */
typedef void (*seqcls_destructor_fn)(void *user);

/* communicator options (seqcls_comm_set_int), defaults in brackets */
#define SEQCLS_COMM_OVERLAP      1  /* 1 = seqcls_fit calls the all-reduce from a thread of
                                       its own while the backward pass still runs, one call
                                       at a time (MPI: needs MPI_THREAD_SERIALIZED); 0 = from
                                       the calling thread after the backward pass [1] */
#define SEQCLS_COMM_BUCKET_BYTES 2  /* gradients are all-reduced in buckets of whole layers,
                                       the last layers first, each closed once it holds at
                                       least this many bytes [262144] */

/* communicator statistics (seqcls_comm_stat); they add up over every fit with the communicator */
#define SEQCLS_COMM_STAT_STEPS            1  /* gradient all-reductions (training steps) */
#define SEQCLS_COMM_STAT_BUCKETS          2  /* all-reduce calls for gradient buckets */
#define SEQCLS_COMM_STAT_BYTES            3  /* bytes of gradients all-reduced */
#define SEQCLS_COMM_STAT_COMM_SECONDS     4  /* time spent on the buckets: copying the gradients
                                                into each, its all-reduce call, copying back */
#define SEQCLS_COMM_STAT_EXPOSED_SECONDS  5  /* time training waited for them after its
                                                backward pass had ended (not hidden) */
#define SEQCLS_COMM_STAT_BACKWARD_SECONDS 6  /* time spent in backward passes */

/**
 * Create a communicator for rank `rank` of `size` (0 <= rank < size),
 * with the two collectives and `user`, passed back to them.  The
 * communicator does not own `user` unless a destructor is set.  Free
 * with seqcls_comm_free.  Since 1.1.
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (NULL out or callback, rank
 *         or size out of range), SEQCLS_E_NOMEM.
 */
SEQCLS_API int seqcls_comm_create(seqcls_comm_t **out, int rank, int size,
                                  seqcls_allreduce_fn allreduce_sum,
                                  seqcls_broadcast_fn broadcast, void *user);
/** Free a communicator (calling its destructor, if set, with its user pointer). NULL is allowed. Since 1.1. */
SEQCLS_API void seqcls_comm_free(seqcls_comm_t *c);
/** Call `fn(user)` when the communicator is freed (NULL: nothing). @return SEQCLS_OK, SEQCLS_E_INVALID_ARG. Since 1.1. */
SEQCLS_API int seqcls_comm_set_destructor(seqcls_comm_t *c, seqcls_destructor_fn fn);
/** This process's rank, or -1 if c is NULL. Since 1.1. */
SEQCLS_API int seqcls_comm_rank(const seqcls_comm_t *c);
/** The number of ranks, or -1 if c is NULL. Since 1.1. */
SEQCLS_API int seqcls_comm_size(const seqcls_comm_t *c);
/**
 * Set an option (SEQCLS_COMM_*).  @return SEQCLS_OK, SEQCLS_E_INVALID_ARG
 * (unknown option; overlap not 0 or 1; bucket bytes outside [4, 2^40]).
 * Since 1.1.
 */
SEQCLS_API int seqcls_comm_set_int(seqcls_comm_t *c, int option, int64_t value);
/**
 * A statistic (SEQCLS_COMM_STAT_*) summed over every seqcls_fit run with
 * this communicator; NaN if c is NULL or the statistic unknown.  The
 * fraction of communication hidden behind the backward pass is
 * 1 - EXPOSED_SECONDS / COMM_SECONDS.  Since 1.1.
 */
SEQCLS_API double seqcls_comm_stat(const seqcls_comm_t *c, int stat);

/**
 * Train data-parallel: with a communicator set, seqcls_fit on every rank
 * trains one replica of the model as follows (docs/distributed.md).
 * - Every rank passes the whole training (and validation) data, the same
 *   configuration and a model of the same architecture; the settings, row
 *   counts and parameter shapes are checked against rank 0's first
 *   (SEQCLS_E_COMM naming the difference, on every rank).
 * - Rank 0's parameters, model seed and optimiser state (moments, step
 *   count, settings: a resumed job) are broadcast, so replicas start equal.
 * - Each global batch of SEQCLS_FIT_BATCH_SIZE rows (drawn as without a
 *   communicator) is shared out: rank r of N takes the rows at positions
 *   r, r + N, r + 2N, ... of the batch.
 * - The loss is divided by the global batch's rows, gradients are summed
 *   over the ranks in buckets while the backward pass runs
 *   (SEQCLS_COMM_OVERLAP), and every rank takes the same optimiser step.
 * - Dropout masks depend on the model seed, the fit seed, the epoch and
 *   the row's index in the data, never on the rank (this is also how
 *   seqcls_fit draws them without a communicator, since 1.1).
 * - After each epoch, parameters that are not trained (batch norm's
 *   running statistics) are broadcast from rank 0, the replicas are
 *   checked to be equal, and the validation rows are shared out the same
 *   way and their loss and accuracy summed, so that the callbacks see the
 *   same figures on every rank and best-epoch and early-stopping
 *   decisions agree.  A stop asked by a callback on any rank stops all.
 * With the same seeds and global batch size, N ranks give the model one
 * process gives up to float rounding (sums added in another order).
 * Batch norm's batch statistics are per rank (as PyTorch's
 * DistributedDataParallel without SyncBatchNorm).
 * The communicator must outlive the configuration's use; NULL clears it.
 * Since 1.1.
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (config NULL).
 */
SEQCLS_API int seqcls_fit_config_set_comm(seqcls_fit_config_t *c, seqcls_comm_t *comm);

/**
 * For a training loop of your own: replace every trainable parameter's
 * gradient of `m` by its mean over the ranks (summed in buckets, then
 * divided by the number of ranks), on the calling thread.  That equals
 * one process's gradient of the whole batch when every rank's loss is the
 * mean over an equal share of it (seqcls_loss_backward is).  Every rank
 * must call it with a model of the same parameter shapes.  Since 1.1.
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (NULL), SEQCLS_E_COMM (a
 *         callback failed; the gradients are then undefined),
 *         SEQCLS_E_NOMEM.
 */
SEQCLS_API int seqcls_comm_allreduce_grads(seqcls_comm_t *c, seqcls_model_t *m);
/**
 * Copy rank 0's parameter values (trained or not) into `m` on every rank,
 * so that replicas start equal in a loop of your own.  Since 1.1.
 * @return as seqcls_comm_allreduce_grads.
 */
SEQCLS_API int seqcls_comm_broadcast_params(seqcls_comm_t *c, seqcls_model_t *m);

/** Results of seqcls_evaluate: loss, accuracy, per-class scores, confusion matrix. */
typedef struct seqcls_metrics seqcls_metrics_t;

#define SEQCLS_METRIC_LOSS      1  /* mean loss */
#define SEQCLS_METRIC_ACCURACY  2
#define SEQCLS_METRIC_PRECISION 3  /* of class `cls` */
#define SEQCLS_METRIC_RECALL    4  /* of class `cls` */
#define SEQCLS_METRIC_F1        5  /* of class `cls` */
#define SEQCLS_METRIC_MACRO_F1  6  /* mean F1 over the classes */
#define SEQCLS_METRIC_SUPPORT   7  /* rows (per-step models: steps) whose true class is `cls` */
#define SEQCLS_METRIC_COUNT     8  /* rows (per-step models: valid steps) evaluated */

/**
 * Run `m` on every row (in batches of `batch_size`, 0 = 256) and compare
 * with the labels `y` (I32 [N]).  A model with one output logit counts as
 * two classes, 0 and 1, predicted 1 when p >= 0.5 (binary precision,
 * recall and F1 are those of class 1).  A per-step model takes `y` I32
 * [N, T] and is scored token by token over the valid steps (labels at
 * padding steps are not read): accuracy, the per-class scores, the
 * confusion matrix and SEQCLS_METRIC_COUNT count steps, the loss is the
 * mean per valid step.  Safe to call from several threads
 * on one model.  Free the result with seqcls_metrics_free.
 * @return as seqcls_predict, plus SEQCLS_E_RANGE for a label out of range.
 */
SEQCLS_API int seqcls_evaluate(const seqcls_model_t *m, const seqcls_tensor_t *x,
                               const int32_t *lengths, const seqcls_tensor_t *y, int batch_size,
                               seqcls_metrics_t **out);
/** Number of classes (2 for a one-logit model); 0 if mt is NULL. */
SEQCLS_API int seqcls_metrics_classes(const seqcls_metrics_t *mt);
/** A metric (SEQCLS_METRIC_*); `cls` is used by the per-class ones. NaN if undefined
 *  (e.g. precision of a class never predicted) or the arguments are out of range. */
SEQCLS_API double seqcls_metrics_get(const seqcls_metrics_t *mt, int metric, int cls);
/** Rows of true class `truth` predicted as `predicted`; -1 if out of range. */
SEQCLS_API int64_t seqcls_metrics_confusion(const seqcls_metrics_t *mt, int truth, int predicted);
/** Free metrics. NULL is allowed. */
SEQCLS_API void seqcls_metrics_free(seqcls_metrics_t *mt);

/* ------------------------------------------------------------------ */
/* Text: tokeniser and vocabulary                                      */
/* ------------------------------------------------------------------ */

/*
 * The tokeniser turns UTF-8 text into lower-case tokens (docs/vocab-format.md
 * has the full rules).  These are the rules of word mode, the default; a
 * vocabulary can also read text character by character
 * (SEQCLS_VOCAB_TOKENS below, since 1.1).  In word mode:
 *   - ill-formed UTF-8 is replaced by U+FFFD (one per maximal ill-formed
 *     subpart), which is a token character; raw invalid bytes never reach
 *     a token, and no call fails because of them;
 *   - markup is stripped: '<' followed by an ASCII letter, '/', '!' or '?'
 *     up to the first '>' (within 1024 bytes), and "<!-- ... -->", act as
 *     whitespace; any other '<' is punctuation;
 *   - lower-casing covers ASCII, Latin-1 Supplement, Latin Extended-A,
 *     Greek and Cyrillic capitals (nothing else is changed);
 *   - tokens are split at whitespace, NUL and control characters, and at
 *     punctuation: ASCII punctuation, Latin-1 punctuation and symbols
 *     (U+00A1-U+00BF except the letter-like ones, and U+00D7, U+00F7;
 *     so inverted '!' and '?' and guillemets split), General Punctuation
 *     U+2000-U+206F, CJK punctuation U+3000-U+303F, fullwidth
 *     punctuation.  Punctuation is dropped, except that every '!' and '?'
 *     (also fullwidth) is a token of its own;
 *   - an apostrophe (' or U+2019, normalised to ') between two token
 *     characters stays in the token ("don't", "l'homme"); elsewhere it
 *     separates ("'hello'" gives "hello");
 *   - the soft hyphen U+00AD is dropped without splitting the word;
 *   - everything else is a token character: letters, digits, marks, CJK,
 *     emoji, other symbols;
 *   - a token longer than SEQCLS_TOKEN_MAX bytes is cut at the last whole
 *     character that fits and the rest of the word is dropped.
 */

/**
 * A vocabulary: token strings <-> ids, built from counted text.  Once
 * built it is read-only, and seqcls_vocab_encode, _decode, _id, _token,
 * _size and _save_buffer may be called from many threads at once.
 */
typedef struct seqcls_vocab seqcls_vocab_t;

#define SEQCLS_PAD_ID 0            /* id of "<pad>", the padding token */
#define SEQCLS_UNK_ID 1            /* id of "<unk>", every unknown token */
#define SEQCLS_TOKEN_MAX 256       /* longest token, in bytes */
#define SEQCLS_TEXT_MAX 2147483647 /* longest text accepted, in bytes */
#define SEQCLS_VOCAB_MAX 16777216  /* most distinct tokens / ids */

/**
 * Split `len` bytes of UTF-8 `text` into tokens and store the byte
 * offsets of the first `max_tokens` of them in the ORIGINAL text: token i
 * is text[starts[i], ends[i]) (the whole word, also when the token was
 * cut).  *n_out receives the number stored.  `text` may be NULL when len
 * is 0; `starts` and `ends` may be NULL when max_tokens is 0.  These are
 * the same tokens, in the same order, as seqcls_vocab_encode produces.
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (NULL pointer, max_tokens < 0),
 *         SEQCLS_E_RANGE (len > SEQCLS_TEXT_MAX).
 */
SEQCLS_API int seqcls_tokenize(const char *text, size_t len, int32_t *starts, int32_t *ends,
                               int max_tokens, int32_t *n_out);

/**
 * Create an empty vocabulary in the counting state.  Free with
 * seqcls_vocab_free.
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (out NULL), SEQCLS_E_NOMEM.
 */
SEQCLS_API int seqcls_vocab_create(seqcls_vocab_t **out);
/** Free a vocabulary. NULL is allowed. */
SEQCLS_API void seqcls_vocab_free(seqcls_vocab_t *v);

/*
 * Vocabulary options (seqcls_vocab_set_int / seqcls_vocab_get_int, since
 * 1.1), set before seqcls_vocab_build and saved with the vocabulary
 * (docs/vocab-format.md).  Defaults in brackets: a vocabulary with every
 * option at its default is a seqcls 1.0 vocabulary, byte for byte.
 *
 * Ids after the vocabulary's own: a built vocabulary of `size` tokens
 * (seqcls_vocab_size) gives
 *   [0, size)                         its tokens (0 = <pad>, 1 = <unk>);
 *   [size, size + oov_buckets)        the hashed out-of-vocabulary buckets;
 *   [size + oov_buckets, rows)        the hashed character n-gram buckets
 *                                     (only when maxn > 0),
 * rows = seqcls_vocab_rows, the rows an embedding or embedding bag needs.
 *
 * The hash is fastText's (Dictionary::hash of fastText 0.9): 32-bit
 * FNV-1a over the token's UTF-8 bytes, h = 2166136261, then per byte
 * h = (h ^ (uint32_t)(int32_t)(int8_t)byte) * 16777619 -- each byte
 * sign-extended, as fastText does, so that bytes >= 0x80 hash as
 * fastText's do (for ASCII this is plain FNV-1a).
 */
#define SEQCLS_VOCAB_TOKENS      1  /* SEQCLS_TOKENS_WORD or _CHAR [SEQCLS_TOKENS_WORD] */
#define SEQCLS_VOCAB_OOV_BUCKETS 2  /* N in [0, 16777216]: an unknown token gets id
                                       size + hash(token) % N instead of SEQCLS_UNK_ID
                                       (Keras' num_oov_buckets) [0] */
#define SEQCLS_VOCAB_MINN        3  /* shortest character n-gram, in code points, with
                                       the '<' '>' word marks counted [0] */
#define SEQCLS_VOCAB_MAXN        4  /* longest character n-gram, [0, 32]; 0 = no n-grams
                                       (fastText's -minn/-maxn) [0] */
#define SEQCLS_VOCAB_BUCKET      5  /* rows the n-grams are hashed into, [0, 2^30]
                                       (fastText's -bucket); used when maxn > 0 [2000000] */

/* tokenisation modes (SEQCLS_VOCAB_TOKENS) */
#define SEQCLS_TOKENS_WORD 1  /* words, as the tokeniser rules above */
#define SEQCLS_TOKENS_CHAR 2  /* every code point is a token; a whitespace run is one " " */

/**
 * Set a vocabulary option (SEQCLS_VOCAB_*) before seqcls_vocab_build.
 *
 * SEQCLS_VOCAB_TOKENS = SEQCLS_TOKENS_CHAR reads text character by
 * character: every Unicode code point is a token, lower-cased as in word
 * mode (and otherwise unchanged: punctuation is kept, each character a
 * token); markup is stripped as in word mode; the soft hyphen U+00AD is
 * dropped; ill-formed UTF-8 gives U+FFFD; and every run of whitespace,
 * control characters (newlines included) and markup is ONE token, a
 * single space " " (U+0020), except at the start and the end of the text,
 * where it gives none.  So "Hi,  you\n" is "h" "i" "," " " "y" "o" "u".
 * The mode applies to seqcls_vocab_add_text, _encode, _encode_subwords,
 * _tokenize and _decode (which joins char-mode tokens without spaces),
 * and it must be set before any text is counted.
 *
 * SEQCLS_VOCAB_MINN / _MAXN / _BUCKET give fastText's subword model (see
 * seqcls_vocab_encode_subwords): they change no id of seqcls_vocab_encode,
 * only add n-gram rows.  The combination is checked by seqcls_vocab_build:
 * minn <= maxn (so that minn alone is refused: set maxn too), and
 * bucket > 0 when maxn > 0.
 *
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (v NULL, unknown option, value
 *         out of its range), SEQCLS_E_STATE (the vocabulary is built, or
 *         the mode changes after seqcls_vocab_add_text counted text).
 *         Since 1.1.
 */
SEQCLS_API int seqcls_vocab_set_int(seqcls_vocab_t *v, int option, int value);
/**
 * Read a vocabulary option (SEQCLS_VOCAB_*) into *value, before or after
 * building (a loaded vocabulary has the options it was saved with).
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (NULL argument, unknown
 *         option).  Since 1.1.
 */
SEQCLS_API int seqcls_vocab_get_int(const seqcls_vocab_t *v, int option, int *value);
/**
 * Rows an embedding (or embedding bag) over this vocabulary needs: size +
 * oov buckets + (n-gram buckets when maxn > 0).  0 if v is NULL or not
 * built.  Since 1.1.
 */
SEQCLS_API int seqcls_vocab_rows(const seqcls_vocab_t *v);

/**
 * Tokenise one document (`len` bytes, `text` may be NULL if len is 0) and
 * add its tokens to the counts.
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (NULL), SEQCLS_E_STATE (already
 *         built), SEQCLS_E_RANGE (len > SEQCLS_TEXT_MAX), SEQCLS_E_NOMEM
 *         (allocation failed, or more than SEQCLS_VOCAB_MAX distinct
 *         tokens).  On error the counts are as before the call, except
 *         for SEQCLS_E_NOMEM, which leaves the tokens counted so far.
 */
SEQCLS_API int seqcls_vocab_add_text(seqcls_vocab_t *v, const char *text, size_t len);

/**
 * Freeze the vocabulary: id 0 is "<pad>", id 1 is "<unk>", then every
 * counted token seen at least `min_freq` times (0 and 1 both mean all),
 * by descending count, ties in ascending byte order, so the result
 * depends only on the counts.  `max_size` caps the number of ids
 * including the two reserved ones (0 = no cap, else 2..SEQCLS_VOCAB_MAX).
 * The counts are discarded.
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (NULL, min_freq < 0, max_size
 *         1 or negative), SEQCLS_E_RANGE (max_size > SEQCLS_VOCAB_MAX),
 *         SEQCLS_E_STATE (already built), SEQCLS_E_NOMEM.
 */
SEQCLS_API int seqcls_vocab_build(seqcls_vocab_t *v, int min_freq, int max_size);

/** Number of ids (>= 2) once built; 0 before seqcls_vocab_build or if v is NULL. */
SEQCLS_API int seqcls_vocab_size(const seqcls_vocab_t *v);

/**
 * Id of `token`, an exact, already normalised (lower-case) token string;
 * SEQCLS_UNK_ID if it is not in the vocabulary (with
 * SEQCLS_VOCAB_OOV_BUCKETS, its out-of-vocabulary bucket instead, as
 * seqcls_vocab_encode gives it).  "<pad>" and "<unk>" give their ids.
 * @return the id (>= 0), or SEQCLS_E_INVALID_ARG (NULL), SEQCLS_E_STATE
 *         (not built).
 */
SEQCLS_API int seqcls_vocab_id(const seqcls_vocab_t *v, const char *token);

/**
 * The NUL-terminated token of `id`, borrowed: valid while the vocabulary
 * lives.  NULL if v is NULL, not built, or id is outside [0, size).
 */
SEQCLS_API const char *seqcls_vocab_token(const seqcls_vocab_t *v, int id);

/**
 * Tokenise `text` (in the vocabulary's mode) and write the ids of its
 * first `max_len` tokens to ids[0, n) (unknown tokens as SEQCLS_UNK_ID,
 * or with SEQCLS_VOCAB_OOV_BUCKETS their bucket) and SEQCLS_PAD_ID to
 * ids[n, max_len), so `ids` is one padded row of a [B, max_len] batch.
 * *n_out (may be NULL) receives n, the length to pass to seqcls_forward
 * or seqcls_predict.  `ids` may be NULL when max_len is 0.
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (NULL, max_len < 0),
 *         SEQCLS_E_STATE (not built), SEQCLS_E_RANGE (len > SEQCLS_TEXT_MAX).
 *         On error ids are unchanged.
 */
SEQCLS_API int seqcls_vocab_encode(const seqcls_vocab_t *v, const char *text, size_t len,
                                   int32_t *ids, int max_len, int32_t *n_out);

/* flags of seqcls_vocab_encode_ex (1.1) */
#define SEQCLS_TRUNCATE_PRE 0x1u  /* keep the last max_len tokens, not the first (Keras'
                                     truncating="pre") */

/**
 * As seqcls_vocab_encode, with `flags`: 0 keeps the first max_len tokens
 * (as seqcls_vocab_encode; Keras' truncating="post"), SEQCLS_TRUNCATE_PRE
 * the last max_len (Keras' pad_sequences default, truncating="pre").
 * Either way the kept ids are in text order from ids[0] and the padding
 * follows them: seqcls pads on the right, whatever Keras' `padding`.
 * Since 1.1.
 * @return as seqcls_vocab_encode; SEQCLS_E_INVALID_ARG also for an
 *         unknown flag.  On error ids are unchanged.
 */
SEQCLS_API int seqcls_vocab_encode_ex(const seqcls_vocab_t *v, const char *text, size_t len,
                                      int32_t *ids, int max_len, unsigned flags,
                                      int32_t *n_out);

/**
 * Create a built vocabulary from a word index: tokens[i] is the token of
 * id i, for i in [2, n).  Ids 0 and 1 are always "<pad>" and "<unk>":
 * tokens[0] and tokens[1] name the source's own padding and unknown
 * tokens ("", "[UNK]", "<OOV>", ...) and are not read (they may be NULL).
 * A word index with other ids for them, or ids with gaps, must be
 * renumbered first (tools/seqcls_convert.py does, with the embedding's
 * rows; docs/converters.md).  Tokens are matched against the tokeniser's
 * normalised, lower-cased tokens, so one the tokeniser cannot produce
 * (upper case, spaces, punctuation it splits at) is kept but never met.
 * Free with seqcls_vocab_free.  Since 1.1.
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (NULL out or tokens, n < 2, a
 *         NULL, empty, longer than SEQCLS_TOKEN_MAX or invalid UTF-8 token,
 *         a token given twice, "<pad>" or "<unk>" at another id; the message
 *         names the index), SEQCLS_E_RANGE (n > SEQCLS_VOCAB_MAX),
 *         SEQCLS_E_NOMEM.  On failure *out is NULL.
 */
SEQCLS_API int seqcls_vocab_from_list(seqcls_vocab_t **out, const char *const *tokens, int n);

/**
 * Encode `text` for an embedding bag (seqcls_add_embedding_bag) with
 * fastText's subword model: ids is [maxlen, per_token]; row t < n holds
 * token t's own id (as seqcls_vocab_encode gives it: its id, its
 * out-of-vocabulary bucket, or SEQCLS_UNK_ID), then the ids of its
 * character n-grams, then -1 in the unused slots; rows t >= n are all -1.
 * *n_tokens (may be NULL) receives n, the length to pass with the row.
 *
 * The n-grams are fastText's (Dictionary::computeSubwords): the token is
 * wrapped as "<" token ">", and every substring of minn..maxn whole code
 * points is an n-gram, except the single characters "<" and ">"; they
 * come in fastText's order (by start, then by length), and n-gram g gets
 * id size + oov_buckets + hash(g) % bucket (the hash above).  A token
 * with more than per_token - 1 n-grams keeps the first per_token - 1 of
 * them (all of a word's n-grams fit when per_token >= 1 + the count for
 * its length L in code points: the sum over k = max(minn, 1) ..
 * min(maxn, L + 2) of L + 3 - k, less 2 when minn <= 1).  Without n-grams (maxn = 0) each row
 * holds the token's id alone.
 * The embedding bag then averages the rows of each token's ids: the
 * word's vector is the mean of its own row and its n-gram rows, so an
 * unknown word still gets a vector from its n-grams.
 * `ids` may be NULL when maxlen is 0.
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (NULL, maxlen < 0, per_token
 *         < 1), SEQCLS_E_STATE (not built), SEQCLS_E_RANGE (len >
 *         SEQCLS_TEXT_MAX, or maxlen * per_token above 2^31 - 1).  On error
 *         ids are unchanged.  Since 1.1.
 */
SEQCLS_API int seqcls_vocab_encode_subwords(const seqcls_vocab_t *v, const char *text,
                                            size_t len, int32_t *ids, int maxlen,
                                            int per_token, int *n_tokens);

/**
 * As seqcls_tokenize, in the vocabulary's tokenisation mode: the spans of
 * the tokens seqcls_vocab_encode gives for `text` (in char mode, one code
 * point each, and whitespace runs whole).  The vocabulary need not be
 * built.  @return as seqcls_tokenize, plus SEQCLS_E_INVALID_ARG for a
 * NULL vocabulary.  Since 1.1.
 */
SEQCLS_API int seqcls_vocab_tokenize(const seqcls_vocab_t *v, const char *text, size_t len,
                                     int32_t *starts, int32_t *ends, int max_tokens,
                                     int32_t *n_out);

/**
 * Write the tokens of ids[0, n), joined by single spaces (in char mode:
 * not joined, since spaces are tokens there), to `buf` as a
 * NUL-terminated string.  Padding ids (SEQCLS_PAD_ID) are skipped, so a
 * whole padded row may be passed; SEQCLS_UNK_ID and the ids of
 * out-of-vocabulary buckets give "<unk>".  On success
 * *len_out is the string's length without the NUL.  If `cap` is too
 * small, SEQCLS_E_RANGE is returned, *len_out is the capacity needed
 * (including the NUL) and buf, if cap > 0, holds "".  `buf` may be NULL
 * when cap is 0 (to ask for the size).
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (NULL, n < 0), SEQCLS_E_STATE
 *         (not built), SEQCLS_E_RANGE (an id outside [0, size + oov
 *         buckets): n-gram ids are not tokens; or cap too small).
 */
SEQCLS_API int seqcls_vocab_decode(const seqcls_vocab_t *v, const int32_t *ids, int n,
                                   char *buf, size_t cap, size_t *len_out);

/**
 * Serialise a built vocabulary into a new buffer (*buf, *len), to free
 * with seqcls_free, in the layout of docs/vocab-format.md: with every
 * option at its default, the bytes seqcls 1.0 writes (and a model file's
 * VOCB section holds); otherwise they are followed by the options'
 * trailer ("VOPT", since 1.1), which seqcls 1.0 refuses.
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (NULL), SEQCLS_E_STATE (not
 *         built), SEQCLS_E_NOMEM.  On error *buf is NULL and *len 0.
 */
SEQCLS_API int seqcls_vocab_save_buffer(const seqcls_vocab_t *v, void **buf, size_t *len);

/**
 * Create a built vocabulary, with its options, from `len` bytes written
 * by seqcls_vocab_save_buffer (not retained).  The bytes are never trusted.
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (NULL), SEQCLS_E_FORMAT
 *         (truncated, trailing bytes, bad count or length, invalid UTF-8,
 *         duplicate token, wrong reserved tokens, an option out of its
 *         range; the message names the problem and the token index),
 *         SEQCLS_E_VERSION (an option this version does not know),
 *         SEQCLS_E_NOMEM.
 */
SEQCLS_API int seqcls_vocab_load_buffer(seqcls_vocab_t **out, const void *buf, size_t len);

/* ------------------------------------------------------------------ */
/* What a model carries besides its layers                             */
/* ------------------------------------------------------------------ */

/**
 * Attach a copy of the built vocabulary `v` to the model (NULL removes
 * it).  It is saved and loaded with the model, so a loaded model can
 * encode raw text.  @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (NULL model),
 * SEQCLS_E_STATE (vocabulary not built), SEQCLS_E_NOMEM.
 */
SEQCLS_API int seqcls_model_set_vocab(seqcls_model_t *m, const seqcls_vocab_t *v);
/** The model's vocabulary, borrowed until the model is freed or its vocabulary replaced; NULL if none. */
SEQCLS_API const seqcls_vocab_t *seqcls_model_vocab(const seqcls_model_t *m);
/**
 * Name the classes (`n` UTF-8 strings, copied; NULL names = none), e.g.
 * "ham", "spam"; saved with the model.  For a one-logit model name 2
 * classes (0 and 1).  @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (NULL
 * model, a NULL or empty name, n out of [0, 65536]), SEQCLS_E_NOMEM.
 */
SEQCLS_API int seqcls_model_set_labels(seqcls_model_t *m, int n, const char *const *names);
/** Number of class names set (0 if none). */
SEQCLS_API int seqcls_model_label_count(const seqcls_model_t *m);
/** Name of class `cls`, borrowed while the model lives and its labels are unchanged; NULL if none. */
SEQCLS_API const char *seqcls_model_label(const seqcls_model_t *m, int cls);

/**
 * A small key-value store saved with the model, for what a program needs
 * to use the model again, e.g. the command line's "maxlen" and "tokens".
 * Keys are 1 to 64 bytes of ASCII letters, digits, '.', '_' and '-';
 * values are UTF-8 text without NUL of at most 65,536 bytes; a model holds
 * at most 256 keys.  Setting a key again replaces its value; a NULL value
 * removes the key.  Since 1.1.
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (NULL model or key, an invalid
 *         key or value, too many keys), SEQCLS_E_NOMEM.
 */
SEQCLS_API int seqcls_model_set_meta(seqcls_model_t *m, const char *key, const char *value);
/**
 * The value of `key`, borrowed until the key is set again or removed or
 * the model is freed; NULL if the model has no such key.  Since 1.1.
 */
SEQCLS_API const char *seqcls_model_get_meta(const seqcls_model_t *m, const char *key);
/** Number of keys in the model's store (0 if m is NULL). Since 1.1. */
SEQCLS_API int seqcls_model_meta_count(const seqcls_model_t *m);
/**
 * Key number i (0 <= i < seqcls_model_meta_count, in the order they were
 * first set), borrowed as seqcls_model_get_meta's values; NULL if out of
 * range.  Since 1.1.
 */
SEQCLS_API const char *seqcls_model_meta_key(const seqcls_model_t *m, int i);

/* ------------------------------------------------------------------ */
/* Save and load (docs/file-format.md)                                 */
/* ------------------------------------------------------------------ */

/**
 * Save the whole model (layers, options, parameters, batch-norm
 * statistics) to `path`, atomically: it is written to an unnamed file in
 * the same directory (Linux O_TMPFILE; elsewhere a temporary name),
 * flushed, and only then linked in as `path` or renamed over it, so a
 * failure leaves any previous file intact and a killed save leaves no
 * stray file behind (docs/file-format.md, "Saving to a file").  A
 * replaced file keeps its permission bits; a new one gets rw-r--r--.
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG, SEQCLS_E_IO (with the system's
 *         reason and the step that failed), SEQCLS_E_NUMERIC (a parameter
 *         is NaN/Inf or beyond float32; nothing is written), SEQCLS_E_NOMEM.
 */
SEQCLS_API int seqcls_model_save(const seqcls_model_t *m, const char *path);
/**
 * Load a model saved by seqcls_model_save.  The file is never trusted.
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG, SEQCLS_E_IO (cannot read, or
 *         not a regular file), SEQCLS_E_FORMAT (corrupt, truncated or not
 *         a model; the message names the section and the problem),
 *         SEQCLS_E_VERSION (written by a newer version: newer format,
 *         unknown required section, layer kind or option),
 *         SEQCLS_E_UNSUPPORTED (a layer kind this build lacks), SEQCLS_E_NOMEM.
 *         On failure *out is NULL.
 */
SEQCLS_API int seqcls_model_load(seqcls_model_t **out, const char *path);
/** As seqcls_model_save, into a new buffer (*buf, *len) to free with seqcls_free. */
SEQCLS_API int seqcls_model_save_buffer(const seqcls_model_t *m, void **buf, size_t *len);
/** As seqcls_model_load, from `len` bytes at `buf` (not retained). */
SEQCLS_API int seqcls_model_load_buffer(seqcls_model_t **out, const void *buf, size_t len);

/**
 * Save the model and the state of its optimiser `o` (moments, step count,
 * settings) to `path`, atomically, so that training resumes exactly:
 * trained 2 epochs, checkpointed, loaded and trained 2 more (seqcls_fit
 * with SEQCLS_FIT_INITIAL_EPOCH = 2) equals 4 epochs in one run, bit for
 * bit.  The model's dropout stream is saved with it.
 * @return as seqcls_model_save, plus SEQCLS_E_STATE (`o` was used with
 *         another model).
 */
SEQCLS_API int seqcls_checkpoint_save(const seqcls_model_t *m, const seqcls_optimizer_t *o,
                                      const char *path);
/**
 * Load a checkpoint written by seqcls_checkpoint_save: the model into
 * *m_out and a new optimiser bound to it into *o_out (free both).
 * @return as seqcls_model_load; SEQCLS_E_FORMAT also when the file has no
 *         optimiser state or it does not fit the model.
 */
SEQCLS_API int seqcls_checkpoint_load(seqcls_model_t **m_out, seqcls_optimizer_t **o_out,
                                      const char *path);

/** Free memory the library returned to the caller (e.g. a saved buffer). */
SEQCLS_API void seqcls_free(void *p);

#ifdef __cplusplus
}
#endif

#endif /* SEQCLS_H */
