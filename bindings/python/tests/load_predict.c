/*
 * load_predict.c -- load a model file (saved from Python by the tests)
 * with the C API and print its predictions, so that test_save_load.py can
 * compare them with Python's.
 *
 *   load_predict MODEL < input
 *
 * input: "B T", then B*T token ids (row-major), then B lengths, as text.
 * output: one line per row: the C probabilities, then the T attention
 * weights, all with %.9g.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <seqcls.h>

static int fail(const char *what)
{
    fprintf(stderr, "load_predict: %s: %s\n", what, seqcls_last_error());
    return 1;
}

/* The number of classes: the first dimension of "<n>.output.weight". */
static int64_t output_classes(seqcls_model_t *m)
{
    for (int i = seqcls_param_count(m) - 1; i >= 0; i--) {
        const char *name = seqcls_param_name(m, i);
        const char *tail = ".output.weight";
        size_t n = strlen(name), k = strlen(tail);
        seqcls_tensor_t *value = NULL;
        if (n > k && strcmp(name + n - k, tail) == 0 && seqcls_param(m, i, &value, NULL) == 0)
            return seqcls_tensor_dim(value, 0);
    }
    return -1;
}

int main(int argc, char **argv)
{
    seqcls_model_t *m = NULL;
    seqcls_tensor_t *ids = NULL, *probs = NULL, *att = NULL;
    int32_t *len = NULL;
    long long b, t;
    int rc = 1;
    if (argc != 2 || scanf("%lld %lld", &b, &t) != 2 || b < 1 || t < 1 || b > 10000 ||
        t > 10000) {
        fprintf(stderr, "usage: load_predict MODEL < input\n");
        return 2;
    }
    if (seqcls_model_load(&m, argv[1]))
        return fail("seqcls_model_load");
    int64_t classes = output_classes(m);
    int64_t sid[2] = {b, t}, sp[2] = {b, classes}, sa[2] = {b, t};
    if (classes < 1) {
        fprintf(stderr, "load_predict: no output layer\n");
        goto done;
    }
    if (seqcls_tensor_create(&ids, SEQCLS_I32, 2, sid) ||
        seqcls_tensor_create(&probs, SEQCLS_F32, 2, sp) ||
        seqcls_tensor_create(&att, SEQCLS_F32, 2, sa)) {
        rc = fail("seqcls_tensor_create");
        goto done;
    }
    int32_t *id = seqcls_tensor_data(ids);
    len = malloc((size_t)b * sizeof *len);
    if (!len)
        goto done;
    for (long long i = 0; i < b * t; i++)
        if (scanf("%d", &id[i]) != 1)
            goto bad_input;
    for (long long i = 0; i < b; i++)
        if (scanf("%d", &len[i]) != 1)
            goto bad_input;
    if (seqcls_predict(m, ids, len, probs, att)) {
        rc = fail("seqcls_predict");
        goto done;
    }
    const float *p = seqcls_tensor_data(probs), *a = seqcls_tensor_data(att);
    for (long long i = 0; i < b; i++) {
        for (int64_t c = 0; c < classes; c++)
            printf("%.9g ", p[i * classes + c]);
        for (long long s = 0; s < t; s++)
            printf(" %.9g", a[i * t + s]);
        printf("\n");
    }
    rc = 0;
    goto done;
bad_input:
    fprintf(stderr, "load_predict: input ends early\n");
done:
    seqcls_tensor_free(ids);
    seqcls_tensor_free(probs);
    seqcls_tensor_free(att);
    seqcls_model_free(m);
    free(len);
    return rc;
}
