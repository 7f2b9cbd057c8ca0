/* What users read against what the program accepts, both ways, so neither can drift from the other:
 * - every flag in a command's option table is in its --help (with its argument and default), its man page
 *   (man/NAME.1) and its README section ("## NAME"); every --flag the README or a man page mentions is one
 *   the parser accepts (a flag after another program's name on the same line, such as cmake's, is that
 *   program's);
 * - every config key the validator accepts (dnn_config_keys) is in the README's config table, every key the
 *   table lists is accepted, and so is every dotted key ("training.epochs", "--set model.layers.0.units=8")
 *   the README or a man page names.
 * The commands come from DNN_COMMANDS and the keys from the validator's own table, so a new command or key
 * is checked without touching this file.
 * Usage: test_cli BIN_DIR SOURCE_DIR */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <stdlib.h>

#include "../src/cli/options.h"
#include "check.h"
#include "dnn/config.h"
#include "dnn/util.h"

/* Programs whose flags the README may show beside ours. */
static const char *const FOREIGN[] = {
    "cmake",          "ctest",           "pkg-config",       "mpirun",
    "scancel",        "scripts/test.sh", "scripts/bench.sh", "scripts/demo.sh",
    "tests/csv_bench"};
#define N_FOREIGN (int)(sizeof FOREIGN / sizeof FOREIGN[0])

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

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    char *s = f ? slurp(f) : NULL;
    if (f) fclose(f);
    CHECK_MSG(s != NULL, "cannot read %s", path);
    return s;
}

/* roff writes a hyphen as \-: "\-\-max\-memory" reads as "--max-memory". */
static void unescape_roff(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] == '-') r++;
        *w++ = *r;
    }
    *w = '\0';
}

static int name_char(char c)
{
    return islower((unsigned char)c) || isdigit((unsigned char)c) || c == '-';
}

/* The flag starting at s ("--name", not inside a longer word): its name's length, or 0. */
static size_t flag_at(const char *text, const char *s)
{
    if (s[0] != '-' || s[1] != '-' || !(islower((unsigned char)s[2]) || isdigit((unsigned char)s[2])))
        return 0;
    if (s > text && (isalnum((unsigned char)s[-1]) || s[-1] == '-' || s[-1] == '_')) return 0;
    size_t n = 0;
    while (name_char(s[2 + n])) n++;
    while (n && s[1 + n] == '-') n--; /* "--out-" ends at "out" */
    return n;
}

static int mentions_flag(const char *text, const char *name)
{
    size_t len = strlen(name);
    for (const char *s = text; (s = strstr(s, "--")); s++)
        if (flag_at(text, s) == len && strncmp(s + 2, name, len) == 0) return 1;
    return 0;
}

static int table_has(const cli_option *opts, int n, const char *name, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0) return 1;
    return 0;
}

/* Is the word at s (of length n) a whole word, not part of a longer name or path? */
static int whole_word(const char *text, const char *s, size_t n)
{
    int before = s > text && (isalnum((unsigned char)s[-1]) || strchr("_-/.", s[-1]));
    int after = isalnum((unsigned char)s[n]) || s[n] == '_' || s[n] == '-';
    return !before && !after;
}

/* The program a flag at s belongs to: the last command named before it on its line. Returns a DNN_COMMANDS
 * index, -2 for a foreign program, or -1 when no program is named (then any of ours may own it). */
static int owner(const char *text, const char *s)
{
    const char *line = s;
    while (line > text && line[-1] != '\n') line--;
    const char *best_at = NULL;
    int best = -1;
    for (int f = 0; f < DNN_N_COMMANDS + N_FOREIGN; f++) {
        const char *name = f < DNN_N_COMMANDS ? DNN_COMMANDS[f].name : FOREIGN[f - DNN_N_COMMANDS];
        size_t n = strlen(name);
        for (const char *p = line; p < s && (p = strstr(p, name)) && p < s; p++)
            if (whole_word(text, p, n) && p > best_at) best_at = p, best = f < DNN_N_COMMANDS ? f : -2;
    }
    return best;
}

