/*
 * cli.h -- the seqcls command line: shared declarations.
 */
#ifndef SEQCLS_CLI_H
#define SEQCLS_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <seqcls.h>

/* Exit status for every error: bad usage, bad input, failed library call. */
#define EXIT_BAD 2

/* Print "seqcls: <message>" to stderr and exit with EXIT_BAD. */
void die(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;
/* malloc(count * size) or die naming `what` ("out of memory for <what>"). */
void *xmalloc(size_t count, size_t size, const char *what);
/* Exit with the library's message if `status` is not SEQCLS_OK. */
void check(int status, const char *what);

/* A labelled (or unlabelled) text file, one document per line. */
typedef struct {
    char **text;      /* [n] NUL-terminated UTF-8 */
    char **label;     /* [n] label names (NULL entries when a line has none) */
    long *line;       /* [n] the line number of each document, from 1 */
    int n;
    long lines;       /* lines read, blank ones included */
} docs_t;

/* How lines are read. */
enum {
    DOCS_TEXT = 0,       /* text; a leading __label__NAME is dropped */
    DOCS_LABELLED = 1,   /* "__label__NAME text" or "NAME<TAB>text" required */
    DOCS_INPUT = 2       /* predict, explain: text, with its label kept when it
                            has one ("__label__NAME", or "NAME<TAB>" naming one
                            of the model's labels; another tab is text) */
};

/* Read `path` ("-" = stdin).  With `labelled`, every non-empty line must
 * be "__label__NAME text" or "NAME<TAB>text"; otherwise lines are text
 * (a leading __label__ is stripped).  Blank lines are skipped (d->line
 * says where each document was).  Dies on any problem, and when there is
 * no document. */
void docs_read(docs_t *d, const char *path, int labelled);
/* As docs_read, but on a problem frees what it read, writes the message
 * into msg and returns -1 (0 on success). */
int docs_load(docs_t *d, const char *path, int labelled, char *msg, size_t msg_cap);
/* The input of predict and explain (DOCS_INPUT, labels known to m): an
 * input of blank lines only is no error (no documents, d->lines > 0). */
void docs_read_input(docs_t *d, const char *path, const seqcls_model_t *m);
void docs_free(docs_t *d);
/* Move the documents i of `from` with which[i] set to `to` (emptied
 * first), keeping their order; `from` keeps the others, in order. */
void docs_move(docs_t *from, docs_t *to, const unsigned char *which);

/* Sorted distinct labels of d: names[0..*n). */
char **labels_collect(const docs_t *d, int *n);
/* Index of `name` among the model's class names, or -1. */
int label_index(const seqcls_model_t *m, const char *name);

/* Documents as a model's input (encode.c): ids [n, T], or with per > 0
 * bags [n, T, per] of each token's id and its n-gram ids (-1 unused), for
 * a model whose first layer is an embedding bag; T is the longest
 * document's token count, at most the maximum length. */
typedef struct {
    int32_t *ids;
    int32_t *lens;           /* [n] */
    int n, T, per;
    long tokens, known;      /* tokens read, and those in the vocabulary */
} encoded_t;

/* Encode d with v (in v's tokenisation mode), at most maxlen tokens a
 * document, the first ones, or with `pre` the last ones; per: 0, or the
 * ids per step of the model's embedding bag; width: T, or 0 for the
 * longest document's length (at most maxlen). */
void encode_docs(const seqcls_vocab_t *v, int per, const docs_t *d, int maxlen, int pre,
                 int width, encoded_t *e);
void encoded_free(encoded_t *e);
/* Rows [first, first + n) of e as an input tensor (borrowing e's ids). */
seqcls_tensor_t *encoded_tensor(const encoded_t *e, int first, int n);
/* The share of the tokens read that are in the vocabulary (1 if none). */
double encoded_coverage(const encoded_t *e);
/* test, predict, explain: one line on stderr when most tokens are unknown. */
void warn_unknown(const encoded_t *e, const seqcls_model_t *m);
/* The ids per step of m's first layer if it is an embedding bag, else 0. */
int model_per_step(const seqcls_model_t *m);
/* Ids per step for v's subwords: 1 + the n-grams of its longest token
 * (counted in code points, at most 32; longer tokens keep their first
 * n-grams). */
int subword_slots(const seqcls_vocab_t *v);

/* Commands. */
int cmd_train(int argc, char **argv);
int cmd_test(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_quantize(int argc, char **argv);

/* ---- Options and help (opts.c) ----
 *
 * Each command describes its options once, in a table: the parser reads
 * the values with it, the defaults are set from it (parsed by the same
 * code as a value on the command line), and `seqcls COMMAND --help` is
 * printed from it, so the help cannot disagree with the program. */
typedef enum {
    OPT_FLAG,     /* no value: sets an int to 1 */
    OPT_STRING,   /* const char * */
    OPT_FILE,     /* const char *, a file name ("-" allowed) */
    OPT_INT,      /* int in [lo, hi] */
    OPT_REAL,     /* double in [lo, hi] */
    OPT_CHOICE,   /* const char *, one of `choices` ("a|b|c") */
    OPT_YESNO     /* int: yes = 1, no = 0 */
} opt_type_t;

typedef struct {
    const char *name;      /* "--epochs" */
    const char *alias;     /* "-i", or NULL */
    const char *metavar;   /* "N" (NULL for a flag) */
    opt_type_t type;
    size_t offset;         /* of the value in the command's options struct */
    const char *def;       /* the default, as it would be written on the command line; NULL: none */
    const char *def_text;  /* shown in the help instead when def is NULL ("required", ...) */
    double lo, hi;         /* range of OPT_INT and OPT_REAL */
    const char *choices;   /* OPT_CHOICE: "a|b|c" */
    const char *help;      /* lines separated by '\n' */
} opt_t;

typedef struct {
    const char *name;      /* "train" */
    const char *args;      /* what follows the name in the usage line */
    const char *summary;   /* one line, for seqcls --help */
    const char *about;     /* paragraph(s) after the usage line, or NULL */
    const opt_t *opts;
    int nopts;
    const char *pos_hint;  /* said after an unexpected argument */
    const char *notes;     /* text after the options, or NULL */
} command_t;

extern const command_t cmd_train_spec, cmd_test_spec, cmd_predict_spec, cmd_explain_spec,
    cmd_info_spec, cmd_quantize_spec;

/* Set every option of `c` that has a default in `o`. */
void opts_defaults(const command_t *c, void *o);
/* Parse argv[0..argc) into `o` (defaults first): options by the table,
 * -h/--help prints the command's help and exits 0, other arguments go to
 * pos[0..max_pos) (their count returned).  given[i] (if not NULL) is set
 * for every option i on the command line.  Dies on anything else. */
int opts_parse(const command_t *c, void *o, int argc, char **argv, const char **pos,
               int max_pos, unsigned char *given);
/* Index of option `name` in c's table (dies if there is none: a bug). */
int opts_index(const command_t *c, const char *name);
/* The help of one command (seqcls COMMAND --help). */
void print_command_help(FILE *f, const command_t *c);
/* The usage text (seqcls --help). */
void print_usage(FILE *f);
/* The string value of option `opt`, or die: missing, or starting with
 * '-' (the next option: "-o --epochs 5" would write a file "--epochs");
 * `file` adds how to name a file that starts with '-'. */
const char *parse_string(const char *opt, const char *value, int file);
/* Parse an integer/float option value or die naming the option. */
long parse_long(const char *opt, const char *value, long lo, long hi);
double parse_double(const char *opt, const char *value, double lo, double hi);

/* Output files (output.c).  check_output: die unless `path`, named by
 * option `opt`, can be written: not empty, not "-", not a directory,
 * not one of inputs[0..ninputs) (NULL entries skipped), a regular file or
 * (with special_ok) a writable device or pipe, in an existing directory
 * where a file can be created (tried).  Call it before any expensive work. */
void check_output(const char *opt, const char *path, const char *const *inputs, int ninputs,
                  int special_ok);
/* Open `path` for writing through a temporary file beside it (*tmp, or
 * NULL for a device or a pipe, written in place); dies on failure, and
 * die() removes the temporary file. */
FILE *output_open(const char *path, char **tmp);
/* Check every write, close, and rename the temporary file over `path`;
 * dies with the system's reason on failure. */
void output_close(FILE *f, const char *path, char *tmp);
/* Remove the pending temporary file, if any (die() calls it). */
void output_cleanup(void);
/* Flush and close stdout; die with the reason if anything written failed. */
void stdout_close(void);

/* Escaped text (escape.c).  json_string writes s[0..n) as a JSON string
 * (quotes included; control characters, U+2028/9 as \uXXXX; a byte that
 * is not UTF-8 as U+FFFD); html_text as HTML text or attribute value
 * (& < > " ' as references; control characters as their Unicode control
 * pictures, bytes that are not UTF-8 as U+FFFD).  The _cstring forms take
 * a NUL-terminated string, NULL as "". */
void json_string(FILE *f, const char *s, size_t n);
void json_cstring(FILE *f, const char *s);
void html_text(FILE *f, const char *s, size_t n);
void html_cstring(FILE *f, const char *s);

/* Data-parallel training under mpirun (dist.c).  dist_start: if an MPI
 * launcher started the process, load libseqcls-mpi.so.1, join the job and
 * silence stdout on ranks but 0 (returns 1), else return 0 and change
 * nothing.  Rank 0 of 1 without a launcher. */
int dist_start(void);
int dist_rank(void);
int dist_size(void);
seqcls_comm_t *dist_comm(void);
/* libseqcls-mpi's last message ("" if none). */
const char *dist_error(void);
/* Threads per rank: `threads` if given (> 0), else under a launcher the
 * machine's cores shared among its ranks, else 0 (one per core). */
int dist_threads(int threads);
/* What a rank stopped by the launcher says: the last checkpoint (NULL: none). */
void dist_set_checkpoint(const char *path);
/* Leave the job (free the communicator, finalise MPI). */
void dist_finish(void);

/* Load a model file, or die. */
seqcls_model_t *load_model(const char *path);

#endif
