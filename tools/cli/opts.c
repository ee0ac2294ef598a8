/*
 * opts.c -- the options of every command, parsed and described from one
 * table per command (see command_t in cli.h): the defaults in the help are
 * the values the parser starts from, read by the same code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define HELP_COLUMN 26   /* where the descriptions start */

static void *field(void *o, const opt_t *op)
{
    return (char *)o + op->offset;
}

/* Is `value` one of "a|b|c"? */
static int is_choice(const char *choices, const char *value)
{
    size_t n = strlen(value);
    const char *p = choices;
    for (;;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, value, n))
            return 1;
        if (!bar)
            return 0;
        p = bar + 1;
    }
}

/* "a|b|c" as "a, b or c" into buf. */
static const char *choice_list(const char *choices, char *buf, size_t cap)
{
    size_t k = 0;
    const char *p = choices;
    buf[0] = '\0';
    for (;;) {
        const char *bar = strchr(p, '|');
        int len = bar ? (int)(bar - p) : (int)strlen(p);
        const char *sep = p == choices ? "" : bar ? ", " : " or ";
        int w = snprintf(buf + k, cap - k, "%s%.*s", sep, len, p);
        if (w < 0 || (size_t)w >= cap - k)
            break;
        k += (size_t)w;
        if (!bar)
            break;
        p = bar + 1;
    }
    return buf;
}

/* Set option `op` from the text `value` (as given after it, or its default). */
static void set_value(const command_t *c, const opt_t *op, void *o, const char *value)
{
    char list[256];
    switch (op->type) {
    case OPT_FLAG:
        *(int *)field(o, op) = 1;
        break;
    case OPT_STRING:
        *(const char **)field(o, op) = parse_string(op->name, value, 0);
        break;
    case OPT_FILE:
        *(const char **)field(o, op) = parse_string(op->name, value, 1);
        break;
    case OPT_INT:
        *(int *)field(o, op) = (int)parse_long(op->name, value, (long)op->lo, (long)op->hi);
        break;
    case OPT_REAL:
        *(double *)field(o, op) = parse_double(op->name, value, op->lo, op->hi);
        break;
    case OPT_CHOICE:
    case OPT_YESNO: {
        const char *choices = op->type == OPT_YESNO ? "yes|no" : op->choices;
        value = parse_string(op->name, value, 0);
        if (!is_choice(choices, value))
            die("%s: %s must be %s, not '%s'", c->name, op->name,
                choice_list(choices, list, sizeof list), value);
        if (op->type == OPT_YESNO)
            *(int *)field(o, op) = !strcmp(value, "yes");
        else
            *(const char **)field(o, op) = value;
        break;
    }
    }
}

void opts_defaults(const command_t *c, void *o)
{
    int i;
    for (i = 0; i < c->nopts; i++)
        if (c->opts[i].def)
            set_value(c, &c->opts[i], o, c->opts[i].def);
}

int opts_index(const command_t *c, const char *name)
{
    int i;
    for (i = 0; i < c->nopts; i++)
        if (!strcmp(c->opts[i].name, name))
            return i;
    die("internal error: %s has no option %s", c->name, name);
}

int opts_parse(const command_t *c, void *o, int argc, char **argv, const char **pos,
               int max_pos, unsigned char *given)
{
    int i, k, npos = 0;
    /* --help first, wherever it is and whatever else is wrong (no value
     * may start with '-', so it is never an option's value) */
    for (i = 0; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            print_command_help(stdout, c);
            stdout_close();
            exit(0);
        }
    opts_defaults(c, o);
    if (given && c->nopts > 0)
        memset(given, 0, (size_t)c->nopts);
    for (i = 0; i < argc; i++) {
        const char *a = argv[i];
        for (k = 0; k < c->nopts; k++)
            if (!strcmp(a, c->opts[k].name) || (c->opts[k].alias && !strcmp(a, c->opts[k].alias)))
                break;
        if (k < c->nopts) {
            const opt_t *op = &c->opts[k];
            if (op->type == OPT_FLAG) {
                set_value(c, op, o, NULL);
            } else {
                /* messages name the option as written (-i or --input) */
                opt_t named = *op;
                named.name = a;
                set_value(c, &named, o, i + 1 < argc ? argv[i + 1] : NULL);
                i++;
            }
            if (given)
                given[k] = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            die("%s: unknown option '%s' (seqcls %s --help lists the options)", c->name, a,
                c->name);
        } else if (npos < max_pos) {
            pos[npos++] = a;
        } else {
            die("%s: unexpected argument '%s' (%s)", c->name, a, c->pos_hint);
        }
    }
    return npos;
}

/* Lines of `text` ('\n' separated), each indented to `column` but the
 * first (which continues a line already `at` characters long). */
static void print_indented(FILE *f, const char *text, int at, int column)
{
    const char *p = text;
    for (;;) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        fprintf(f, "%*s%.*s\n", at < column ? column - at : 0, "", len, p);
        if (!nl || !nl[1])
            break;
        p = nl + 1;
        at = 0;
    }
}

void print_command_help(FILE *f, const command_t *c)
{
    int i;
    fprintf(f, "usage: seqcls %s %s\n\n", c->name, c->args);
    if (c->about)
        fprintf(f, "%s\n", c->about);
    fprintf(f, "options (defaults in brackets):\n");
    for (i = 0; i <= c->nopts; i++) {
        const opt_t *op = i < c->nopts ? &c->opts[i] : NULL;
        char left[96], text[2048];
        const char *metavar = op ? (op->type == OPT_YESNO ? "yes|no" : op->metavar) : NULL;
        int n;
        if (!op) {   /* every command has it */
            snprintf(left, sizeof left, "  -h, --help");
            snprintf(text, sizeof text, "print this help and exit");
        } else {
            snprintf(left, sizeof left, "  %s%s%s%s%s", op->alias ? op->alias : "",
                     op->alias ? ", " : "", op->name, metavar ? " " : "", metavar ? metavar : "");
            if (op->def)
                snprintf(text, sizeof text, "%s [%s]", op->help, op->def);
            else if (op->def_text)
                snprintf(text, sizeof text, "%s [%s]", op->help, op->def_text);
            else if (op->type == OPT_FLAG)
                snprintf(text, sizeof text, "%s [off]", op->help);
            else
                snprintf(text, sizeof text, "%s", op->help);
        }
        n = fprintf(f, "%s", left);
        if (n >= HELP_COLUMN - 1) {
            fputc('\n', f);
            n = 0;
        }
        print_indented(f, text, n, HELP_COLUMN);
    }
    if (c->notes)
        fprintf(f, "\n%s", c->notes);
}