/* Every --flag in text belongs to its owner's table, or to any command's when no owner is named, or to
 * `def`'s when def >= 0 (a man page's own command). */
static void check_mentioned_flags(const char *text, const char *doc, int def)
{
    for (const char *s = text; (s = strstr(s, "--")); s++) {
        size_t n = flag_at(text, s);
        if (!n) continue;
        int who = owner(text, s);
        if (who == -2) continue;
        if (who == -1) who = def;
        int ok = 0;
        for (int c = 0; c < DNN_N_COMMANDS; c++)
            if (who == -1 || who == c)
                ok |= table_has(DNN_COMMANDS[c].opts, DNN_COMMANDS[c].n_opts, s + 2, n);
        char who_says[64] = "no dnn command accepts";
        if (who >= 0) snprintf(who_says, sizeof who_says, "%s does not accept", DNN_COMMANDS[who].name);
        CHECK_MSG(ok, "%s mentions --%.*s, which %s", doc, (int)n, s + 2, who_says);
    }
}

/* The README's "## NAME" section (its heading may go on: "## dnntune: hyperparameter search"), up to the
 * next "## " heading (malloc'ed), or NULL. */
static char *readme_section(const char *readme, const char *name)
{
    char head[128];
    int n_head = snprintf(head, sizeof head, "\n## %s", name);
    const char *s = readme;
    while ((s = strstr(s, head)) && !strchr(":\n", s[n_head])) s++;
    if (!s) return NULL;
    s += 1;
    const char *e = strstr(s + 3, "\n## ");
    size_t n = e ? (size_t)(e - s) : strlen(s);
    char *out = malloc(n + 1);
    if (out) memcpy(out, s, n), out[n] = '\0';
    return out;
}

static void check_help(const char *bin, const cli_command *cmd)
{
    char cmd_line[4200];
    snprintf(cmd_line, sizeof cmd_line, "'%s' --help", bin);
    FILE *p = popen(cmd_line, "r");
    char *help = p ? slurp(p) : NULL;
    int rc = p ? pclose(p) : -1;
    CHECK_MSG(help && rc == 0, "%s --help failed", bin);
    if (!help) return;
    for (int i = 0; i < cmd->n_opts; i++) {
        const cli_option *o = &cmd->opts[i];
        CHECK_MSG(mentions_flag(help, o->name), "%s --help does not mention --%s", cmd->name, o->name);
        if (o->arg) {
            char with_arg[200];
            snprintf(with_arg, sizeof with_arg, "--%s %s", o->name, o->arg);
            CHECK_MSG(strstr(help, with_arg), "%s --help does not show %s", cmd->name, with_arg);
        }
        if (o->def)
            CHECK_MSG(strstr(help, o->def), "%s --help lacks the default of --%s", cmd->name, o->name);
    }
    CHECK_MSG(strstr(help, "Examples:"), "%s --help has no example", cmd->name);
    free(help);
}

/* Both ways between a command's table and its man page and README section. */
static void check_command(const char *bin_dir, const char *src, const char *readme, int c)
{
    const cli_command *cmd = &DNN_COMMANDS[c];
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", bin_dir, cmd->name);
    check_help(path, cmd);
    snprintf(path, sizeof path, "%s/man/%s.1", src, cmd->name);
    char *man = read_text(path);
    char *section = readme_section(readme, cmd->name);
    CHECK_MSG(section, "README.md has no section \"## %s\"", cmd->name);
    if (man) unescape_roff(man);
    for (int i = 0; i < cmd->n_opts; i++) {
        const char *f = cmd->opts[i].name;
        if (man) CHECK_MSG(mentions_flag(man, f), "%s does not document --%s", path, f);
        if (section)
            CHECK_MSG(mentions_flag(section, f), "README.md's section %s does not document --%s", cmd->name,
                      f);
    }
    if (man) check_mentioned_flags(man, path, c);
    free(man);
    free(section);
}

