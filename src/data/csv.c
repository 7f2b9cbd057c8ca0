/* CSV reader (RFC 4180): quoted fields with delimiters, quotes and newlines inside, CRLF or LF, a UTF-8
 * byte-order mark, a sniffed delimiter and header. It streams through a fixed buffer and parses numbers
 * without the locale, straight into the data set's matrix: memory is the matrix plus one record. */
#include "dnn/csv.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dnn/util.h"

#define BUF_BYTES        (1u << 16)
#define MAX_RECORD_BYTES (16u << 20) /* one record: far more than any real row, little enough to refuse */
#define MAX_COLUMNS      (1u << 20)
#define MAX_CLASSES      65536

/* ---- numbers ---- */

static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                               1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

int dnn_csv_number(const char *s, size_t n, double *out)
{
    while (n && (*s == ' ' || *s == '\t')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    if (n == 0 || n > 400) return -1;
    const char *p = s, *end = s + n;
    int neg = 0;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    uint64_t mant = 0;
    int digits = 0, dropped = 0, exp10 = 0, any = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++, any = 1) {
        if (digits < 19) {
            mant = mant * 10 + (uint64_t)(*p - '0');
            if (mant) digits++;
        } else
            dropped++;
    }
    if (p < end && *p == '.') {
        for (p++; p < end && *p >= '0' && *p <= '9'; p++, any = 1) {
            if (digits < 19) {
                mant = mant * 10 + (uint64_t)(*p - '0');
                if (mant) digits++;
                exp10--;
            } else
                dropped++; /* digits past the 19th: only the slow path below rounds them right */
        }
    }
    if (!any) return -1;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0, e = 0, edig = 0;
        if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
        for (; p < end && *p >= '0' && *p <= '9'; p++, edig++)
            if (e < 100000) e = e * 10 + (*p - '0');
        if (!edig) return -1;
        exp10 += eneg ? -e : e;
    }
    if (p != end) return -1;
    double v;
    if (!dropped && mant < (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
        /* Clinger's fast path: both operands exact, so the one rounding is the correct one */
        v = exp10 < 0 ? (double)mant / POW10[-exp10] : (double)mant * POW10[exp10];
    } else {
        char tmp[402];
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        v = dnn_strtod_c(tmp, NULL);
        neg = 0; /* strtod read the sign */
    }
    if (neg) v = -v;
    if (!(fabs(v) <= FLT_MAX)) return 1;
    *out = v;
    return 0;
}

/* ---- the reader: a buffer over a stream, and the fields of the current record in one arena ---- */

typedef struct {
    FILE *f;
    const char *name;
    unsigned char *buf;
    size_t len, pos;
    int eof;
    unsigned long long consumed; /* bytes of the stream before buf[0] */
    unsigned long line;          /* line of the next byte */
    char delim;
    char *arena; /* the record's fields, each NUL-terminated */
    size_t alen, acap;
    size_t *start, *flen;
    unsigned char *quoted;
    int nf, fcap;
    unsigned long rec_line; /* line where the current record starts */
    dnn_error *err;
} reader;

static size_t refill(reader *r)
{
    if (r->eof) return r->len - r->pos;
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->consumed += r->pos;
        r->len -= r->pos;
        r->pos = 0;
    }
    size_t got = fread(r->buf + r->len, 1, BUF_BYTES - r->len, r->f);
    r->len += got;
    if (got == 0) r->eof = 1;
    return r->len - r->pos;
}

static int peek(reader *r)
{
    if (r->pos == r->len && refill(r) == 0) return EOF;
    return r->buf[r->pos];
}

