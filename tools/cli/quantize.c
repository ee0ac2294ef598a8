/*
 * quantize.c -- `seqcls quantize MODEL.sqcl OUT.sqcl --int8|--bf16`: a
 * trained model for inference in reduced precision
 * (seqcls_model_quantize), written to a new file that is about 4x (int8)
 * or 2x (bfloat16) smaller in its recurrent and dense weights.
 */
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cli.h"

typedef struct {
    int int8, bf16;
} quantize_opts_t;

#define QOPT(field) offsetof(quantize_opts_t, field)
static const opt_t quantize_options[] = {
    {"--int8", NULL, NULL, OPT_FLAG, QOPT(int8), NULL, NULL, 0, 0, NULL,
     "int8 weights per output channel, int8 activations per row,\n"
     "int32 sums (AVX512-VNNI, AVX2 or portable kernels)"},
    {"--bf16", NULL, NULL, OPT_FLAG, QOPT(bf16), NULL, NULL, 0, 0, NULL,
     "bfloat16 weights and activations, float32 sums (AVX512-BF16\n"
     "or portable kernels)"},
};

const command_t cmd_quantize_spec = {
    "quantize",
    "MODEL.sqcl OUT.sqcl --int8|--bf16",
    "a trained model in int8 or bfloat16 for faster, smaller inference",
    "Quantises the weights of the embedding, dense, output, LSTM and GRU layers\n"
    "(as PyTorch's quantize_dynamic does; biases, embedding bags, attention and\n"
    "the cell state stay float32) and writes the model to OUT.sqcl with its\n"
    "vocabulary, labels and metadata.  The result predicts (test, predict,\n"
    "explain, info) but cannot be trained further, and seqcls 1.0 cannot read it.",
    quantize_options,
    (int)(sizeof quantize_options / sizeof quantize_options[0]),
    "exactly 2: MODEL and OUT",
    NULL,
};

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

int cmd_quantize(int argc, char **argv)
{
    quantize_opts_t o;
    const char *pos[2] = {NULL, NULL}, *inputs[1];
    seqcls_model_t *m = NULL;
    int npos, precision;
    long before, after;

    npos = opts_parse(&cmd_quantize_spec, &o, argc, argv, pos, 2, NULL);
    if (npos < 2)
        die("quantize: missing the %s argument (seqcls quantize --help)",
            npos == 0 ? "MODEL and OUT" : "OUT");
    if (o.int8 == o.bf16)
        die("quantize: give exactly one of --int8 and --bf16 (seqcls quantize --help)");
    precision = o.int8 ? SEQCLS_INT8 : SEQCLS_BF16;
    inputs[0] = pos[0];
    check_output("OUT", pos[1], inputs, 1, 0);
    if (seqcls_model_load(&m, pos[0]) != SEQCLS_OK)
        die("%s", seqcls_last_error());
    check(seqcls_model_quantize(m, precision), "quantize");
    check(seqcls_model_save(m, pos[1]), "saving the model");
    before = file_size(pos[0]);
    after = file_size(pos[1]);
    if (before > 0 && after > 0)
        fprintf(stderr, "%s: %s, %ld bytes (%.2fx smaller than %s, %ld bytes)\n", pos[1],
                o.int8 ? "int8" : "bfloat16", after, (double)before / (double)after, pos[0],
                before);
    seqcls_model_free(m);
    return 0;
}
