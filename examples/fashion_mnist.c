/*
 * fashion_mnist.c -- Fashion-MNIST as sequences: each 28x28 image is read
 * as 28 rows of 28 pixel features and classified (10 classes) by a BiLSTM
 * with attention over the rows.  Prints the time per epoch and the test
 * accuracy, then the test accuracy of the trained model quantised to int8
 * and to bfloat16 (seqcls_model_quantize) and their inference times.
 * Data: Debian's dataset-fashion-mnist (IDX files, gzip).
 *
 *   fashion_mnist [DATA_DIR] [EPOCHS] [HIDDEN]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <seqcls.h>

#define ROWS 28
#define COLS 28

static void check(int status, const char *what)
{
    if (status != SEQCLS_OK) {
        fprintf(stderr, "fashion_mnist: %s: %s\n", what, seqcls_last_error());
        exit(1);
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Read a gzip'd IDX file through gzip -dc: its items, and their count. */
static unsigned char *read_idx(const char *dir, const char *name, uint32_t magic, size_t item,
                               uint32_t *count)
{
    char cmd[1024];
    unsigned char head[16];
    size_t hlen = magic == 0x803 ? 16 : 8, total;
    unsigned char *data;
    FILE *f;
    snprintf(cmd, sizeof cmd, "gzip -dc '%s/%s'", dir, name);
    if (!(f = popen(cmd, "r")) || fread(head, 1, hlen, f) != hlen || be32(head) != magic) {
        fprintf(stderr, "fashion_mnist: cannot read %s/%s (apt-get install dataset-fashion-mnist)\n",
                dir, name);
        exit(1);
    }
    *count = be32(head + 4);
    total = (size_t)*count * item;
    data = malloc(total);
    if (!data || fread(data, 1, total, f) != total) {
        fprintf(stderr, "fashion_mnist: %s/%s is truncated\n", dir, name);
        exit(1);
    }
    pclose(f);
    return data;
}

/* Images [N, 28, 28] scaled to [0, 1], labels [N]. */
static void load(const char *dir, const char *prefix, float **x, int32_t **y, uint32_t *n)
{
    char name[64];
    unsigned char *pix, *lab;
    uint32_t nl, i;
    snprintf(name, sizeof name, "%s-images-idx3-ubyte.gz", prefix);
    pix = read_idx(dir, name, 0x803, ROWS * COLS, n);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte.gz", prefix);
    lab = read_idx(dir, name, 0x801, 1, &nl);
    if (nl != *n) {
        fprintf(stderr, "fashion_mnist: %u images but %u labels\n", *n, nl);
        exit(1);
    }
    *x = malloc((size_t)*n * ROWS * COLS * sizeof **x);
    *y = malloc((size_t)*n * sizeof **y);
    for (i = 0; i < *n * ROWS * COLS; i++)
        (*x)[i] = pix[i] / 255.0f;
    for (i = 0; i < *n; i++)
        (*y)[i] = lab[i];
    free(pix);
    free(lab);
}

static double epoch_start;

