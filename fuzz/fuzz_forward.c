/*
 * fuzz_forward.c -- libFuzzer target for seqcls_forward, backward and
 * predict with arbitrary architectures (transformer encoders and
 * positional encodings too), shapes, dtypes, lengths, token ids and float
 * values (make fuzz-forward).  Every call must return a
 * status (with a message when it is an error); ASan and UBSan catch the
 * rest.
 */
#include <stdint.h>
#include <string.h>

#include "../src/internal.h"

static void check(int cond)
{
    if (!cond)
        __builtin_trap();
}

/* Status codes the API defines; a message must come with each error. */
static void valid_status(int rc)
{
    check(rc <= SEQCLS_OK && rc >= SEQCLS_E_UNSUPPORTED);
    check(rc == SEQCLS_OK || seqcls_last_error()[0] != '\0');
}

typedef struct {
    const uint8_t *d;
    size_t n, off;
} bytes_t;

static uint8_t next(bytes_t *b) { return b->off < b->n ? b->d[b->off++] : 0; }

/* ids_input: 0 floats [B, T, F], 1 ids [B, T], 2 bags of F ids [B, T, F]
 * (an embedding bag, chosen by the top bit of the input-kind byte) */
static seqcls_model_t *build(bytes_t *b, int *ids_input, int *F)
{
    seqcls_model_t *m = NULL;
    const int arch = next(b) % 9, vocab = 1 + next(b) % 12, hidden = 1 + next(b) % 4;
    const unsigned flags = next(b) & 0xf;
    const uint8_t kind = next(b);
    int rc;
    *ids_input = (kind & 1) ? ((kind & 0x80) ? 2 : 1) : 0;
    *F = 1 + next(b) % 4;
    if (seqcls_model_create(&m, next(b)))
        return NULL;
    rc = *ids_input == 2 ? seqcls_add_embedding_bag(m, vocab, *F, *F, NULL)
         : *ids_input    ? seqcls_add_embedding(m, vocab, *F, (int)(next(b) % (vocab + 1)) - 1, NULL)
                         : seqcls_add_input(m, *F, NULL);
    if (rc == SEQCLS_OK && (kind & 0x40)) {
        /* 1.1 (issue 16): positions (sinusoidal or learned, a max_len
         * that the input may exceed) and an encoder layer of any head
         * count (one that does not divide F is refused), either norm
         * order, relu or gelu, any dropout, before the middle below */
        const uint8_t o = next(b);
        int l = -1;
        if (o & 1) {
            rc = seqcls_add_positional_encoding(m, (o & 2) ? SEQCLS_POS_LEARNED
                                                           : SEQCLS_POS_SINUSOIDAL,
                                                1 + next(b) % 8, &l);
            rc = rc ? rc : seqcls_layer_set_int(m, l, SEQCLS_OPT_SCALE_INPUT, (o >> 2) & 1);
        }
        rc = rc ? rc : seqcls_add_transformer_encoder(m, 1 + next(b) % 4, 1 + next(b) % 4,
                                                      (o & 8) ? SEQCLS_NORM_FIRST : 0, &l);
        rc = rc ? rc : seqcls_layer_set_int(m, l, SEQCLS_OPT_ACTIVATION,
                                            (o & 16) ? SEQCLS_ACT_GELU : SEQCLS_ACT_RELU);
        rc = rc ? rc : seqcls_layer_set_float(m, l, SEQCLS_OPT_DROPOUT,
                                              (float)(next(b) % 10) / 10.0f);
    }
    switch (arch) {
    case 0:
        rc = rc ? rc : seqcls_add_lstm(m, hidden, flags, NULL);
        break;
    case 1:
        rc = rc ? rc : seqcls_add_gru(m, hidden, flags | SEQCLS_RETURN_SEQUENCES, NULL);
        rc = rc ? rc : seqcls_add_attention(m, 1 + next(b) % 5, 1 + next(b) % 6, NULL);
        break;
    case 2:
        rc = rc ? rc : seqcls_add_lstm(m, hidden, SEQCLS_RETURN_SEQUENCES | (flags & 1), NULL);
        rc = rc ? rc : seqcls_add_attention(m, SEQCLS_ATTN_BAHDANAU, hidden, NULL);
        rc = rc ? rc : seqcls_add_batchnorm(m, NULL);
        break;
    case 3:
        rc = rc ? rc : seqcls_add_dense(m, hidden, next(b) % 5, NULL);
        rc = rc ? rc : seqcls_add_pooling(m, 1 + next(b) % 3, NULL);
        break;
    case 4:
        rc = rc ? rc : seqcls_add_attention(m, SEQCLS_ATTN_FEATURE_TIME, 1 + next(b) % 6, NULL);
        rc = rc ? rc : seqcls_add_pooling(m, 1 + next(b) % 3, NULL);
        break;
    case 5:
        rc = rc ? rc : seqcls_add_dropout(m, (float)(next(b) % 10) / 10.0f, NULL);
        rc = rc ? rc : seqcls_add_attention(m, SEQCLS_ATTN_LEARNED_QUERY, hidden, NULL);
        break;
    case 7: {   /* 1.1: a convolution, valid or same, dilated */
        int l = -1;
        rc = rc ? rc : seqcls_add_conv1d(m, hidden, 1 + next(b) % 4, flags & 1, &l);
        rc = rc ? rc : seqcls_layer_set_int(m, l, SEQCLS_OPT_DILATION, 1 + next(b) % 3);
        rc = rc ? rc : seqcls_layer_set_int(m, l, SEQCLS_OPT_ACTIVATION, next(b) % 5);
        rc = rc ? rc : seqcls_add_pooling(m, 1 + next(b) % 3, NULL);
        break;
    }
    case 8:     /* 1.1: fixed steps, a valid convolution, flatten */
        rc = rc ? rc : seqcls_add_attention(m, SEQCLS_ATTN_FEATURE_TIME, 1 + next(b) % 6, NULL);
        rc = rc ? rc : seqcls_add_conv1d(m, hidden, 1 + next(b) % 3, 0, NULL);
        rc = rc ? rc : seqcls_add_flatten(m, NULL);
        break;
    default:
        break;   /* no middle: a per-step output on the first layer's sequence (1.1) */
    }
    rc = rc ? rc : seqcls_add_output(m, 1 + next(b) % 3, NULL);
    valid_status(rc);
    if (rc) {
        seqcls_model_free(m);
        return NULL;
    }
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bytes_t b = {data, size, 0};
    seqcls_model_t *m;
    seqcls_tensor_t *x = NULL, *logits = NULL, *labels = NULL, *probs = NULL, *att = NULL;
    int32_t lengths[8];
    int ids_input, F, B, T, i, rc, training, C;
    int64_t shape[3];

    m = build(&b, &ids_input, &F);
    if (!m)
        return 0;
    B = 1 + next(&b) % 5;
    T = 1 + next(&b) % 7;
    for (i = 0; i < B; i++)
        lengths[i] = (int8_t)next(&b);   /* also negative or above T */
    shape[0] = B;
    shape[1] = T;
    shape[2] = (next(&b) & 7) ? F : F + 1;   /* sometimes the wrong width */
    /* sometimes the wrong dtype or rank */
    if ((next(&b) & 7) == 0)
        ids_input = ids_input == 0 ? 1 + (next(&b) & 1) : 0;
    rc = seqcls_tensor_create(&x, ids_input ? SEQCLS_I32 : SEQCLS_F32, ids_input == 1 ? 2 : 3,
                              shape);
    if (rc == SEQCLS_OK) {
        size_t k, numel = (size_t)seqcls_tensor_numel(x);
        for (k = 0; k < numel; k++) {
            if (ids_input) {
                ((int32_t *)seqcls_tensor_data(x))[k] = (int8_t)next(&b);
            } else {
                uint32_t bits = (uint32_t)next(&b) << 24 | (uint32_t)next(&b) << 16;
                float f;
                memcpy(&f, &bits, sizeof f);   /* NaN, Inf, huge, tiny */
                ((real *)seqcls_tensor_data(x))[k] = (real)f;
            }
        }
        C = m->layers[m->nlayers - 1]->out_F;
        /* per step (an output after a sequence): logits [B, T, C], labels [B, T] */
        {
            const int steps = seqcls_model_output_ndim(m) == 3;
            int64_t ls[2] = {B, T}, os[3] = {B, T, C};
            if (!steps) {
                os[1] = C;
            }
            training = next(&b) & 1;
            check(!seqcls_tensor_create(&logits, SEQCLS_F32, steps ? 3 : 2, os));
            rc = seqcls_forward(m, x, (next(&b) & 3) ? lengths : NULL, logits, training);
            valid_status(rc);
            if (rc == SEQCLS_OK && training) {
                check(!seqcls_tensor_create(&labels, SEQCLS_I32, steps ? 2 : 1, ls));
                for (i = 0; i < (int)seqcls_tensor_numel(labels); i++)
                    ((int32_t *)seqcls_tensor_data(labels))[i] = (int8_t)next(&b) % 4;
                valid_status(seqcls_loss_backward(m, labels, NULL));
            }
            check(!seqcls_tensor_create(&probs, SEQCLS_F32, steps ? 3 : 2, os));
        }
        /* the self-attention of the last forward (1.1): after a failed
         * forward, a state error; sometimes a wrong shape */
        for (i = 0; i < seqcls_layer_count(m); i++)
            if (seqcls_layer_kind(m, i) == SEQCLS_LAYER_TRANSFORMER_ENCODER) {
                seqcls_tensor_t *w = NULL;
                int heads = 0;
                int64_t ws[4] = {B, 0, T, T + (next(&b) & 1)};
                check(!seqcls_layer_get_int(m, i, SEQCLS_OPT_HEADS, &heads));
                ws[1] = heads;
                check(!seqcls_tensor_create(&w, SEQCLS_F32, 4, ws));
                valid_status(seqcls_self_attention_weights(m, i, w));
                seqcls_tensor_free(w);
            }
        shape[1] = T + (next(&b) & 1);
        check(!seqcls_tensor_create(&att, SEQCLS_F32, 2, shape));
        valid_status(seqcls_predict(m, x, (next(&b) & 3) ? lengths : NULL, probs,
                                    (next(&b) & 1) ? att : NULL));
        /* a stream over the first row, where the model can stream */
        {
            seqcls_stream_t *s = NULL;
            rc = seqcls_stream_create(&s, m);
            valid_status(rc);
            if (rc == SEQCLS_OK) {
                seqcls_tensor_t *row = NULL, *sp = NULL;
                int64_t rs[2] = {T, F}, ps[2] = {T, C};
                const int n = (int)(next(&b) % (T + 2)) - 1;   /* -1 to T */
                if (seqcls_model_output_ndim(m) == 3)
                    ps[0] = n < 0 ? 0 : n;
                else
                    ps[0] = C;
                check(!seqcls_tensor_wrap(&row, seqcls_tensor_dtype(x), seqcls_tensor_ndim(x) - 1,
                                          rs, seqcls_tensor_data(x)));
                check(!seqcls_tensor_create(&sp, SEQCLS_F32, seqcls_model_output_ndim(m) - 1, ps));
                valid_status(seqcls_stream_push(s, row, n, sp));
                valid_status(seqcls_stream_push(s, row, n, sp));
                seqcls_tensor_free(row);
                seqcls_tensor_free(sp);
            }
            seqcls_stream_free(s);
        }
    } else {
        valid_status(rc);
    }
    seqcls_tensor_free(x);
    seqcls_tensor_free(logits);
    seqcls_tensor_free(labels);
    seqcls_tensor_free(probs);
    seqcls_tensor_free(att);
    seqcls_model_free(m);
    return 0;
}
