/* The parser's own option tables against what users read: every option it accepts appears in --help (with
 * its argument) and in the man page, so the three cannot drift apart.
 * Usage: test_cli DNNTRAIN DNNEVAL DNNTUNE SOURCE_DIR */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>

#include "../src/cli/options.h"
#include "check.h"

static char *slurp(FILE *f)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (size_t r; buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
        n += r;
        if (n + 1 == cap) {
            char *grown = realloc(buf, cap *= 2);
            if (!grown) free(buf);
            buf = grown;
        }
    }
    if (buf) buf[n] = '\0';
    return buf;
}

static void check_command(const char *bin, const char *man_path, const cli_option *opts, int n)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "'%s' --help", bin);
    FILE *p = popen(cmd, "r");
    char *help = p ? slurp(p) : NULL;
    int rc = p ? pclose(p) : -1;
    CHECK_MSG(help && rc == 0, "%s --help failed", bin);
    FILE *f = fopen(man_path, "r");
    char *man = f ? slurp(f) : NULL;
    if (f) fclose(f);
    CHECK_MSG(man != NULL, "cannot read %s", man_path);
    if (!help || !man) return;
    for (int i = 0; i < n; i++) {
        char flag[128], roff[256];
        snprintf(flag, sizeof flag, "--%s", opts[i].name);
        CHECK_MSG(strstr(help, flag), "%s --help does not mention %s", bin, flag);
        if (opts[i].arg) {
            char with_arg[200];
            snprintf(with_arg, sizeof with_arg, "--%s %s", opts[i].name, opts[i].arg);
            CHECK_MSG(strstr(help, with_arg), "%s --help does not show %s", bin, with_arg);
        }
        if (opts[i].def) CHECK_MSG(strstr(help, opts[i].def), "%s --help lacks the default of %s", bin, flag);
        /* roff writes a hyphen as \- */
        size_t k = 0;
        for (const char *s = flag; *s && k + 3 < sizeof roff; s++) {
            if (*s == '-') roff[k++] = '\\';
            roff[k++] = *s;
        }
        roff[k] = '\0';
        CHECK_MSG(strstr(man, roff), "%s does not document %s", man_path, flag);
    }
    CHECK_MSG(strstr(help, "Examples:"), "%s --help has no example", bin);
    free(help);
    free(man);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: test_cli DNNTRAIN DNNEVAL DNNTUNE SOURCE_DIR\n");
        return 2;
    }
    char man[4096];
    snprintf(man, sizeof man, "%s/man/dnntrain.1", argv[4]);
    check_command(argv[1], man, DNNTRAIN_OPTIONS, DNNTRAIN_N_OPTIONS);
    snprintf(man, sizeof man, "%s/man/dnneval.1", argv[4]);
    check_command(argv[2], man, DNNEVAL_OPTIONS, DNNEVAL_N_OPTIONS);
    snprintf(man, sizeof man, "%s/man/dnntune.1", argv[4]);
    check_command(argv[3], man, DNNTUNE_OPTIONS, DNNTUNE_N_OPTIONS);
    return check_done("test_cli");
}