/* ---- config keys ---- */

typedef struct {
    char **v;
    size_t n;
} keys;

static int has_key(const keys *k, const char *s)
{
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->v[i], s) == 0) return 1;
    return 0;
}

static void add_key(keys *k, const char *s)
{
    if (has_key(k, s)) return;
    char **v = realloc(k->v, (k->n + 1) * sizeof *v);
    char *copy = dnn_strdup(s);
    if (!v || !copy) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    k->v = v;
    k->v[k->n++] = copy;
}

/* A written key in the validator's spelling: array indices, ".0" or "[0]", become "[]". */
static void normalise_key(const char *in, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 3 < cap;) {
        if (in[i] == '[') {
            while (i < n && in[i] != ']') i++;
            i++;
            out[k++] = '[', out[k++] = ']';
        } else if (in[i] == '.' && i + 1 < n && isdigit((unsigned char)in[i + 1])) {
            for (i++; i < n && isdigit((unsigned char)in[i]);) i++;
            out[k++] = '[', out[k++] = ']';
        } else
            out[k++] = in[i++];
    }
    out[k] = '\0';
}

/* Add a key written in the README, with "{a,b}" alternatives expanded. */
static void add_written_key(keys *k, const char *s, size_t n)
{
    char norm[256];
    normalise_key(s, n, norm, sizeof norm);
    char *open = strchr(norm, '{'), *close = open ? strchr(open, '}') : NULL;
    if (!close) {
        add_key(k, norm);
        return;
    }
    for (const char *alt = open + 1; alt < close;) {
        size_t len = strcspn(alt, ",}");
        char buf[256];
        snprintf(buf, sizeof buf, "%.*s%.*s%s", (int)(open - norm), norm, (int)len, alt, close + 1);
        add_written_key(k, buf, strlen(buf));
        alt += len + 1;
    }
}

/* The keys one row of the config table names in its first cell, cell[0..n): one in backticks, then maybe
 * more: a full path, or a bare name for a sibling of the first ("`optimizer.beta1`, `beta2`"). Returns how
 * many. */
static int add_row_keys(keys *k, const char *cell, size_t n)
{
    const char *end = cell + n;
    char first[256] = "";
    int named = 0;
    for (const char *q = cell; (q = memchr(q, '`', (size_t)(end - q)));) {
        const char *close = memchr(q + 1, '`', (size_t)(end - q - 1));
        if (!close) break;
        int len = (int)(close - q - 1);
        char key[256];
        if (!named || memchr(q + 1, '.', (size_t)len)) {
            snprintf(key, sizeof key, "%.*s", len, q + 1);
            if (!named) snprintf(first, sizeof first, "%s", key);
        } else {
            const char *dot = strrchr(first, '.');
            snprintf(key, sizeof key, "%.*s%.*s", dot ? (int)(dot - first + 1) : 0, first, len, q + 1);
        }
        add_written_key(k, key, strlen(key));
        named++;
        q = close + 1;
    }
    return named;
}

/* The keys of the README's config table (the table with a "key" column in "## The config file"). */
static keys readme_table_keys(const char *readme)
{
    keys k = {0};
    char *section = readme_section(readme, "The config file");
    CHECK_MSG(section, "README.md has no section \"## The config file\"");
    const char *t = section ? strstr(section, "\n| key |") : NULL;
    CHECK_MSG(t, "README.md's config section has no table with a \"key\" column");
    t = t ? strchr(t + 1, '\n') : NULL; /* past the header row */
    t = t ? strchr(t + 1, '\n') : NULL; /* past the separator row */
    for (; t && t[1] == '|'; t = strchr(t + 1, '\n')) {
        const char *cell = t + 2, *bar = strchr(cell, '|');
        CHECK_MSG(bar && add_row_keys(&k, cell, (size_t)(bar - cell)),
                  "README.md's config table: a row names no key in backticks: %.60s", t + 1);
    }
    free(section);
    return k;
}