static dnn_status rfail(reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static dnn_status rfail(reader *r, const char *fmt, ...)
{
    char what[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return dnn_fail(r->err, DNN_EDATA, "%s:%lu: %s", r->name, r->rec_line, what);
}

static int arena_put(reader *r, const void *p, size_t n)
{
    if (r->alen + n + 1 > r->acap) {
        if (r->alen + n + 1 > MAX_RECORD_BYTES) return -1;
        size_t cap = r->acap ? r->acap : 4096;
        while (cap < r->alen + n + 1) cap *= 2;
        char *a = realloc(r->arena, cap);
        if (!a) return -2;
        r->arena = a, r->acap = cap;
    }
    memcpy(r->arena + r->alen, p, n);
    r->alen += n;
    return 0;
}

static dnn_status put_or_fail(reader *r, const void *p, size_t n)
{
    int rc = arena_put(r, p, n);
    if (rc == -1) return rfail(r, "a record longer than %u MiB: is this a CSV file?", MAX_RECORD_BYTES >> 20);
    if (rc == -2) return dnn_fail_oom(r->err, r->name, r->alen + n);
    return DNN_OK;
}

static dnn_status end_field(reader *r, size_t start, int quoted)
{
    if (r->nf == r->fcap) {
        if ((unsigned)r->nf >= MAX_COLUMNS) return rfail(r, "more than %u fields in a record", MAX_COLUMNS);
        int cap = r->fcap ? r->fcap * 2 : 64;
        size_t *s = realloc(r->start, (size_t)cap * sizeof *s);
        if (s) r->start = s;
        size_t *l = realloc(r->flen, (size_t)cap * sizeof *l);
        if (l) r->flen = l;
        unsigned char *q = realloc(r->quoted, (size_t)cap);
        if (q) r->quoted = q;
        if (!s || !l || !q) return dnn_fail_oom(r->err, r->name, (size_t)cap * 17);
        r->fcap = cap;
    }
    r->start[r->nf] = start;
    r->flen[r->nf] = r->alen - start;
    r->quoted[r->nf] = (unsigned char)quoted;
    r->nf++;
    char zero = '\0';
    return put_or_fail(r, &zero, 1);
}

static dnn_status nul_byte(reader *r)
{
    return rfail(r, "a NUL byte at byte offset %llu: this is not a text file", r->consumed + r->pos);
}

/* Read the next record's fields. *got is 0 at the end of the input. Blank lines are skipped. */
static dnn_status next_record(reader *r, int *got)
{
    *got = 0;
    for (;;) {
        r->nf = 0;
        r->alen = 0;
        r->rec_line = r->line;
        if (peek(r) == EOF) return DNN_OK;
        for (;;) {
            size_t start = r->alen;
            int quoted = peek(r) == '"';
            dnn_status st;
            if (quoted) {
                unsigned long opened = r->line;
                r->pos++;
                for (;;) {
                    if (r->pos == r->len && refill(r) == 0) {
                        r->rec_line = opened;
                        return rfail(r, "a quoted field is never closed (its quote opens on this line)");
                    }
                    const unsigned char *b = r->buf + r->pos, *e = r->buf + r->len, *q = b;
                    while (q < e && *q != '"' && *q != '\n' && *q != '\0') q++;
                    if ((st = put_or_fail(r, b, (size_t)(q - b)))) return st;
                    r->pos += (size_t)(q - b);
                    if (q == e) continue;
                    if (*q == '\0') return nul_byte(r);
                    if (*q == '\n') {
                        r->line++;
                        r->pos++;
                        if ((st = put_or_fail(r, "\n", 1))) return st;
                        continue;
                    }
                    r->pos++; /* a quote: doubled means one quote, else the field ends */
                    if (peek(r) == '"') {
                        r->pos++;
                        if ((st = put_or_fail(r, "\"", 1))) return st;
                        continue;
                    }
                    break;
                }
                int c = peek(r);
                if (c != EOF && c != r->delim && c != '\n' && c != '\r')
                    return rfail(r,
                                 "field %d: text after the closing quote (expected the delimiter or the end "
                                 "of the line)",
                                 r->nf + 1);
            } else {
                for (;;) {
                    if (r->pos == r->len && refill(r) == 0) break;
                    const unsigned char *b = r->buf + r->pos, *e = r->buf + r->len, *q = b;
                    const unsigned char d = (unsigned char)r->delim;
                    while (q < e && *q != d && *q != '\n' && *q != '\r' && *q != '\0') q++;
                    if ((st = put_or_fail(r, b, (size_t)(q - b)))) return st;
                    r->pos += (size_t)(q - b);
                    if (q < e) {
                        if (*q == '\0') return nul_byte(r);
                        break;
                    }
                }
            }
            if ((st = end_field(r, start, quoted))) return st;
            int c = peek(r);
            if (c == r->delim) {
                r->pos++;
                continue;
            }
            if (c == '\r') {
                r->pos++;
                if (peek(r) == '\n') r->pos++;
                r->line++;
            } else if (c == '\n') {
                r->pos++;
                r->line++;
            }
            break;
        }
        if (r->nf == 1 && r->flen[0] == 0 && !r->quoted[0]) continue; /* a blank line */
        *got = 1;
        return DNN_OK;
    }
}

static const char *field(const reader *r, int i)
{
    return r->arena + r->start[i];
}

/* ---- sniffing ---- */

/* Fields per line of the first complete lines of text for one delimiter (quotes respected). */
static int count_fields(const char *t, size_t n, char d, int *counts, int max_lines)
{
    int lines = 0, fields = 1, inq = 0;
    for (size_t i = 0; i < n && lines < max_lines; i++) {
        char c = t[i];
        if (c == '"')
            inq = !inq;
        else if (!inq && c == d)
            fields++;
        else if (!inq && c == '\n') {
            if (!(fields == 1 && i > 0 &&
                  (t[i - 1] == '\n' || (t[i - 1] == '\r' && i > 1 && t[i - 2] == '\n'))))
                counts[lines++] = fields;
            fields = 1;
        }
    }
    return lines;
}

char dnn_csv_sniff(const char *text, size_t n)
{
    static const char cands[] = {',', ';', '\t', '|'};
    char best = ',';
    int best_fields = 1, best_consistent = 0;
    for (int c = 0; c < 4; c++) {
        int counts[20];
        int lines = count_fields(text, n, cands[c], counts, 20);
        if (lines == 0) {
            /* one line without a newline: count its fields */
            int f = 1, inq = 0;
            for (size_t i = 0; i < n; i++) {
                if (text[i] == '"')
                    inq = !inq;
                else if (!inq && text[i] == cands[c])
                    f++;
            }
            counts[0] = f;
            lines = 1;
        }
        int consistent = 1;
        for (int i = 1; i < lines; i++) consistent &= counts[i] == counts[0];
        if (counts[0] < 2) continue;
        /* a delimiter that splits every line alike beats one that does not, then more fields win */
        if ((consistent && !best_consistent) || (consistent == best_consistent && counts[0] > best_fields)) {
            best = cands[c];
            best_fields = counts[0];
            best_consistent = consistent;
        }
    }
    return best;
}

/* ---- missing values ---- */

static const char *const DEFAULT_MISSING[] = {"", "NA", "N/A", "NaN", "null", "?"};

static int is_missing(const dnn_source_config *src, const char *s, size_t n)
{
    if (src->missing_values) {
        for (int i = 0; i < src->n_missing_values; i++)
            if (strlen(src->missing_values[i]) == n && memcmp(src->missing_values[i], s, n) == 0) return 1;
        return 0;
    }
    while (n && s[0] == ' ') s++, n--;
    while (n && s[n - 1] == ' ') n--;
    for (size_t i = 0; i < sizeof DEFAULT_MISSING / sizeof *DEFAULT_MISSING; i++)
        if (strlen(DEFAULT_MISSING[i]) == n && strncasecmp(DEFAULT_MISSING[i], s, n) == 0) return 1;
    return 0;
}

/* ---- sniffing a header ---- */

typedef enum { F_MISSING, F_INT, F_FLOAT, F_TEXT } ftype;

typedef struct {
    const char *s;
    size_t n;
} span;

static ftype classify(const dnn_source_config *src, const char *s, size_t n)
{
    double v;
    if (is_missing(src, s, n)) return F_MISSING;
    if (dnn_csv_number(s, n, &v) != 0) return F_TEXT;
    while (n && (*s == ' ' || *s == '+' || *s == '-')) s++, n--;
    while (n && s[n - 1] == ' ') n--;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return F_FLOAT;
    return F_INT;
}

/* Split the first complete lines of text into fields (outer quotes and spaces stripped: enough to type and
 * compare them). Fields go to f (at most cap), each line's count to nf; returns the number of lines. */
static int sample_lines(const char *t, size_t n, int complete, char d, span *f, size_t cap, int *nf,
                        int max_lines)
{
    int lines = 0;
    size_t k = 0, i = 0;
    while (i < n && lines < max_lines) {
        size_t line_k = k;
        int count = 0, ended = 0;
        while (i <= n) {
            size_t a = i;
            int inq = 0;
            while (i < n && (inq || (t[i] != d && t[i] != '\n'))) inq ^= t[i++] == '"';
            size_t b = i;
            if (b > a && t[b - 1] == '\r' && (i == n || t[i] == '\n')) b--;
            while (a < b && t[a] == ' ') a++;
            while (b > a && t[b - 1] == ' ') b--;
            if (b - a >= 2 && t[a] == '"' && t[b - 1] == '"') a++, b--;
            if (k < cap) f[k++] = (span){t + a, b - a};
            count++;
            if (i < n && t[i] == d) {
                i++;
                continue;
            }
            ended = i < n; /* a newline; else the text ran out mid-line */
            i++;
            break;
        }
        if (!ended && !complete) {
            k = line_k; /* a line cut by the end of the sample */
            break;
        }
        if (count == 1 && f[line_k].n == 0) { /* a blank line */
            k = line_k;
            continue;
        }
        nf[lines++] = count;
        if (k >= cap) break;
    }
    return lines;
}

/* Whether the first row's numeric fields, at least 3, are consecutive integers in column order: column numbers
 * (0, 1, 2, ... as pandas writes an unnamed frame's header) or years, rarely a row of data. */
static int column_numbers(const dnn_source_config *src, const span *first, int ncol)
{
    double base = 0;
    int numbers = 0;
    for (int c = 0; c < ncol; c++) {
        ftype t = classify(src, first[c].s, first[c].n);
        if (t == F_FLOAT) return 0;
        if (t != F_INT) continue;
        double v;
        dnn_csv_number(first[c].s, first[c].n, &v);
        if (numbers++ == 0) base = v - c;
        if (v != c + base) return 0;
    }
    return numbers >= 3;
}

/* One column's vote: +1 when its first field looks like a name over the values below it, -1 when it looks
 * like one of them, 0 when it cannot tell. */
static int column_vote(const dnn_source_config *src, const span *f, const int *nf, int lines, int c)
{
    ftype first = classify(src, f[c].s, f[c].n), below = F_MISSING;
    if (first == F_MISSING) return 0;
    size_t at = (size_t)nf[0];
    int values = 0, repeats = 0, seen = 0;
    for (int l = 1; l < lines; at += (size_t)nf[l], l++) {
        if (nf[l] != nf[0]) continue;
        const span *v = &f[at + (size_t)c];
        ftype t = classify(src, v->s, v->n);
        if (t == F_MISSING) continue;
        below = t > below ? t : below; /* text over float over int */
        values++;
        seen |= v->n == f[c].n && memcmp(v->s, f[c].s, v->n) == 0;
        for (int m = 1, a2 = nf[0]; m < l && !repeats; a2 += nf[m], m++)
            repeats |= nf[m] == nf[0] && f[a2 + c].n == v->n && memcmp(f[a2 + c].s, v->s, v->n) == 0;
    }
    if (!values) return 0;
    if (first == F_TEXT && below != F_TEXT) return 1;        /* a name over numbers */
    if (first != F_TEXT && below == F_TEXT) return 1;        /* a number over text: a numbered column */
    if (first == F_TEXT) return seen ? -1 : repeats ? 1 : 0; /* over repeating levels it never takes */
    return first == below ? -1 : 0; /* an integer over fractions says nothing: "10" among "9.5" is data */
}

int dnn_csv_sniff_header(const char *text, size_t n, int complete, char delim, const dnn_source_config *src,
                         char *why, size_t whyn)
{
    enum { MAX_LINES = 65, MAX_FIELDS = 1 << 18 };
    span *f = malloc(MAX_FIELDS * sizeof *f);
    int nf[MAX_LINES];
    int lines = f ? sample_lines(text, n, complete, delim, f, MAX_FIELDS, nf, MAX_LINES) : 0;
    int header = 0, votes = 0, numeric = 0;
    if (lines > 0) {
        int ncol = nf[0] < MAX_FIELDS ? nf[0] : MAX_FIELDS;
        for (int c = 0; c < ncol; c++)
            numeric += classify(src, f[c].s, f[c].n) == F_INT || classify(src, f[c].s, f[c].n) == F_FLOAT;
        if (column_numbers(src, f, ncol)) {
            header = 1;
            snprintf(why, whyn, "its numbers are column numbers");
        } else {
            for (int c = 0; c < ncol; c++) votes += column_vote(src, f, nf, lines, c);
            header = votes > 0 || (votes == 0 && numeric == 0);
            snprintf(why, whyn, "%d of %d columns look %s the %d rows below%s", votes < 0 ? -votes : votes,
                     ncol, votes > 0 ? "like names over" : "like", lines - 1,
                     votes == 0 ? (numeric ? "; it has numbers" : "; it has no numbers") : "");
        }
    } else {
        snprintf(why, whyn, "nothing to compare it with");
    }
    free(f);
    return header;
}

/* ---- label interning: an open-addressing hash of the distinct label strings ---- */

typedef struct {
    char **names;
    int n, cap;
    int32_t *slots; /* index into names + 1; 0 is empty */
    size_t nslots;
} interner;

static uint64_t hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* The id of s (adding it when new and add is set); -1 when absent, -2 out of memory. */
static int intern(interner *t, const char *s, size_t n, int add)
{
    if (t->nslots == 0 || (size_t)(t->n + 1) * 2 > t->nslots) {
        if (!add && t->nslots) goto lookup;
        size_t ns = t->nslots ? t->nslots * 2 : 64;
        int32_t *sl = calloc(ns, sizeof *sl);
        if (!sl) return -2;
        for (int i = 0; i < t->n; i++) {
            size_t k = hash(t->names[i], strlen(t->names[i])) & (ns - 1);
            while (sl[k]) k = (k + 1) & (ns - 1);
            sl[k] = i + 1;
        }
        free(t->slots);
        t->slots = sl;
        t->nslots = ns;
    }
lookup:;
    size_t k = hash(s, n) & (t->nslots - 1);
    while (t->slots[k]) {
        const char *name = t->names[t->slots[k] - 1];
        if (strlen(name) == n && memcmp(name, s, n) == 0) return t->slots[k] - 1;
        k = (k + 1) & (t->nslots - 1);
    }
    if (!add) return -1;
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 16;
        char **nn = realloc(t->names, (size_t)cap * sizeof *nn);
        if (!nn) return -2;
        t->names = nn, t->cap = cap;
    }
    char *copy = malloc(n + 1);
    if (!copy) return -2;
    memcpy(copy, s, n);
    copy[n] = '\0';
    t->names[t->n] = copy;
    t->slots[k] = t->n + 1;
    return t->n++;
}

static void interner_free(interner *t, int keep_names)
{
    if (!keep_names) {
        for (int i = 0; i < t->n; i++) free(t->names[i]);
        free(t->names);
    }
    free(t->slots);
}

/* ---- column roles ---- */

/* UNNAMED: a column without a name in the header (or, without a header, an always-empty last column left by
 * a trailing delimiter): never read; in training, a value in it is an error rather than a silent feature. */
enum { ROLE_IGNORE = 0, ROLE_FEATURE, ROLE_LABEL, ROLE_UNNAMED };

typedef struct {
    int ncol;
    int *role; /* per column */
    int *slot; /* per column: its feature or target index */
    int d, k;  /* features, label columns */
    int *feat_col, *label_col;
    int labelled;
    int strict_unnamed; /* training: a value in an unnamed column is an error */
} layout;

static void layout_free(layout *L)
{
    free(L->role);
    free(L->slot);
    free(L->feat_col);
    free(L->label_col);
}

static const char *colname(const reader *hdr_r, int has_header, int c, char *buf, size_t n)
{
    if (has_header && hdr_r->flen[c]) return field(hdr_r, c);
    snprintf(buf, n, "%d", c);
    return buf;
}

/* A column reference's index, or -1 (with an error) when there is no such column. */
static int resolve(const dnn_colref *ref, const reader *hdr, int has_header, int ncol, const char *what,
                   dnn_error *err, const char *file)
{
    if (ref->name) {
        if (has_header)
            for (int c = 0; c < ncol; c++)
                if (strcmp(field(hdr, c), ref->name) == 0) return c;
        if (!has_header) {
            dnn_fail(err, DNN_EDATA, "%s: %s \"%s\" names a column, but the file has no header line", file,
                     what, ref->name);
            return -1;
        }
        char list[400] = "";
        size_t k = 0;
        for (int c = 0; c < ncol && k < sizeof list - 40; c++)
            k += (size_t)snprintf(list + k, sizeof list - k, "%s\"%s\"", c ? ", " : "", field(hdr, c));
        const char *names[64] = {0};
        int nn = ncol < 64 ? ncol : 64;
        for (int c = 0; c < nn; c++) names[c] = field(hdr, c);
        const char *near = dnn_nearest(ref->name, names, (size_t)nn);
        dnn_fail(err, DNN_EDATA, "%s:1: %s: no column \"%s\"%s%s%s (the columns are %s%s)", file, what,
                 ref->name, near ? " (did you mean \"" : "", near ? near : "", near ? "\"?)" : "", list,
                 k >= sizeof list - 40 ? ", ..." : "");
        return -1;
    }
    long i = ref->index < 0 ? ncol + ref->index : ref->index;
    if (i < 0 || i >= ncol) {
        dnn_fail(err, DNN_EDATA, "%s: %s: no column %ld (the file has %d columns, numbered from 0)", file,
                 what, ref->index, ncol);
        return -1;
    }
    return (int)i;
}

static int take(layout *L, int c, int role, int slot)
{
    L->role[c] = role;
    L->slot[c] = slot;
    if (role == ROLE_FEATURE) L->feat_col[slot] = c;
    if (role == ROLE_LABEL) L->label_col[slot] = c;
    return c;
}

/* The label columns: the given references, or the last named column. */
static dnn_status plan_labels(layout *L, const dnn_source_config *src, const reader *hdr, int has_header,
                              dnn_error *err)
{
    const char *file = hdr->name;
    if (!src->n_label) {
        int c = L->ncol - 1;
        while (c > 0 && L->role[c] == ROLE_UNNAMED) c--;
        take(L, c, ROLE_LABEL, 0);
        L->k = 1;
    }
    for (int i = 0; i < src->n_label; i++) {
        int c = resolve(&src->label[i], hdr, has_header, L->ncol, "label", err, file);
        if (c < 0) return err->code;
        if (L->role[c] == ROLE_LABEL)
            return dnn_fail(err, DNN_ECONFIG, "%s: column %d is named twice as a label", file, c);
        if (L->role[c] == ROLE_UNNAMED)
            return dnn_fail(err, DNN_EDATA, "%s: label column %d has no name in the header", file, c);
        take(L, c, ROLE_LABEL, L->k++);
    }
    L->labelled = 1;
    return DNN_OK;
}

/* Training: the features the config lists, else every column but the labels, the ignored and the unnamed. */
static dnn_status plan_features(layout *L, const dnn_source_config *src, const reader *hdr, int has_header,
                                dnn_error *err)
{
    const char *file = hdr->name;
    char b[32];
    for (int i = 0; i < src->n_features; i++) {
        int c = resolve(&src->features[i], hdr, has_header, L->ncol, "features", err, file);
        if (c < 0) return err->code;
        if (L->role[c] == ROLE_UNNAMED)
            return dnn_fail(err, DNN_EDATA, "%s: feature column %d has no name in the header: name it", file,
                            c);
        if (L->role[c] != ROLE_IGNORE)
            return dnn_fail(err, DNN_ECONFIG, "%s: column \"%s\" is both a feature and %s", file,
                            colname(hdr, has_header, c, b, sizeof b),
                            L->role[c] == ROLE_LABEL ? "the label" : "listed twice");
        take(L, c, ROLE_FEATURE, L->d++);
    }
    if (src->n_features) return DNN_OK;
    int *ignored = calloc((size_t)L->ncol, sizeof(int));
    if (!ignored) return dnn_fail_oom(err, file, (size_t)L->ncol * sizeof(int));
    for (int i = 0; i < src->n_ignore; i++) {
        int c = resolve(&src->ignore[i], hdr, has_header, L->ncol, "ignore", err, file);
        if (c >= 0 && L->role[c] == ROLE_LABEL)
            dnn_fail(err, DNN_ECONFIG, "%s: column \"%s\" is both ignored and the label", file,
                     colname(hdr, has_header, c, b, sizeof b));
        if (c < 0 || L->role[c] == ROLE_LABEL) {
            free(ignored);
            return err->code;
        }
        ignored[c] = 1;
        if (L->role[c] == ROLE_UNNAMED) L->role[c] = ROLE_IGNORE; /* listed: the user knows what it holds */
    }
    for (int c = 0; c < L->ncol; c++)
        if (L->role[c] == ROLE_IGNORE && !ignored[c]) take(L, c, ROLE_FEATURE, L->d++);
    free(ignored);
    return DNN_OK;
}

/* Reading for a model, from a file with a header: its features by name, in the model's order, and its
 * targets by the names they had in training (or the source's "label"); without them, prediction only. */
static dnn_status plan_by_name(layout *L, const dnn_source_config *src, const dnn_schema *sc,
                               const reader *hdr, dnn_error *err)
{
    const char *file = hdr->name;
    for (int j = 0; j < sc->n_features; j++) {
        int c;
        for (c = 0; c < L->ncol; c++)
            if (strcmp(field(hdr, c), sc->feature_names[j]) == 0) break;
        if (c == L->ncol)
            return dnn_fail(err, DNN_EDATA, "%s:1: no column \"%s\", a feature the model was trained on",
                            file, sc->feature_names[j]);
        take(L, c, ROLE_FEATURE, j);
    }
    L->d = sc->n_features;
    int nlabels = sc->label_names ? sc->n_label_names : src->n_label ? src->n_label : 1;
    char missing[sizeof err->msg] = "";
    for (int i = 0; i < nlabels && !missing[0]; i++) {
        int c = -1;
        dnn_error e2 = {0};
        if (sc->label_names) {
            for (c = L->ncol - 1; c >= 0 && strcmp(field(hdr, c), sc->label_names[i]) != 0; c--) continue;
            if (c < 0 && src->n_label == nlabels) /* a test set whose config names its labels otherwise */
                c = resolve(&src->label[i], hdr, 1, L->ncol, "label", &e2, file);
            if (c < 0) snprintf(e2.msg, sizeof e2.msg, "%s:1: no column \"%s\"", file, sc->label_names[i]);
        } else {
            dnn_colref last = {NULL, -1};
            c = resolve(src->n_label ? &src->label[i] : &last, hdr, 1, L->ncol, "label", &e2, file);
        }
        if (c >= 0 && L->role[c] == ROLE_FEATURE)
            snprintf(e2.msg, sizeof e2.msg, "%s: the label column \"%s\" is one of the model's features",
                     file, field(hdr, c));
        if (c >= 0 && L->role[c] != ROLE_FEATURE)
            take(L, c, ROLE_LABEL, i);
        else
            snprintf(missing, sizeof missing, "%s", e2.msg);
    }
    if (!missing[0]) {
        L->k = nlabels;
        L->labelled = 1;
        return DNN_OK;
    }
    if (!sc->labels_optional)
        return dnn_fail(err, DNN_EDATA, "%s (the model's target column): the data has no labels", missing);
    for (int c = 0; c < L->ncol; c++)
        if (L->role[c] == ROLE_LABEL) L->role[c] = ROLE_IGNORE;
    L->k = 0;
    L->labelled = 0;
    return DNN_OK;
}

/* Reading for a model, by position: the label columns and every other column as a feature, in order,
 * when the count fits; only the features (prediction); or else the training config's layout. */
static dnn_status plan_by_position(layout *L, const dnn_source_config *src, const dnn_schema *sc,
                                   const reader *hdr, int has_header, int named, dnn_error *err)
{
    int nlabels = src->n_label ? src->n_label : 1;
    if (named == sc->n_features && sc->labels_optional) {
        for (int c = 0; c < L->ncol; c++)
            if (L->role[c] != ROLE_UNNAMED) take(L, c, ROLE_FEATURE, L->d++);
        return DNN_OK;
    }
    dnn_status st = plan_labels(L, src, hdr, has_header, err);
    if (st) return st;
    if (named == sc->n_features + nlabels) {
        for (int c = 0; c < L->ncol; c++)
            if (L->role[c] == ROLE_IGNORE) take(L, c, ROLE_FEATURE, L->d++);
    } else {
        st = plan_features(L, src, hdr, has_header, err);
    }
    if (!st && L->d != sc->n_features)
        st = dnn_fail(err, DNN_EDATA, "%s: %d feature columns, but the model takes %d", hdr->name, L->d,
                      sc->n_features);
    return st;
}

/* Decide each column's role. unnamed[c] marks the columns without a name (see ROLE_UNNAMED). */
static dnn_status plan(layout *L, const dnn_source_config *src, const dnn_schema *sc, const reader *hdr,
                       int has_header, int ncol, const unsigned char *unnamed, dnn_error *err)
{
    const char *file = hdr->name;
    memset(L, 0, sizeof *L);
    L->ncol = ncol;
    L->role = calloc((size_t)ncol, sizeof(int));
    L->slot = calloc((size_t)ncol, sizeof(int));
    L->feat_col = calloc((size_t)ncol, sizeof(int));
    L->label_col = calloc((size_t)ncol, sizeof(int));
    if (!L->role || !L->slot || !L->feat_col || !L->label_col)
        return dnn_fail_oom(err, file, (size_t)ncol * 16);
    int named = 0;
    for (int c = 0; c < ncol; c++) {
        if (unnamed[c]) L->role[c] = ROLE_UNNAMED;
        named += !unnamed[c];
    }
    if (sc && has_header && sc->feature_names) return plan_by_name(L, src, sc, hdr, err);
    if (sc) return plan_by_position(L, src, sc, hdr, has_header, named, err);
    L->strict_unnamed = 1;
    dnn_status st = plan_labels(L, src, hdr, has_header, err);
    if (!st) st = plan_features(L, src, hdr, has_header, err);
    if (!st && L->d == 0)
        st = dnn_fail(err, DNN_EDATA, "%s: no feature columns left (%d columns in all)", file, ncol);
    return st;
}

/* A header's names must tell the columns apart: two columns of one name would be read as one by name. */
static dnn_status unique_names(const reader *hdr, dnn_error *err)
{
    interner seen = {0};
    int *first = malloc((size_t)hdr->nf * sizeof(int));
    dnn_status st = first ? DNN_OK : dnn_fail_oom(err, hdr->name, (size_t)hdr->nf * sizeof(int));
    for (int c = 0; !st && c < hdr->nf; c++) {
        if (hdr->flen[c] == 0) continue;
        int before = seen.n, id = intern(&seen, field(hdr, c), hdr->flen[c], 1);
        if (id < 0)
            st = dnn_fail_oom(err, hdr->name, hdr->flen[c]);
        else if (id < before)
            st = dnn_fail(
                err, DNN_EDATA,
                "%s:1: duplicate column name \"%s\" (columns %d and %d, numbered from 0): every column "
                "needs a name of its own",
                hdr->name, field(hdr, c), first[id], c);
        else
            first[id] = c;
    }
    free(first);
    interner_free(&seen, 0);
    return st;
}

/* Whether every sampled line ends in an empty field after a delimiter (a trailing delimiter, as Excel
 * writes): then the last column is no column. */
static int trailing_delimiter(const char *text, size_t n, int complete, char delim)
{
    enum { LINES = 65, FIELDS = 1 << 16 };
    span *f = malloc(FIELDS * sizeof *f);
    int nf[LINES], lines = f ? sample_lines(text, n, complete, delim, f, FIELDS, nf, LINES) : 0;
    int empty = lines > 0 && nf[0] >= 2;
    size_t at = 0;
    for (int l = 0; l < lines && empty; at += (size_t)nf[l], l++)
        empty = nf[l] == nf[0] && at + (size_t)nf[l] <= FIELDS && f[at + (size_t)nf[l] - 1].n == 0;
    free(f);
    return empty;
}

/* Columns without a name: empty header names, or without a header a trailing delimiter's empty column. */
static unsigned char *find_unnamed(const reader *hdr, int has_header, int trailing)
{
    const int ncol = hdr->nf;
    unsigned char *u = calloc((size_t)ncol, 1);
    if (!u) return NULL;
    for (int c = 0; c < ncol; c++) u[c] = has_header && hdr->flen[c] == 0;
    if (!has_header && trailing && hdr->flen[ncol - 1] == 0) u[ncol - 1] = 1;
    return u;
}

/* ---- loading ---- */

/* Training reads no unnamed column: a value in one is refused rather than silently left out. */
static dnn_status check_unnamed(reader *r, const layout *L, const dnn_source_config *src, int has_header)
{
    for (int c = 0; c < L->ncol; c++) {
        if (L->role[c] != ROLE_UNNAMED || is_missing(src, field(r, c), r->flen[c])) continue;
        int n = r->flen[c] < 40 ? (int)r->flen[c] : 40;
        if (has_header)
            return rfail(r,
                         "column %d has no name in the header but holds \"%.*s\": name it, or list it in "
                         "\"ignore\" (pandas writes its row index so unless to_csv(index=False))",
                         c, n, field(r, c));
        return rfail(r,
                     "column %d is empty on the first lines (a delimiter at the end of every line) but holds "
                     "\"%.*s\" here",
                     c, n, field(r, c));
    }
    return DNN_OK;
}

/* "column \"x\": expected a number, got \"3,14\"", with a hint when the field looks like a decimal comma. */
static dnn_status not_a_number(reader *r, const char *what, const char *col, int rc, const char *s, size_t n)
{
    size_t digits = 0, commas = 0;
    for (size_t i = 0; i < n; i++) digits += s[i] >= '0' && s[i] <= '9', commas += s[i] == ',';
    int decimal_comma = rc < 0 && commas == 1 && digits + 1 + (s[0] == '-') == n;
    return rfail(r, "%s \"%s\": %s \"%.*s%s\"%s", what, col,
                 rc > 0 ? "a number too large for a float:" : "expected a number, got",
                 (int)(n < 40 ? n : 40), s, n > 40 ? "..." : "",
                 decimal_comma
                     ? " (a decimal comma? dnn reads numbers with a decimal point: convert the file, "
                       "for example with sed 's/\\([0-9]\\),\\([0-9]\\)/\\1.\\2/g')"
                     : "");
}

typedef struct {
    float *x, *t;
    int32_t *y;
    uint32_t *lines, *index;
    size_t n, cap;
} rows;

static int rows_grow(rows *R, size_t d, size_t k, int cls)
{
    size_t cap = R->cap ? R->cap * 2 : 1024, nx, nt;
    if (dnn_mul_size(cap, d ? d : 1, &nx) || dnn_mul_size(cap, k ? k : 1, &nt) ||
        nx > SIZE_MAX / sizeof(float))
        return -1;
    float *x = realloc(R->x, nx * sizeof(float));
    if (x) R->x = x;
    uint32_t *l = realloc(R->lines, cap * sizeof(uint32_t));
    if (l) R->lines = l;
    uint32_t *ix = realloc(R->index, cap * sizeof(uint32_t));
    if (ix) R->index = ix;
    int ok = x && l && ix;
    if (cls) {
        int32_t *y = realloc(R->y, cap * sizeof(int32_t));
        if (y) R->y = y;
        ok &= y != NULL;
    } else if (k) {
        float *t = realloc(R->t, nt * sizeof(float));
        if (t) R->t = t;
        ok &= t != NULL;
    }
    if (!ok) return -1;
    R->cap = cap;
    return 0;
}

/* Sort class names: numerically when every name is a number, else bytewise. */
typedef struct {
    char **names;
    int numeric;
} name_order;

static int by_name(const void *a, const void *b, void *ctx)
{
    const name_order *o = ctx;
    const char *x = o->names[*(const int *)a], *y = o->names[*(const int *)b];
    if (o->numeric) {
        double u, v;
        dnn_csv_number(x, strlen(x), &u);
        dnn_csv_number(y, strlen(y), &v);
        if (u != v) return u < v ? -1 : 1;
    }
    return strcmp(x, y);
}

dnn_status dnn_csv_load(dnn_dataset *ds, const dnn_source_config *src, dnn_task task, const dnn_schema *sc,
                        dnn_error *err)
{
    const int from_stdin = strcmp(src->path, "-") == 0;
    const char *name = from_stdin ? "<stdin>" : src->path;
    reader r = {.name = name, .line = 1, .err = err};
    interner classes = {0};
    layout L = {0};
    rows R = {0};
    reader hdr = {0};
    dnn_status st = DNN_OK;
    const int cls = task == DNN_TASK_CLASSIFICATION;
    size_t *miss = NULL;
    unsigned char *unnamed = NULL;
    memset(ds, 0, sizeof *ds);

    r.f = from_stdin ? stdin : fopen(src->path, "rb");
    if (!r.f) return dnn_fail(err, DNN_EIO, "%s: cannot open: %s", name, strerror(errno));
    r.buf = malloc(BUF_BYTES);
    if (!r.buf) {
        st = dnn_fail_oom(err, name, BUF_BYTES);
        goto done;
    }
    refill(&r);
    if (ferror(r.f)) {
        st = dnn_fail(err, DNN_EIO, "%s: read error: %s", name, strerror(errno));
        goto done;
    }
    if (r.len >= 2 && r.buf[0] == 0x1f && r.buf[1] == 0x8b) {
        st = dnn_fail(err, DNN_EDATA,
                      "%s: gzip-compressed CSV is not supported yet: decompress it first (gzip -dk %s)", name,
                      name);
        goto done;
    }
    if (r.len >= 3 && memcmp(r.buf, "\xEF\xBB\xBF", 3) == 0) r.pos = 3; /* UTF-8 byte-order mark */
    if (r.len - r.pos == 0) {
        st = dnn_fail(err, DNN_EDATA, "%s: the file is empty (expected CSV rows)", name);
        goto done;
    }
    r.delim = src->delimiter ? src->delimiter : dnn_csv_sniff((const char *)r.buf + r.pos, r.len - r.pos);

    /* What the first 64 KiB tell before a record is read: whether the first row is a header, whether every
     * line ends in a delimiter. */
    const char *sample = (const char *)r.buf + r.pos;
    const size_t sample_n = r.len - r.pos;
    int has_header = src->header;
    if (has_header < 0) {
        char why[160];
        has_header = dnn_csv_sniff_header(sample, sample_n, r.eof, r.delim, src, why, sizeof why);
        snprintf(ds->header_note, sizeof ds->header_note, "the first row is %s: %s",
                 has_header ? "a header" : "data", why);
    }
    const int trailing = trailing_delimiter(sample, sample_n, r.eof, r.delim);

    int got;
    if ((st = next_record(&r, &got))) goto done;
    if (!got) {
        st = dnn_fail(err, DNN_EDATA, "%s: no rows, only blank lines", name);
        goto done;
    }
    const int ncol = r.nf;
    /* keep the first record: as names, or to read as data after planning */
    hdr = r;
    hdr.arena = malloc(r.alen + 1);
    hdr.start = malloc((size_t)r.nf * sizeof(size_t));
    hdr.flen = malloc((size_t)r.nf * sizeof(size_t));
    hdr.quoted = malloc((size_t)r.nf);
    if (!hdr.arena || !hdr.start || !hdr.flen || !hdr.quoted) {
        st = dnn_fail_oom(err, name, r.alen);
        goto done;
    }
    memcpy(hdr.arena, r.arena, r.alen);
    memcpy(hdr.start, r.start, (size_t)r.nf * sizeof(size_t));
    memcpy(hdr.flen, r.flen, (size_t)r.nf * sizeof(size_t));
    memcpy(hdr.quoted, r.quoted, (size_t)r.nf);
    if (has_header && (st = unique_names(&hdr, err))) goto done;
    if (!(unnamed = find_unnamed(&hdr, has_header, trailing))) {
        st = dnn_fail_oom(err, name, (size_t)ncol);
        goto done;
    }
    if ((st = plan(&L, src, sc, &hdr, has_header, ncol, unnamed, err))) goto done;
    if (!L.labelled && has_header && sc && sc->label_names)
        snprintf(ds->label_note, sizeof ds->label_note,
                 "%s: no column \"%s\" (the model's target): scoring in predict-only mode, without metrics",
                 name, sc->label_names[0]);
    if (cls && L.labelled && L.k != 1) {
        st = dnn_fail(err, DNN_ECONFIG, "%s: a classification takes one label column, %d are given", name,
                      L.k);
        goto done;
    }
    if (sc && !cls && L.labelled && L.k != sc->n_targets) {
        st = dnn_fail(err, DNN_EDATA, "%s: %d target columns, but the model predicts %d", name, L.k,
                      sc->n_targets);
        goto done;
    }
    miss = calloc((size_t)L.d, sizeof(size_t));
    if (!miss) {
        st = dnn_fail_oom(err, name, (size_t)L.d * sizeof(size_t));
        goto done;
    }
    if (sc && sc->class_names)
        for (int c = 0; c < sc->n_classes; c++)
            if (intern(&classes, sc->class_names[c], strlen(sc->class_names[c]), 1) < 0) {
                st = dnn_fail_oom(err, name, 0);
                goto done;
            }

    const size_t d = (size_t)L.d, k = (size_t)L.k;
    uint32_t ordinal = 0;
    int use_first = !has_header;
    for (;; ordinal++) {
        if (use_first) {
            use_first = 0; /* the first record was data: it is still in r */
        } else {
            if ((st = next_record(&r, &got))) goto done;
            if (!got) break;
        }
        if (ordinal == UINT32_MAX || r.rec_line > UINT32_MAX) {
            st = rfail(&r, "more than %u rows", UINT32_MAX - 1);
            goto done;
        }
        if (r.nf != ncol) {
            st = rfail(&r, "%d fields, expected %d (as in the first line%s)", r.nf, ncol,
                       has_header ? ", the header" : "");
            goto done;
        }
        if (L.strict_unnamed && (st = check_unnamed(&r, &L, src, has_header))) goto done;
        if (R.n == R.cap) {
            double bytes = (double)R.cap * 2 * ((double)(d + k) * sizeof(float) + 12);
            if (bytes > (double)dnn_memory_budget(src->max_memory)) {
                char a[32], b[32];
                st = rfail(&r, "%zu rows so far, and growing to %s would pass the memory limit of %s (%s)",
                           R.n, dnn_format_bytes(bytes, a, sizeof a),
                           dnn_format_bytes((double)dnn_memory_budget(src->max_memory), b, sizeof b),
                           dnn_memory_budget_source(src->max_memory));
                goto done;
            }
            if (rows_grow(&R, d, k, cls)) {
                st = dnn_fail_oom(err, name, R.cap * d * sizeof(float));
                goto done;
            }
        }
        float *xr = R.x + R.n * d;
        int drop = 0;
        for (size_t j = 0; j < d; j++) {
            int c = L.feat_col[j];
            const char *s = field(&r, c);
            size_t n = r.flen[c];
            double v;
            if (is_missing(src, s, n)) {
                if (src->missing == DNN_MISSING_ERROR) {
                    char b[32];
                    st = rfail(
                        &r,
                        "column \"%s\": a missing value (\"%.*s\"); set \"missing\" to \"mean\", \"median\", "
                        "\"zero\" or \"drop\" to handle it",
                        colname(&hdr, has_header, c, b, sizeof b), (int)(n < 20 ? n : 20), s);
                    goto done;
                }
                miss[j]++;
                if (src->missing == DNN_MISSING_DROP) drop = 1;
                xr[j] = NAN;
                continue;
            }
            int rc = dnn_csv_number(s, n, &v);
            if (rc) {
                char b[32];
                st = not_a_number(&r, "column", colname(&hdr, has_header, c, b, sizeof b), rc, s, n);
                goto done;
            }
            xr[j] = (float)v;
        }
        int label_missing = 0;
        if (L.labelled) {
            for (size_t i = 0; i < k; i++) {
                int c = L.label_col[i];
                const char *s = field(&r, c);
                size_t n = r.flen[c];
                if (is_missing(src, s, n)) {
                    label_missing = 1;
                    break;
                }
                if (cls) {
                    while (n && *s == ' ') s++, n--;
                    while (n && s[n - 1] == ' ') n--;
                    int id = intern(&classes, s, n, !sc || !sc->class_names);
                    if (id == -2) {
                        st = dnn_fail_oom(err, name, n);
                        goto done;
                    }
                    if (id == -1) {
                        /* a model whose classes were named by data.classes also takes their indices */
                        double v;
                        if (dnn_csv_number(s, n, &v) == 0 && v >= 0 && v < sc->n_classes && v == floor(v))
                            id = (int)v;
                    }
                    if (id == -1) {
                        char list[300] = "";
                        size_t q = 0;
                        for (int a = 0; a < sc->n_classes && q < sizeof list - 40; a++)
                            q += (size_t)snprintf(list + q, sizeof list - q, "%s\"%s\"", a ? ", " : "",
                                                  sc->class_names[a]);
                        st = rfail(&r, "label \"%.*s\" is not one of the model's classes (%s)",
                                   (int)(n < 40 ? n : 40), s, list);
                        goto done;
                    }
                    if (classes.n > MAX_CLASSES) {
                        char b[32];
                        st = rfail(
                            &r,
                            "column \"%s\" has more than %d distinct labels: is it a regression target (loss "
                            "\"mse\")?",
                            colname(&hdr, has_header, c, b, sizeof b), MAX_CLASSES);
                        goto done;
                    }
                    R.y[R.n] = id;
                } else {
                    double v;
                    int rc = dnn_csv_number(s, n, &v);
                    if (rc) {
                        char b[32];
                        st = not_a_number(&r, "target column", colname(&hdr, has_header, c, b, sizeof b), rc,
                                          s, n);
                        goto done;
                    }
                    R.t[R.n * k + i] = (float)v;
                }
            }
        }
        if (label_missing) {
            /* a missing label is never imputed */
            if (src->missing == DNN_MISSING_ERROR) {
                st = rfail(
                    &r,
                    "the label is missing; set \"missing\" to drop such rows (any policy but \"error\" drops "
                    "them)");
                goto done;
            }
            ds->dropped_label++;
            for (size_t j = 0; j < d; j++) miss[j] -= isnan(xr[j]); /* the row goes: its cells do not count */
            continue;
        }
        if (drop) {
            ds->dropped_feature++;
            continue;
        }
        R.lines[R.n] = (uint32_t)r.rec_line;
        R.index[R.n] = ordinal;
        R.n++;
    }
    if (ferror(r.f)) {
        st = dnn_fail(err, DNN_EIO, "%s: read error: %s", name, strerror(errno));
        goto done;
    }
    if (R.n == 0) {
        st = dnn_fail(err, DNN_EDATA, "%s: no data rows%s%s", name, has_header ? " after the header" : "",
                      ds->dropped_label + ds->dropped_feature ? " that were not dropped for missing values"
                                                              : "");
        goto done;
    }

    /* Hand over. Classes found in training data are sorted so their order does not depend on row order. */
    ds->source = dnn_strdup(name);
    ds->n = R.n;
    ds->d = d;
    ds->dtype = DNN_F32;
    ds->x32 = R.x, R.x = NULL;
    ds->lines = R.lines, R.lines = NULL;
    ds->index = R.index, R.index = NULL;
    ds->missing = miss, miss = NULL;
    for (size_t j = 0; j < d; j++) ds->missing_cells += ds->missing[j];
    if (L.labelled && cls) {
        ds->y = R.y, R.y = NULL;
        if (!sc || !sc->class_names) {
            int *order = malloc((size_t)classes.n * sizeof(int)),
                *rank = malloc((size_t)classes.n * sizeof(int));
            if (!order || !rank) {
                free(order);
                free(rank);
                st = dnn_fail_oom(err, name, (size_t)classes.n);
                goto done;
            }
            name_order no = {classes.names, 1};
            double v;
            for (int i = 0; i < classes.n; i++) {
                order[i] = i;
                no.numeric &= dnn_csv_number(classes.names[i], strlen(classes.names[i]), &v) == 0;
            }
            qsort_r(order, (size_t)classes.n, sizeof(int), by_name, &no);
            for (int i = 0; i < classes.n; i++) rank[order[i]] = i;
            for (size_t i = 0; i < ds->n; i++) ds->y[i] = rank[ds->y[i]];
            char **sorted = malloc((size_t)classes.n * sizeof(char *));
            if (sorted)
                for (int i = 0; i < classes.n; i++) sorted[i] = classes.names[order[i]];
            free(order);
            free(rank);
            if (!sorted) {
                st = dnn_fail_oom(err, name, (size_t)classes.n);
                goto done;
            }
            free(classes.names);
            classes.names = sorted;
        }
        ds->class_names = classes.names;
        ds->n_classes = classes.n;
        classes.names = NULL;
        classes.n = 0;
    } else if (L.labelled) {
        ds->t = R.t, R.t = NULL;
        ds->n_targets = L.k;
    }
    if (has_header) {
        ds->feature_names = calloc(d, sizeof(char *));
        if (!ds->feature_names) {
            st = dnn_fail_oom(err, name, d);
            goto done;
        }
        for (size_t j = 0; j < d; j++)
            if (!(ds->feature_names[j] = dnn_strdup(field(&hdr, L.feat_col[j]))))
                st = dnn_fail_oom(err, name, d);
        if (L.labelled && !cls) {
            ds->target_names = calloc(k, sizeof(char *));
            for (size_t i = 0; ds->target_names && i < k; i++)
                ds->target_names[i] = dnn_strdup(field(&hdr, L.label_col[i]));
        }
        if (L.labelled) {
            ds->label_names = calloc(k, sizeof(char *));
            for (size_t i = 0; ds->label_names && i < k; i++)
                if (!(ds->label_names[i] = dnn_strdup(field(&hdr, L.label_col[i]))))
                    st = dnn_fail_oom(err, name, k);
            ds->n_labels = ds->label_names ? (int)k : 0;
            if (!ds->label_names) st = dnn_fail_oom(err, name, k);
        }
    }
done:
    if (st) dnn_dataset_free(ds);
    if (r.f && !from_stdin) fclose(r.f);
    free(r.buf);
    free(r.arena);
    free(r.start);
    free(r.flen);
    free(r.quoted);
    free(hdr.arena);
    free(hdr.start);
    free(hdr.flen);
    free(hdr.quoted);
    free(R.x);
    free(R.t);
    free(R.y);
    free(R.lines);
    free(R.index);
    free(miss);
    free(unnamed);
    layout_free(&L);
    interner_free(&classes, 0);
    return st;
}
