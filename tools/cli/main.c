/*
 * main.c -- `seqcls`, the command line: train, test, predict, explain and
 * inspect sequence classifiers on text files, in the manner of fastText.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: seqcls <command> [options]\n"
    "\n"
    "  train -i TRAIN.txt -o MODEL.sqcl [--arch bilstm-attn|bigru-attn|meanpool]\n"
    "        [--epochs N] [--lr X] [--dim D] [--hidden H] [--maxlen L] [--batch B]\n"
    "        [--valid FILE | --valid-split F] [--min-count N] [--vocab N] [--seed S]\n"
    "        [--threads N]\n"
    "  test MODEL.sqcl TEST.txt [--maxlen L]      accuracy, per-class scores, confusion matrix\n"
    "  predict MODEL.sqcl [-k K] [FILE|-]         top-K labels and probabilities per line\n"
    "  explain MODEL.sqcl [FILE|-] [--html OUT]   attention weight of every token\n"
    "  info MODEL.sqcl                            architecture, parameters, labels, metadata\n"
    "\n"
    "test, predict and explain cut documents at the model's own maximum length\n"
    "(the training --maxlen, saved in the model) unless --maxlen is given.\n"
    "Input lines are \"__label__NAME text\" (fastText) or \"NAME<TAB>text\".\n"
    "Errors give a one-line message and exit status 2.\n";

void die(const char *fmt, ...)
{
    /* one line, whatever the names in it hold (a path, a label, a
     * model's metadata): control characters are shown as '?' */
    char msg[2048];
    size_t i;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (i = 0; msg[i]; i++)
        if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
            msg[i] = '?';
    fprintf(stderr, "seqcls: %s\n", msg);
    output_cleanup();
    exit(EXIT_BAD);
}

void check(int status, const char *what)
{
    if (status != SEQCLS_OK)
        die("%s: %s", what, seqcls_last_error());
}

void print_usage(FILE *f)
{
    fputs(usage, f);
}

const char *parse_string(const char *opt, const char *value, int file)
{
    if (!value)
        die("%s needs a value", opt);
    if (value[0] == '-' && value[1] != '\0') {
        if (file)
            die("%s needs a file name, not '%s' (write ./%s for a file so named)", opt, value,
                value);
        die("%s needs a value, not '%s'", opt, value);
    }
    return value;
}

long parse_long(const char *opt, const char *value, long lo, long hi)
{
    char *end;
    long v;
    if (!value)
        die("%s needs a value", opt);
    errno = 0;
    v = strtol(value, &end, 10);
    if (errno || end == value || *end || v < lo || v > hi)
        die("%s: '%s' is not an integer in [%ld, %ld]", opt, value, lo, hi);
    return v;
}

double parse_double(const char *opt, const char *value, double lo, double hi)
{
    char *end;
    double v;
    if (!value)
        die("%s needs a value", opt);
    errno = 0;
    v = strtod(value, &end);
    if (errno || end == value || *end || !(v >= lo && v <= hi))
        die("%s: '%s' is not a number in [%g, %g]", opt, value, lo, hi);
    return v;
}

seqcls_model_t *load_model(const char *path)
{
    seqcls_model_t *m = NULL;
    if (seqcls_model_load(&m, path) != SEQCLS_OK)
        die("%s", seqcls_last_error());
    if (!seqcls_model_vocab(m))
        die("%s: the model has no vocabulary, so it cannot read text", path);
    return m;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } commands[] = {{"train", cmd_train}, {"test", cmd_test}, {"predict", cmd_predict},
                    {"explain", cmd_explain}, {"info", cmd_info}};
    size_t i;
    if (argc < 2)
        die("missing command: train, test, predict, explain or info (seqcls --help)");
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        fputs(usage, stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("seqcls %s\n", seqcls_version_string());
        return 0;
    }
    for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) {
            int rc = commands[i].run(argc - 2, argv + 2);
            stdout_close();   /* a full disk or a closed pipe is an error too */
            return rc;
        }
    die("unknown command '%s' (seqcls --help lists the commands)", argv[1]);
}
