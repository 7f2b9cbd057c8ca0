/* Shared command-line plumbing for dnntrain, dnneval and dnntune. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/blas.h"
#include "dnn/checkpoint.h"
#include "dnn/util.h"

void cli_init(cli_parser *p, const char *prog, const cli_option *opts, int n)
{
    p->prog = prog;
    p->opts = opts;
    p->n_opts = n < CLI_MAX_OPTIONS ? n : CLI_MAX_OPTIONS;
    memset(p->long_opts, 0, sizeof p->long_opts);
    for (int i = 0; i < p->n_opts; i++)
        p->long_opts[i] = (struct option){opts[i].name, opts[i].has_arg, NULL, opts[i].id};
    opterr = 0;
}

int cli_next(cli_parser *p, int argc, char **argv)
{
    int c = getopt_long(argc, argv, "", p->long_opts, NULL);
    if (c != '?') return c;
    const char *bad = argv[optind - 1];
    if (optopt) {
        for (int i = 0; i < p->n_opts; i++)
            if (p->opts[i].id == optopt) {
                fprintf(stderr, "%s: --%s needs a value (%s)\n", p->prog, p->opts[i].name, p->opts[i].arg);
                return '?';
            }
    }
    char name[128];
    const char *s = bad;
    while (*s == '-') s++;
    snprintf(name, sizeof name, "%.*s", (int)strcspn(s, "="), s);
    const char *names[64];
    int n = p->n_opts < 64 ? p->n_opts : 64;
    for (int i = 0; i < n; i++) names[i] = p->opts[i].name;
    const char *near = dnn_nearest(name, names, (size_t)n);
    if (near)
        fprintf(stderr, "%s: unknown option %s (did you mean --%s?); see --help\n", p->prog, bad, near);
    else
        fprintf(stderr, "%s: unknown option %s; see --help\n", p->prog, bad);
    return '?';
}

void cli_help(const cli_parser *p, FILE *f, const char *usage, const char *examples)
{
    fprintf(f, "%s", usage);
    fprintf(f, "\nOptions:\n");
    for (int i = 0; i < p->n_opts; i++) {
        const cli_option *o = &p->opts[i];
        char left[64];
        if (o->has_arg)
            snprintf(left, sizeof left, "--%s %s", o->name, o->arg);
        else
            snprintf(left, sizeof left, "--%s", o->name);
        fprintf(f, "  %-24s %s", left, o->help);
        if (o->def) fprintf(f, " (default: %s)", o->def);
        fputc('\n', f);
    }
    fprintf(f, "\nExamples:\n%s", examples);
}

int cli_int(const char *prog, const char *flag, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "%s: --%s: expected an integer from %ld to %ld, got \"%s\"\n", prog, flag, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_double(const char *prog, const char *flag, const char *s, double *out)
{
    char *end;
    double v = dnn_strtod_c(s, &end);
    if (end == s || *end || !isfinite(v)) {
        fprintf(stderr, "%s: --%s: expected a number, got \"%s\"\n", prog, flag, s);
        return -1;
    }
    *out = v;
    return 0;
}

void cli_set_threads(long n)
{
    if (n > 0) dnn_blas_set_threads((int)n);
}

void cli_version(const char *prog)
{
    printf("%s (dnn) %s\n", prog, dnn_version());
    char blas[256];
    printf("BLAS: %s, %d thread%s\n", dnn_blas_name(blas, sizeof blas), dnn_blas_threads(),
           dnn_blas_threads() == 1 ? "" : "s");
}

int cli_max_memory(const char *prog, const char *s, size_t *bytes)
{
    if (dnn_parse_bytes(s, bytes)) {
        fprintf(stderr, "%s: --max-memory: expected a size such as 512M or 8G, got \"%s\"\n", prog, s);
        return -1;
    }
    return 0;
}

void cli_catch_signals(void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGXFSZ, SIG_IGN);
}