/* A key documented by the table: listed, or a parent of listed keys ("data" of "data.train"). */
static int documented(const keys *table, const char *key)
{
    size_t n = strlen(key);
    for (size_t i = 0; i < table->n; i++)
        if (strncmp(table->v[i], key, n) == 0 && strchr(".[", table->v[i][n] ? table->v[i][n] : '.'))
            return 1;
    return 0;
}

static int key_char(char c)
{
    return islower((unsigned char)c) || isdigit((unsigned char)c) || c == '_';
}

/* Every dotted key named in text ("output.save_best", "model.layers[0].units", "--set seed=1" is not
 * dotted) whose first part is a top-level key must be one the validator accepts. */
static void check_named_keys(const char *text, const char *doc, const keys *accepted)
{
    for (size_t t = 0; t < accepted->n; t++) {
        const char *top = accepted->v[t];
        if (strpbrk(top, ".[")) continue;
        size_t len = strlen(top);
        for (const char *s = text; (s = strstr(s, top)); s++) {
            if (s > text && (isalnum((unsigned char)s[-1]) || strchr("_-/.", s[-1]))) continue;
            const char *e = s + len;
            while ((e[0] == '.' && key_char(e[1])) || e[0] == '[') {
                if (e[0] == '[') {
                    const char *c = strchr(e, ']');
                    if (!c || c - e > 8) break;
                    e = c + 1;
                } else
                    for (e++; key_char(*e);) e++;
            }
            if (e == s + len) continue;
            /* an error message's example of a typo ("... did you mean ...") names a key that does not exist
             */
            const char *hint = strstr(e, "did you mean");
            if (hint && hint - e < 200) continue;
            char norm[256];
            normalise_key(s, (size_t)(e - s), norm, sizeof norm);
            /* an element of a key's array is fine too: "--set model.layers.1=null" */
            size_t nl = strlen(norm);
            if (nl > 2 && strcmp(norm + nl - 2, "[]") == 0) norm[nl - 2] = '\0';
            CHECK_MSG(has_key(accepted, norm),
                      "%s names the config key %.*s, which the validator does not accept", doc, (int)(e - s),
                      s);
        }
    }
}

static void check_config_keys(const char *src, const char *readme)
{
    keys accepted = {0};
    dnn_error err = {0};
    if (dnn_config_keys(&accepted.v, &accepted.n, &err)) {
        CHECK_MSG(0, "dnn_config_keys: %s", err.msg);
        return;
    }
    CHECK_MSG(accepted.n > 50 && has_key(&accepted, "training.epochs") &&
                  has_key(&accepted, "model.layers[].units") && has_key(&accepted, "data.test.path"),
              "dnn_config_keys lists %zu keys, without some every config has", accepted.n);
    keys table = readme_table_keys(readme);
    for (size_t i = 0; i < accepted.n; i++)
        CHECK_MSG(documented(&table, accepted.v[i]), "README.md's config table lacks the key %s",
                  accepted.v[i]);
    for (size_t i = 0; i < table.n; i++)
        CHECK_MSG(has_key(&accepted, table.v[i]),
                  "README.md's config table lists %s, which the validator does not accept", table.v[i]);
    check_named_keys(readme, "README.md", &accepted);
    for (int c = 0; c < DNN_N_COMMANDS; c++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/man/%s.1", src, DNN_COMMANDS[c].name);
        char *man = read_text(path);
        if (!man) continue;
        unescape_roff(man);
        check_named_keys(man, path, &accepted);
        free(man);
    }
    dnn_strings_free(accepted.v, accepted.n);
    dnn_strings_free(table.v, table.n);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_cli BIN_DIR SOURCE_DIR\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/README.md", argv[2]);
    char *readme = read_text(path);
    if (!readme) return check_done("test_cli");
    for (int c = 0; c < DNN_N_COMMANDS; c++) check_command(argv[1], argv[2], readme, c);
    check_mentioned_flags(readme, "README.md", -1);
    check_config_keys(argv[2], readme);
    free(readme);
    return check_done("test_cli");
}
