/* What the commands share: an option table that drives getopt_long, --help and typo suggestions; number
 * parsing for flags; BLAS threads; the version line. */
#ifndef DNN_CLI_H
#define DNN_CLI_H

#include <getopt.h>
#include <stdio.h>

typedef struct {
    const char *name; /* long name without "--" */
    int has_arg;      /* no_argument or required_argument */
    int id;           /* returned by cli_next */
    const char *arg;  /* the argument's placeholder in --help, e.g. "FILE" */
    const char *def;  /* its default, for --help (NULL: none) */
    const char *help;
} cli_option;

#define CLI_MAX_OPTIONS 48

typedef struct {
    const char *prog;
    const cli_option *opts;
    int n_opts;
    struct option long_opts[CLI_MAX_OPTIONS + 1];
} cli_parser;

/* Parsing allocates nothing, so every early exit on a bad flag is clean. */
void cli_init(cli_parser *p, const char *prog, const cli_option *opts, int n);
/* The next option's id, -1 at the end, or '?' after printing an error (with the nearest valid flag). */
int cli_next(cli_parser *p, int argc, char **argv);
void cli_help(const cli_parser *p, FILE *f, const char *usage, const char *examples);

/* Flag values: print "prog: --flag: expected ..., got ..." and return -1 when bad. */
int cli_int(const char *prog, const char *flag, const char *s, long lo, long hi, long *out);
int cli_double(const char *prog, const char *flag, const char *s, double *out);

/* --max-memory SIZE into *bytes; -1 (after a message) when SIZE is not a size. */
int cli_max_memory(const char *prog, const char *s, size_t *bytes);

/* SIGINT and SIGTERM call handler (interrupting blocking calls, so a wait notices them); SIGXFSZ is ignored,
 * so that a write past a file-size limit fails with EFBIG, which is reported, rather than killing us. */
void cli_catch_signals(void (*handler)(int));

/* --threads N (0: leave BLAS's default, which honours OPENBLAS_NUM_THREADS). */
void cli_set_threads(long n);
void cli_version(const char *prog);

#endif