static int on_epoch(void *user, int epoch, float loss, float acc, float vloss, float vacc)
{
    (void)user;
    (void)vloss;
    (void)vacc;
    printf("epoch %d: %.1f s, loss %.4f, training accuracy %.4f\n", epoch + 1, now() - epoch_start,
           loss, acc);
    fflush(stdout);
    epoch_start = now();
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    const int epochs = argc > 2 ? atoi(argv[2]) : 8, hidden = argc > 3 ? atoi(argv[3]) : 64;
    float *xtr, *xte;
    int32_t *ytr, *yte;
    uint32_t ntr, nte;
    seqcls_model_t *m = NULL;
    seqcls_optimizer_t *adam = NULL;
    seqcls_fit_config_t *cfg = NULL;
    seqcls_metrics_t *mt = NULL;
    seqcls_tensor_t *x = NULL, *y = NULL, *tx = NULL, *ty = NULL;
    int64_t s3[3], s1[1];

    load(dir, "train", &xtr, &ytr, &ntr);
    load(dir, "t10k", &xte, &yte, &nte);
    printf("Fashion-MNIST: %u training and %u test images as 28 steps of 28 features; "
           "BiLSTM(%d) + attention, %d epochs\n", ntr, nte, hidden, epochs);

    check(seqcls_model_create(&m, 1), "model");
    check(seqcls_add_input(m, COLS, NULL), "input");
    check(seqcls_add_lstm(m, hidden, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL), "lstm");
    check(seqcls_add_attention(m, SEQCLS_ATTN_BAHDANAU, hidden, NULL), "attention");
    check(seqcls_add_dense(m, hidden, SEQCLS_ACT_RELU, NULL), "dense");
    check(seqcls_add_output(m, 10, NULL), "output");

    s3[0] = ntr, s3[1] = ROWS, s3[2] = COLS, s1[0] = ntr;
    check(seqcls_tensor_wrap(&x, SEQCLS_F32, 3, s3, xtr), "tensor");
    check(seqcls_tensor_wrap(&y, SEQCLS_I32, 1, s1, ytr), "tensor");
    s3[0] = nte, s1[0] = nte;
    check(seqcls_tensor_wrap(&tx, SEQCLS_F32, 3, s3, xte), "tensor");
    check(seqcls_tensor_wrap(&ty, SEQCLS_I32, 1, s1, yte), "tensor");

    check(seqcls_optimizer_create(&adam, SEQCLS_OPTIM_ADAM, 0.002f), "optimizer");
    check(seqcls_fit_config_create(&cfg), "fit");
    check(seqcls_fit_config_set_int(cfg, SEQCLS_FIT_EPOCHS, epochs), "fit");
    check(seqcls_fit_config_set_int(cfg, SEQCLS_FIT_BATCH_SIZE, 64), "fit");
    check(seqcls_fit_config_set_callbacks(cfg, NULL, on_epoch, NULL, NULL), "fit");
    epoch_start = now();
    check(seqcls_fit(m, adam, x, NULL, y, NULL, NULL, NULL, cfg), "training");
    check(seqcls_evaluate(m, tx, NULL, ty, 512, &mt), "evaluation");
    printf("test accuracy %.4f (macro F1 %.4f) on %u images\n",
           seqcls_metrics_get(mt, SEQCLS_METRIC_ACCURACY, 0),
           seqcls_metrics_get(mt, SEQCLS_METRIC_MACRO_F1, 0), nte);
    {
        /* the same model in reduced precision: copies through a buffer */
        static const int precisions[3] = {SEQCLS_FP32, SEQCLS_INT8, SEQCLS_BF16};
        static const char *const names[3] = {"float32", "int8", "bf16"};
        const double acc32 = seqcls_metrics_get(mt, SEQCLS_METRIC_ACCURACY, 0);
        void *buf = NULL;
        size_t len = 0;
        int k;
        check(seqcls_model_save_buffer(m, &buf, &len), "save");
        for (k = 0; k < 3; k++) {
            seqcls_model_t *q = NULL;
            seqcls_metrics_t *qm = NULL;
            double t0, acc;
            check(seqcls_model_load_buffer(&q, buf, len), "load");
            if (precisions[k] != SEQCLS_FP32)
                check(seqcls_model_quantize(q, precisions[k]), "quantize");
            t0 = now();
            check(seqcls_evaluate(q, tx, NULL, ty, 512, &qm), "evaluation");
            acc = seqcls_metrics_get(qm, SEQCLS_METRIC_ACCURACY, 0);
            printf("%-7s test accuracy %.4f (%+.2f points), evaluation %.2f s\n", names[k], acc,
                   100 * (acc - acc32), now() - t0);
            seqcls_metrics_free(qm);
            seqcls_model_free(q);
        }
        seqcls_free(buf);
    }

    seqcls_metrics_free(mt);
    seqcls_fit_config_free(cfg);
    seqcls_optimizer_free(adam);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    seqcls_tensor_free(tx);
    seqcls_tensor_free(ty);
    seqcls_model_free(m);
    free(xtr);
    free(ytr);
    free(xte);
    free(yte);
    return 0;
}
