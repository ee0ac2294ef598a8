/*
 * char_rnn.c -- a character-level language model that writes text: a
 * stacked LSTM trained to predict each next character of a real text,
 * then run as a stream, one sampled character at a time, at two
 * temperatures (the worked example of the RNN chapter, Karpathy's
 * char-rnn).
 *
 * The text is the GNU General Public License, version 3, as Debian ships
 * it in /usr/share/common-licenses/GPL-3: it is on every Debian system
 * (package base-files, which is essential), it is real English prose of
 * 35 KB, and its legal phrasing repeats enough for a small model to learn
 * words and sentence shapes in a minute or two.
 *
 *     char_rnn [--quick] [--text FILE] [--epochs N] [--hidden H] [--layers L]
 *              [--seqlen N] [--chars N] [--seed S] [--prompt TEXT]
 *
 * The last 10% of the windows are held out: fit keeps the weights with the
 * best held-out loss (and stops 4 epochs after it), so the text generated
 * is the model's, not the license recited.  --quick trains a small model on the first 12000
 * characters for a few seconds and exits non-zero unless its held-out loss
 * per character ends well below the entropy of the text's character
 * frequencies (what `make check` runs).  `make char-rnn` runs the full
 * version.
 */
#define _POSIX_C_SOURCE 200809L
#include <seqcls.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void check(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "char_rnn: %s: %s\n", what, seqcls_last_error());
        exit(1);
    }
}

typedef struct {
    const char *text_path, *prompt;
    int quick, epochs, hidden, layers, seqlen, chars, max_text;
    uint64_t seed;
} options_t;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int on_epoch(void *user, int epoch, float loss, float acc, float vloss, float vacc)
{
    const double *t0 = user;
    printf("  epoch %2d  loss %.3f nats/char (%.3f bits), accuracy %.3f; held out: %.3f nats/char, "
           "accuracy %.3f  %5.1f s\n", epoch + 1, (double)loss, (double)loss / log(2.0),
           (double)acc, (double)vloss, (double)vacc, now() - *t0);
    fflush(stdout);
    return 0;
}

/* Generate `chars` characters after `prompt` at `temperature`, one push a character. */
static void generate(const seqcls_model_t *m, const int *id_of, const unsigned char *alphabet,
                     int V, const char *prompt, int chars, float temperature, uint64_t seed)
{
    seqcls_stream_t *s = NULL;
    seqcls_tensor_t *in = NULL, *probs = NULL, *one = NULL, *p1 = NULL;
    const int n = (int)strlen(prompt);
    int64_t shape[2] = {n, V}, one_shape[1] = {1}, p1_shape[2] = {1, V};
    uint64_t rng = seed;
    int i, c;

    check(seqcls_stream_create(&s, m), "seqcls_stream_create");
    check(seqcls_tensor_create(&in, SEQCLS_I32, 1, shape), "tensor");
    check(seqcls_tensor_create(&probs, SEQCLS_F32, 2, shape), "tensor");
    check(seqcls_tensor_create(&one, SEQCLS_I32, 1, one_shape), "tensor");
    check(seqcls_tensor_create(&p1, SEQCLS_F32, 2, p1_shape), "tensor");
    for (i = 0; i < n; i++)   /* characters the text never has count as a space */
        ((int32_t *)seqcls_tensor_data(in))[i] = id_of[(unsigned char)prompt[i]] >= 0
                                                     ? id_of[(unsigned char)prompt[i]]
                                                     : id_of[' '];
    /* the prompt in one push: the probabilities of the character after each */
    check(seqcls_stream_push(s, in, n, probs), "seqcls_stream_push");
    c = seqcls_sample((const float *)seqcls_tensor_data(probs) + (size_t)(n - 1) * V, V,
                      temperature, &rng);
    check(c, "seqcls_sample");
    printf("--- temperature %.2f ---\n%s", (double)temperature, prompt);
    for (i = 0; i < chars; i++) {
        putchar(alphabet[c]);
        ((int32_t *)seqcls_tensor_data(one))[0] = c;
        check(seqcls_stream_push(s, one, 1, p1), "seqcls_stream_push");
        c = seqcls_sample(seqcls_tensor_data(p1), V, temperature, &rng);
        check(c, "seqcls_sample");
    }
    printf("\n");
    seqcls_tensor_free(in);
    seqcls_tensor_free(probs);
    seqcls_tensor_free(one);
    seqcls_tensor_free(p1);
    seqcls_stream_free(s);
}

