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

/* The commands, in the order seqcls --help lists them. */
static const struct {
    const command_t *spec;
    int (*run)(int, char **);
} commands[] = {{&cmd_train_spec, cmd_train},     {&cmd_test_spec, cmd_test},
                {&cmd_predict_spec, cmd_predict}, {&cmd_explain_spec, cmd_explain},
                {&cmd_info_spec, cmd_info},       {&cmd_quantize_spec, cmd_quantize}};
#define NCOMMANDS (int)(sizeof commands / sizeof commands[0])

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
    if (dist_size() > 1)
        fprintf(stderr, "seqcls: rank %d of %d: %s\n", dist_rank(), dist_size(), msg);
    else
        fprintf(stderr, "seqcls: %s\n", msg);
    output_cleanup();
    exit(EXIT_BAD);
}

void check(int status, const char *what)
{
    if (status == SEQCLS_E_COMM && *dist_error())
        die("%s: %s (%s)", what, seqcls_last_error(), dist_error());
    if (status != SEQCLS_OK)
        die("%s: %s", what, seqcls_last_error());
}

void print_usage(FILE *f)
{
    int i;
    fputs("usage: seqcls <command> [options]\n"
          "       seqcls <command> --help      the command's options and their defaults\n"
          "       seqcls --version             the versions of seqcls and of its library\n\n"
          "commands:\n", f);
    for (i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-8s %s\n           seqcls %s %s\n", commands[i].spec->name,
                commands[i].spec->summary, commands[i].spec->name, commands[i].spec->args);
    fputs("\nInput lines are \"__label__NAME text\" (fastText) or \"NAME<TAB>text\", in UTF-8.\n"
          "test, predict and explain read text as the model was trained to (its maximum\n"
          "length and truncation are saved in it).  Errors give a one-line message and\n"
          "exit status 2.\n",
          f);
}

/* The path of the loaded libseqcls (Linux: from /proc/self/maps), or NULL. */
static const char *library_path(char *buf, size_t cap)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4096];
    const char *found = NULL;
    if (!f)
        return NULL;
    while (!found && fgets(line, sizeof line, f)) {
        char *path = strchr(line, '/'), *nl;
        if (!path || !strstr(path, "/libseqcls"))
            continue;
        if ((nl = strchr(path, '\n')) != NULL)
            *nl = '\0';
        snprintf(buf, cap, "%s", path);
        found = buf;
    }
    fclose(f);
    return found;
}

static void print_version(void)
{
    char path[4096];
    const char *lib = library_path(path, sizeof path);
    /* the command line is built from the library's source tree: its
     * version is the header's it was compiled with */
    printf("seqcls %s (command line, built with libseqcls %s)\n", SEQCLS_VERSION_STRING,
           SEQCLS_VERSION_STRING);
    printf("libseqcls %s (the library it runs with%s%s)\n", seqcls_version_string(),
           lib ? ": " : "", lib ? lib : "");
    if (seqcls_version() / 10000 != SEQCLS_VERSION_MAJOR)
        printf("warning: the library's major version differs from the one the command line "
               "was built for\n");
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
    if (seqcls_model_output_ndim(m) == 3)
        die("%s: the model gives a result per token (a tagger or a language model); the "
            "command line classifies whole lines", path);
    return m;
}

int main(int argc, char **argv)
{
    int i;
    if (argc < 2)
        die("missing command: train, test, predict, explain or info (seqcls --help)");
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        if (argc > 2 && !strcmp(argv[1], "help")) {   /* seqcls help COMMAND */
            for (i = 0; i < NCOMMANDS; i++)
                if (!strcmp(argv[2], commands[i].spec->name))
                    break;
            if (i == NCOMMANDS)
                die("help: unknown command '%s' (seqcls --help lists the commands)", argv[2]);
            print_command_help(stdout, commands[i].spec);
        } else {
            print_usage(stdout);
        }
        stdout_close();
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        print_version();
        stdout_close();
        return 0;
    }
    for (i = 0; i < NCOMMANDS; i++)
        if (!strcmp(argv[1], commands[i].spec->name)) {
            int rc = commands[i].run(argc - 2, argv + 2);
            stdout_close();   /* a full disk or a closed pipe is an error too */
            return rc;
        }
    die("unknown command '%s' (seqcls --help lists the commands)", argv[1]);
}