int main(int argc, char **argv)
{
    options_t o = {"/usr/share/common-licenses/GPL-3", "This License ", 0, 30, 256, 2, 100,
                   600, 0, 7};
    unsigned char *text, alphabet[256];
    int id_of[256], V = 0, i, N, L;
    long len;
    double counts[256] = {0}, entropy = 0, t0, final_loss;
    FILE *f;
    seqcls_model_t *m = NULL;
    seqcls_optimizer_t *adam = NULL;
    seqcls_fit_config_t *cfg = NULL;
    seqcls_tensor_t *x = NULL, *y = NULL;
    seqcls_metrics_t *mt = NULL;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0) {
            o.quick = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "char_rnn: %s needs a value (or is unknown)\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--text") == 0)
            o.text_path = v;
        else if (strcmp(a, "--prompt") == 0)
            o.prompt = v;
        else if (strcmp(a, "--epochs") == 0)
            o.epochs = atoi(v);
        else if (strcmp(a, "--hidden") == 0)
            o.hidden = atoi(v);
        else if (strcmp(a, "--layers") == 0)
            o.layers = atoi(v);
        else if (strcmp(a, "--seqlen") == 0)
            o.seqlen = atoi(v);
        else if (strcmp(a, "--chars") == 0)
            o.chars = atoi(v);
        else if (strcmp(a, "--seed") == 0)
            o.seed = strtoull(v, NULL, 10);
        else {
            fprintf(stderr, "char_rnn: unknown option %s\n", a);
            return 2;
        }
    }
    if (o.quick) {
        o.epochs = 12;
        o.hidden = 64;
        o.layers = 2;
        o.seqlen = 50;
        o.max_text = 12000;
        o.chars = 200;
    }
    if (o.epochs < 1 || o.hidden < 1 || o.layers < 1 || o.seqlen < 2 || o.chars < 0 ||
        !o.prompt[0]) {
        fprintf(stderr, "char_rnn: bad option value\n");
        return 2;
    }

    /* the text, and its alphabet: every distinct byte, in byte order */
    if (!(f = fopen(o.text_path, "rb"))) {
        perror(o.text_path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    text = malloc((size_t)len + 1);
    if (!text || fread(text, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "char_rnn: cannot read %s\n", o.text_path);
        return 1;
    }
    fclose(f);
    if (o.max_text && len > o.max_text)
        len = o.max_text;
    for (i = 0; i < len; i++)
        counts[text[i]]++;
    for (i = 0; i < 256; i++) {
        id_of[i] = -1;
        if (counts[i] > 0) {
            const double p = counts[i] / (double)len;
            entropy -= p * log(p);
            id_of[i] = V;
            alphabet[V++] = (unsigned char)i;
        }
    }
    L = o.seqlen;
    /* rows: windows of L characters every L / 2, input text[s, s + L), target text[s + 1, s + L + 1) */
    N = (int)((len - 1 - L) / (L / 2) + 1);
    printf("text %s: %ld characters, %d distinct; entropy of their frequencies %.3f nats/char "
           "(%.3f bits)\n", o.text_path, len, V, entropy, entropy / log(2.0));
    {
        int64_t shape[2] = {N, L};
        int32_t *xv, *yv;
        int r, t;
        check(seqcls_tensor_create(&x, SEQCLS_I32, 2, shape), "tensor");
        check(seqcls_tensor_create(&y, SEQCLS_I32, 2, shape), "tensor");
        xv = seqcls_tensor_data(x);
        yv = seqcls_tensor_data(y);
        for (r = 0; r < N; r++)
            for (t = 0; t < L; t++) {
                xv[(size_t)r * L + t] = id_of[text[(size_t)r * (L / 2) + t]];
                yv[(size_t)r * L + t] = id_of[text[(size_t)r * (L / 2) + t + 1]];
            }
    }

    /* embedding -> stacked LSTM (every layer returns its sequence) -> output per step */
    check(seqcls_model_create(&m, o.seed), "seqcls_model_create");
    check(seqcls_add_embedding(m, V, 32, -1, NULL), "seqcls_add_embedding");
    for (i = 0; i < o.layers; i++)
        check(seqcls_add_lstm(m, o.hidden, SEQCLS_RETURN_SEQUENCES, NULL), "seqcls_add_lstm");
    check(seqcls_add_output(m, V, NULL), "seqcls_add_output");   /* logits [B, T, V] */
    printf("model: embedding(%d, 32) -> %d x LSTM(%d) -> output(%d) at every step; %d rows of "
           "%d characters\n", V, o.layers, o.hidden, V, N, L);

    check(seqcls_optimizer_create(&adam, SEQCLS_OPTIM_ADAM, o.quick ? 0.01f : 0.005f), "optimizer");
    check(seqcls_optimizer_set_float(adam, SEQCLS_OPTIM_CLIPNORM, 5.0f), "clipnorm");
    check(seqcls_fit_config_create(&cfg), "fit config");
    check(seqcls_fit_config_set_int(cfg, SEQCLS_FIT_EPOCHS, o.epochs), "epochs");
    check(seqcls_fit_config_set_int(cfg, SEQCLS_FIT_BATCH_SIZE, o.quick ? 16 : 32), "batch");
    check(seqcls_fit_config_set_int(cfg, SEQCLS_FIT_SEED, (int64_t)o.seed), "seed");
    check(seqcls_fit_config_set_float(cfg, SEQCLS_FIT_VALID_SPLIT, 0.1f), "valid split");
    /* a 35 KB text is learnt by heart after a dozen epochs: stop once the
     * held-out loss has not improved for 4 epochs (the best weights are kept) */
    check(seqcls_fit_config_set_int(cfg, SEQCLS_FIT_PATIENCE, 4), "patience");
    t0 = now();
    check(seqcls_fit_config_set_callbacks(cfg, NULL, on_epoch, NULL, &t0), "callbacks");
    /* labels [N, L]: the next character at every step */
    check(seqcls_fit(m, adam, x, NULL, y, NULL, NULL, NULL, cfg), "seqcls_fit");
    {
        /* the held-out windows: the last 10% of the rows, as fit split them */
        const int nval = (int)floor(N * 0.1);
        int64_t shape[2] = {nval, L};
        seqcls_tensor_t *vx = NULL, *vy = NULL;
        check(seqcls_tensor_wrap(&vx, SEQCLS_I32, 2, shape,
                                 (int32_t *)seqcls_tensor_data(x) + (size_t)(N - nval) * L), "tensor");
        check(seqcls_tensor_wrap(&vy, SEQCLS_I32, 2, shape,
                                 (int32_t *)seqcls_tensor_data(y) + (size_t)(N - nval) * L), "tensor");
        check(seqcls_evaluate(m, vx, NULL, vy, 0, &mt), "seqcls_evaluate");
        seqcls_tensor_free(vx);
        seqcls_tensor_free(vy);
    }
    final_loss = seqcls_metrics_get(mt, SEQCLS_METRIC_LOSS, 0);
    printf("trained in %.1f s; the best weights on the held-out text: %.3f nats/char (%.3f bits), "
           "%.0f%% of the frequency entropy; next-character accuracy %.3f over %.0f characters\n",
           now() - t0, final_loss, final_loss / log(2.0), 100 * final_loss / entropy,
           seqcls_metrics_get(mt, SEQCLS_METRIC_ACCURACY, 0),
           seqcls_metrics_get(mt, SEQCLS_METRIC_COUNT, 0));

    generate(m, id_of, alphabet, V, o.prompt, o.chars, 0.5f, o.seed);
    generate(m, id_of, alphabet, V, o.prompt, o.chars, 1.0f, o.seed);

    seqcls_metrics_free(mt);
    seqcls_fit_config_free(cfg);
    seqcls_optimizer_free(adam);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    seqcls_model_free(m);
    free(text);
    if (o.quick) {
        /* the one check of the quick run, in the form make check counts */
        const int ok = final_loss < 0.75 * entropy;
        if (!ok)
            fprintf(stderr, "char_rnn: the held-out loss %.3f did not fall below 0.75 x the "
                    "frequency entropy %.3f\n", final_loss, entropy);
        printf("char_rnn --quick: %d passed, %d failed\n", ok, !ok);
        return ok ? 0 : 1;
    }
    return 0;
}
