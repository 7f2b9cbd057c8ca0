/* CSV reader (RFC 4180): quoted fields with delimiters, quotes and newlines inside, CRLF or LF, a UTF-8
 * byte-order mark, a sniffed delimiter and header, parts read one after another. It streams through a fixed
 * buffer and parses numbers without the locale; a row at a time goes to the consumer (memory or a stream). */
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

#include "dnn/encode.h"
#include "dnn/input.h"
#include "dnn/strtab.h"
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

/* ---- records: a buffer over one part's bytes, and the fields of the current record in one arena ---- */

typedef struct {
    dnn_input *in;
    const char *name; /* the part's path, for messages */
    dnn_status fail;  /* a read error met while refilling (its message is in err): next_record returns it */
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
    unsigned long rec_line;        /* line where the current record starts */
    unsigned long long rec_offset; /* and its byte offset in the content */
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
    size_t got = 0;
    if (!r->fail && r->in) r->fail = dnn_input_read(r->in, r->buf + r->len, BUF_BYTES - r->len, &got, r->err);
    if (r->fail) got = 0;
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
        r->rec_offset = r->consumed + r->pos;
        if (peek(r) == EOF) return r->fail;
        for (;;) {
            size_t start = r->alen;
            int quoted = peek(r) == '"';
            dnn_status st;
            if (quoted) {
                unsigned long opened = r->line;
                r->pos++;
                for (;;) {
                    if (r->pos == r->len && refill(r) == 0) {
                        if (r->fail) return r->fail;
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
        if (r->fail) return r->fail; /* a record cut short by a read error is no record */
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

/* Whether the first row's numeric fields, at least 3, are consecutive integers in column order: column
 * numbers (0, 1, 2, ... as pandas writes an unnamed frame's header) or years, rarely a row of data. */
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

/* What the first lines say besides the header: whether every line ends in an empty field after a delimiter
 * (a trailing delimiter, as Excel writes: then the last column is no column), and which columns' values
 * (below the header, if any) are not all numbers or missing, which data.categorical "auto" encodes. text
 * gets flags for the first 65536 columns (later ones count as numeric); NULL when memory runs out. */
static unsigned char *sample_facts(const char *t, size_t n, int complete, char d,
                                   const dnn_source_config *src, int header, int *trailing)
{
    enum { LINES = 65, FIELDS = 1 << 16 };
    span *f = malloc(FIELDS * sizeof *f);
    unsigned char *text = calloc(FIELDS, 1);
    if (!f || !text) {
        free(f);
        free(text);
        return NULL;
    }
    int nf[LINES], lines = sample_lines(t, n, complete, d, f, FIELDS, nf, LINES);
    int empty = lines > 0 && nf[0] >= 2;
    size_t at = 0;
    for (int l = 0; l < lines; at += (size_t)nf[l], l++) {
        empty = empty && nf[l] == nf[0] && at + (size_t)nf[l] <= FIELDS && f[at + (size_t)nf[l] - 1].n == 0;
        if ((l == 0 && header) || nf[l] != nf[0]) continue;
        for (int c = 0; c < nf[l] && at + (size_t)c < FIELDS; c++)
            text[c] |= classify(src, f[at + (size_t)c].s, f[at + (size_t)c].n) == F_TEXT;
    }
    *trailing = empty;
    free(f);
    return text;
}

/* ---- column roles ---- */

/* UNNAMED: a column without a name in the header (or, without a header, an always-empty last column left by
 * a trailing delimiter): never read; in training, a value in it is an error rather than a silent feature. */
enum { ROLE_IGNORE = 0, ROLE_FEATURE, ROLE_LABEL, ROLE_UNNAMED };

typedef struct {
    int ncol;
    int *role; /* per column */
    int *slot; /* per column: its feature or target index */
    int d, k;  /* feature columns (numeric and categorical), label columns */
    int *feat_col, *label_col;
    int labelled;
    int strict_unnamed; /* training: a value in an unnamed column is an error */
    /* the features by kind: numeric ones, and categorical ones with their place among the features */
    int d_num, n_cat;
    int *num_col, *cat_col, *cat_pos;
} layout;

static void layout_free(layout *L)
{
    free(L->role);
    free(L->slot);
    free(L->feat_col);
    free(L->label_col);
    free(L->num_col);
    free(L->cat_col);
    free(L->cat_pos);
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

/* The source columns a model takes: its numeric features, then its categorical columns. */
static int model_columns(const dnn_schema *sc, int *n_num)
{
    int n_cat = sc->enc ? sc->enc->n_cat : 0;
    *n_num = sc->n_features - (int)dnn_encoding_width(sc->enc);
    return *n_num + n_cat;
}

/* Reading for a model, from a file with a header: its features by name, in the model's order (numeric, then
 * categorical), and its targets by the names they had in training (or the source's "label"); without them,
 * prediction only. */
static dnn_status plan_by_name(layout *L, const dnn_source_config *src, const dnn_schema *sc,
                               const reader *hdr, dnn_error *err)
{
    const char *file = hdr->name;
    int n_num, cols = model_columns(sc, &n_num);
    for (int j = 0; j < cols; j++) {
        const char *want = j < n_num ? sc->feature_names[j] : sc->enc->cols[j - n_num].name;
        int c;
        for (c = 0; c < L->ncol; c++)
            if (strcmp(field(hdr, c), want) == 0) break;
        if (c == L->ncol)
            return dnn_fail(err, DNN_EDATA, "%s:1: no column \"%s\", a feature the model was trained on",
                            file, want);
        take(L, c, ROLE_FEATURE, j);
    }
    L->d = cols;
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
    int nlabels = src->n_label ? src->n_label : 1, n_num, cols = model_columns(sc, &n_num);
    if (named == cols && sc->labels_optional) {
        for (int c = 0; c < L->ncol; c++)
            if (L->role[c] != ROLE_UNNAMED) take(L, c, ROLE_FEATURE, L->d++);
        return DNN_OK;
    }
    dnn_status st = plan_labels(L, src, hdr, has_header, err);
    if (st) return st;
    if (named == cols + nlabels) {
        for (int c = 0; c < L->ncol; c++)
            if (L->role[c] == ROLE_IGNORE) take(L, c, ROLE_FEATURE, L->d++);
    } else {
        st = plan_features(L, src, hdr, has_header, err);
    }
    if (!st && L->d != cols)
        st =
            dnn_fail(err, DNN_EDATA, "%s: %d feature columns, but the model takes %d", hdr->name, L->d, cols);
    return st;
}

/* Which feature slots are categorical (cat_of[f]: its categorical index, or -1), for training: the columns
 * data.categorical names, or with "auto" those whose sampled values are not all numbers. */
static dnn_status training_kinds(layout *L, const dnn_source_config *src, const reader *hdr, int has_header,
                                 const unsigned char *text_col, int *cat_of, dnn_error *err)
{
    int n = 0;
    for (int f = 0; f < L->d; f++) cat_of[f] = -1;
    if (src->categorical_auto) {
        for (int f = 0; f < L->d; f++)
            if (text_col[L->feat_col[f]]) cat_of[f] = n++;
        return DNN_OK;
    }
    for (int i = 0; i < src->n_categorical; i++) {
        int c = resolve(&src->categorical[i], hdr, has_header, L->ncol, "data.categorical", err, hdr->name);
        if (c < 0) return err->code;
        char b[32];
        if (L->role[c] != ROLE_FEATURE)
            return dnn_fail(err, DNN_ECONFIG,
                            "%s: data.categorical: column \"%s\" is not a feature (it is %s)", hdr->name,
                            colname(hdr, has_header, c, b, sizeof b),
                            L->role[c] == ROLE_LABEL ? "the label" : "ignored");
        cat_of[L->slot[c]] = 0;
    }
    for (int f = 0; f < L->d; f++)
        if (cat_of[f] >= 0) cat_of[f] = n++;
    return DNN_OK;
}

/* Reading for a model: its categorical columns are the feature slots its encoding names, in its order. */
static void model_kinds(const layout *L, const dnn_schema *sc, int by_name, int *cat_of)
{
    int n_num, cols = model_columns(sc, &n_num);
    for (int f = 0; f < L->d; f++) cat_of[f] = -1;
    for (int c = 0; sc->enc && c < sc->enc->n_cat; c++) {
        int f = by_name ? n_num + c : sc->enc->cols[c].position;
        if (f >= 0 && f < L->d && f < cols) cat_of[f] = c;
    }
}

/* Split the feature slots into numeric columns (in slot order) and categorical ones (in cat_of's order). */
static dnn_status split_kinds(layout *L, const int *cat_of, const char *file, dnn_error *err)
{
    L->num_col = calloc((size_t)L->d + 1, sizeof(int));
    L->cat_col = calloc((size_t)L->d + 1, sizeof(int));
    L->cat_pos = calloc((size_t)L->d + 1, sizeof(int));
    if (!L->num_col || !L->cat_col || !L->cat_pos) return dnn_fail_oom(err, file, (size_t)L->d * 12);
    for (int f = 0; f < L->d; f++) {
        if (cat_of[f] < 0) {
            L->num_col[L->d_num++] = L->feat_col[f];
            continue;
        }
        L->cat_col[cat_of[f]] = L->feat_col[f];
        L->cat_pos[cat_of[f]] = f;
        L->n_cat++;
    }
    return DNN_OK;
}

/* Decide each column's role. unnamed[c] marks the columns without a name (see ROLE_UNNAMED); text_col[c] the
 * columns whose sampled values are not all numbers (for data.categorical "auto"). */
static dnn_status plan(layout *L, const dnn_source_config *src, const dnn_schema *sc, const reader *hdr,
                       int has_header, int ncol, const unsigned char *unnamed, const unsigned char *text_col,
                       dnn_error *err)
{
    const char *file = hdr->name;
    memset(L, 0, sizeof *L);
    L->ncol = ncol;
    L->role = calloc((size_t)ncol, sizeof(int));
    L->slot = calloc((size_t)ncol, sizeof(int));
    L->feat_col = calloc((size_t)ncol, sizeof(int));
    L->label_col = calloc((size_t)ncol, sizeof(int));
    int *cat_of = calloc((size_t)ncol, sizeof(int));
    dnn_status st = DNN_OK;
    if (!L->role || !L->slot || !L->feat_col || !L->label_col || !cat_of)
        st = dnn_fail_oom(err, file, (size_t)ncol * 20);
    int named = 0;
    for (int c = 0; !st && c < ncol; c++) {
        if (unnamed[c]) L->role[c] = ROLE_UNNAMED;
        named += !unnamed[c];
    }
    const int by_name = sc && has_header && sc->feature_names;
    if (st) {
    } else if (by_name) {
        st = plan_by_name(L, src, sc, hdr, err);
    } else if (sc) {
        st = plan_by_position(L, src, sc, hdr, has_header, named, err);
    } else {
        L->strict_unnamed = 1;
        st = plan_labels(L, src, hdr, has_header, err);
        if (!st) st = plan_features(L, src, hdr, has_header, err);
        if (!st && L->d == 0)
            st = dnn_fail(err, DNN_EDATA, "%s: no feature columns left (%d columns in all)", file, ncol);
    }
    if (!st && sc)
        model_kinds(L, sc, by_name, cat_of);
    else if (!st)
        st = training_kinds(L, src, hdr, has_header, text_col, cat_of, err);
    if (!st) st = split_kinds(L, cat_of, file, err);
    free(cat_of);
    return st;
}

/* A header's names must tell the columns apart: two columns of one name would be read as one by name. */
static dnn_status unique_names(const reader *hdr, dnn_error *err)
{
    dnn_strtab seen = {0};
    int *first = malloc((size_t)hdr->nf * sizeof(int));
    dnn_status st = first ? DNN_OK : dnn_fail_oom(err, hdr->name, (size_t)hdr->nf * sizeof(int));
    for (int c = 0; !st && c < hdr->nf; c++) {
        if (hdr->flen[c] == 0) continue;
        int before = seen.n, id = dnn_strtab_id(&seen, field(hdr, c), hdr->flen[c], 1);
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
    dnn_strtab_free(&seen, 0);
    return st;
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

/* "column \"x\": expected a number, got \"3,14\"", with a hint when the field looks like a decimal comma,
 * or (categorical_hint) when the column may hold categories. */
static dnn_status not_a_number(reader *r, const char *what, const char *col, int rc, const char *s, size_t n,
                               int categorical_hint)
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
                 : rc < 0 && categorical_hint
                     ? " (if the column holds categories, list it in data.categorical, or set it to \"auto\")"
                     : "");
}

/* ---- the source: parts one after another, every record a row ---- */

struct dnn_csv {
    const dnn_source_config *src;
    dnn_task task;
    const dnn_schema *sc;
    dnn_part *parts;
    char **part_names; /* for messages: the paths, "<stdin>" for "-" */
    int n_parts, part; /* the part being read */
    reader r;          /* its records */
    reader hdr;        /* the first record of the first part: the header's names, or the first data row */
    int has_header, trailing, ncol;
    int pending; /* the first record is data, read while opening and not yet returned */
    unsigned char *unnamed, *text_col;
    layout L;
    dnn_strtab classes;
    int fixed_classes; /* the classes are set (dnn_csv_set_classes): labels only map to them */
    char **num_names, **cat_names, **label_names;
    /* the row being returned */
    float *x, *t;
    uint64_t *hash;
    const char **text;
    size_t *tlen;
    dnn_csv_row row;
    uint64_t ordinal; /* of the next data record */
    size_t *missing;
    dnn_csv_info info;
    char header_note[200], label_note[300];
};

static const uint8_t BOM[3] = {0xEF, 0xBB, 0xBF};
/* the text of a missing categorical cell; rows point at this array, so it is told apart by address */
static const char MISSING_LEVEL[] = DNN_LEVEL_MISSING;

/* Open part p at a record boundary offset bytes into its content (0: its start, where a byte-order mark is
 * skipped and, with check_header, the header read and compared with the first part's). *empty says the part
 * has nothing to read. */
static dnn_status open_part(dnn_csv *c, int p, uint64_t offset, unsigned long line, int check_header,
                            int *empty, dnn_error *err)
{
    reader *r = &c->r;
    const int again = r->in && c->part == p && strcmp(c->parts[p].path, "-") != 0;
    if (!again) {
        dnn_input_close(r->in);
        r->in = NULL;
    }
    r->name = c->part_names[p];
    r->len = r->pos = 0;
    r->eof = 0;
    r->fail = DNN_OK;
    r->err = err;
    r->consumed = offset;
    r->line = line;
    c->part = p;
    /* the same part again (a stream's next chunk): reposition rather than reopen */
    dnn_status st =
        again ? dnn_input_seek(r->in, offset, err) : dnn_input_open(&r->in, c->parts[p].path, offset, err);
    if (st) return st;
    refill(r);
    if (r->fail) return r->fail;
    if (offset == 0 && r->len >= 3 && memcmp(r->buf, BOM, 3) == 0) r->pos = 3;
    *empty = r->len == r->pos;
    if (offset > 0 || !c->has_header || !check_header || *empty) return DNN_OK;
    /* every part's header: the same columns as the first part's */
    int got;
    if ((st = next_record(r, &got))) return st;
    if (!got) {
        *empty = 1;
        return DNN_OK;
    }
    for (int k = 0; k < r->nf || k < c->hdr.nf; k++) {
        const char *here = k < r->nf ? field(r, k) : "", *there = k < c->hdr.nf ? field(&c->hdr, k) : "";
        if (k >= r->nf || k >= c->hdr.nf || strcmp(here, there) != 0)
            return rfail(
                r,
                "the header differs from %s's: column %d is \"%.40s\" here, \"%.40s\" there (every part "
                "of a source needs the same columns)",
                c->part_names[0], k, here, there);
    }
    return DNN_OK;
}

/* The first part with content: its delimiter, whether its first row is a header, whether its lines end in
 * a delimiter, and which columns hold text in its first lines. */
static dnn_status open_first(dnn_csv *c, dnn_error *err)
{
    int empty = 1, p;
    dnn_status st = DNN_OK;
    for (p = 0; p < c->n_parts && empty && !st; p++) st = open_part(c, p, 0, 1, 0, &empty, err);
    if (st) return st;
    if (empty) return dnn_fail(err, DNN_EDATA, "%s: the file is empty (expected CSV rows)", c->info.source);
    reader *r = &c->r;
    if (r->len >= 2 && r->buf[r->pos] == 0x1f && r->buf[r->pos + 1] == 0x8b)
        return dnn_fail(err, DNN_EDATA, "%s: gzip-compressed twice (decompressed, it is gzip again)",
                        r->name);
    const char *sample = (const char *)r->buf + r->pos;
    const size_t n = r->len - r->pos;
    r->delim = c->src->delimiter ? c->src->delimiter : dnn_csv_sniff(sample, n);
    c->has_header = c->src->header;
    if (c->has_header < 0) {
        char why[160];
        c->has_header = dnn_csv_sniff_header(sample, n, r->eof, r->delim, c->src, why, sizeof why);
        snprintf(c->header_note, sizeof c->header_note, "the first row is %s: %s",
                 c->has_header ? "a header" : "data", why);
    }
    c->text_col = sample_facts(sample, n, r->eof, r->delim, c->src, c->has_header, &c->trailing);
    if (!c->text_col) return dnn_fail_oom(err, r->name, n);
    return DNN_OK;
}

/* Keep the first record: as the header's names, or to return it as the first row. */
static dnn_status read_first_record(dnn_csv *c, dnn_error *err)
{
    reader *r = &c->r;
    int got;
    dnn_status st = next_record(r, &got);
    if (st) return st;
    if (!got) return dnn_fail(err, DNN_EDATA, "%s: no rows, only blank lines", r->name);
    c->ncol = r->nf;
    reader *h = &c->hdr;
    *h = *r;
    h->in = NULL;
    h->buf = NULL;
    h->arena = malloc(r->alen + 1);
    h->start = malloc((size_t)r->nf * sizeof(size_t));
    h->flen = malloc((size_t)r->nf * sizeof(size_t));
    h->quoted = malloc((size_t)r->nf);
    if (!h->arena || !h->start || !h->flen || !h->quoted) return dnn_fail_oom(err, r->name, r->alen);
    memcpy(h->arena, r->arena, r->alen);
    memcpy(h->start, r->start, (size_t)r->nf * sizeof(size_t));
    memcpy(h->flen, r->flen, (size_t)r->nf * sizeof(size_t));
    memcpy(h->quoted, r->quoted, (size_t)r->nf);
    if (c->has_header && (st = unique_names(h, err))) return st;
    if (!(c->unnamed = find_unnamed(h, c->has_header, c->trailing))) return dnn_fail_oom(err, r->name, r->nf);
    c->pending = !c->has_header;
    return DNN_OK;
}

/* Names of some columns from the header (NULL without one, unless by_index: then the columns' indices). */
static char **column_names(const dnn_csv *c, const int *cols, int n, int by_index)
{
    if (!c->has_header && !by_index) return NULL;
    char **v = calloc((size_t)n + 1, sizeof *v);
    for (int i = 0; v && i < n; i++) {
        char b[32];
        if (!(v[i] = dnn_strdup(colname(&c->hdr, c->has_header, cols[i], b, sizeof b)))) {
            dnn_strings_free(v, (size_t)i);
            return NULL;
        }
    }
    return v;
}

/* Decide the columns' roles and check them against the task and the schema. */
static dnn_status plan_columns(dnn_csv *c, dnn_error *err)
{
    const dnn_schema *sc = c->sc;
    const char *name = c->r.name;
    layout *L = &c->L;
    dnn_status st = plan(L, c->src, sc, &c->hdr, c->has_header, c->ncol, c->unnamed, c->text_col, err);
    if (st) return st;
    if (!L->labelled && c->has_header && sc && sc->label_names)
        snprintf(c->label_note, sizeof c->label_note,
                 "%s: no column \"%s\" (the model's target): scoring in predict-only mode, without metrics",
                 name, sc->label_names[0]);
    if (c->task == DNN_TASK_CLASSIFICATION && L->labelled && L->k != 1)
        return dnn_fail(err, DNN_ECONFIG, "%s: a classification takes one label column, %d are given", name,
                        L->k);
    if (sc && c->task == DNN_TASK_REGRESSION && L->labelled && L->k != sc->n_targets)
        return dnn_fail(err, DNN_EDATA, "%s: %d target columns, but the model predicts %d", name, L->k,
                        sc->n_targets);
    c->num_names = column_names(c, L->num_col, L->d_num, 0);
    c->cat_names = column_names(c, L->cat_col, L->n_cat, 1);
    c->label_names = L->labelled ? column_names(c, L->label_col, L->k, 0) : NULL;
    if ((c->has_header && (!c->num_names || (L->labelled && !c->label_names))) || !c->cat_names)
        return dnn_fail_oom(err, name, (size_t)c->ncol);
    return DNN_OK;
}

static dnn_status alloc_row(dnn_csv *c, dnn_error *err)
{
    const size_t d = (size_t)c->L.d_num, nc = (size_t)c->L.n_cat, k = (size_t)c->L.k;
    c->x = malloc((d + 1) * sizeof *c->x);
    c->t = malloc((k + 1) * sizeof *c->t);
    c->hash = malloc((nc + 1) * sizeof *c->hash);
    c->text = malloc((nc + 1) * sizeof *c->text);
    c->tlen = malloc((nc + 1) * sizeof *c->tlen);
    c->missing = calloc(d + nc + 1, sizeof *c->missing);
    if (!c->x || !c->t || !c->hash || !c->text || !c->tlen || !c->missing)
        return dnn_fail_oom(err, c->r.name, (d + nc) * 32);
    c->row = (dnn_csv_row){.x = c->x, .cat = c->hash, .cat_text = c->text, .cat_len = c->tlen, .t = c->t};
    /* a model whose classes are named: labels map to them (and, by data.classes, to their indices) */
    for (int i = 0; c->sc && c->sc->class_names && i < c->sc->n_classes; i++)
        if (dnn_strtab_id(&c->classes, c->sc->class_names[i], strlen(c->sc->class_names[i]), 1) < 0)
            return dnn_fail_oom(err, c->r.name, 0);
    return DNN_OK;
}

static void fill_info(dnn_csv *c)
{
    const layout *L = &c->L;
    dnn_csv_info *in = &c->info;
    in->d_num = L->d_num;
    in->n_cat = L->n_cat;
    in->k = L->labelled ? L->k : 0;
    in->labelled = L->labelled;
    in->has_header = c->has_header;
    in->num_names = c->num_names;
    in->cat_names = c->cat_names;
    in->cat_position = L->cat_pos;
    in->label_names = c->label_names;
    in->n_parts = c->n_parts;
    in->missing = c->missing;
    in->header_note = c->header_note;
    in->label_note = c->label_note;
}

dnn_status dnn_csv_open(dnn_csv **out, const dnn_source_config *src, dnn_task task, const dnn_schema *sc,
                        dnn_error *err)
{
    *out = NULL;
    dnn_csv *c = calloc(1, sizeof *c);
    if (!c) return dnn_fail_oom(err, src->path, sizeof *c);
    c->src = src, c->task = task, c->sc = sc;
    c->info.source = strcmp(src->path, "-") == 0 ? "<stdin>" : src->path;
    c->r = (reader){.err = err, .line = 1};
    char *const one[] = {src->path};
    dnn_status st = dnn_parts_find(src->paths ? src->paths : one, src->paths ? src->n_paths : 1, &c->parts,
                                   &c->n_parts, err);
    c->part_names = st ? NULL : calloc((size_t)c->n_parts, sizeof *c->part_names);
    c->r.buf = st ? NULL : malloc(BUF_BYTES);
    if (!st && (!c->part_names || !c->r.buf)) st = dnn_fail_oom(err, src->path, BUF_BYTES);
    for (int p = 0; !st && p < c->n_parts; p++)
        c->part_names[p] = strcmp(c->parts[p].path, "-") == 0 ? "<stdin>" : c->parts[p].path;
    if (!st) st = open_first(c, err);
    if (!st) st = read_first_record(c, err);
    if (!st) st = plan_columns(c, err);
    if (!st) st = alloc_row(c, err);
    if (st) {
        dnn_csv_close(c);
        return st;
    }
    fill_info(c);
    *out = c;
    return DNN_OK;
}

void dnn_csv_close(dnn_csv *c)
{
    if (!c) return;
    dnn_input_close(c->r.in);
    free(c->r.buf);
    free(c->r.arena);
    free(c->r.start);
    free(c->r.flen);
    free(c->r.quoted);
    free(c->hdr.arena);
    free(c->hdr.start);
    free(c->hdr.flen);
    free(c->hdr.quoted);
    dnn_parts_free(c->parts, c->n_parts);
    free(c->part_names);
    free(c->unnamed);
    free(c->text_col);
    layout_free(&c->L);
    dnn_strtab_free(&c->classes, 0);
    dnn_strings_free(c->num_names, (size_t)c->L.d_num);
    dnn_strings_free(c->cat_names, (size_t)c->L.n_cat);
    dnn_strings_free(c->label_names, (size_t)c->L.k);
    free(c->x);
    free(c->t);
    free(c->hash);
    free(c->text);
    free(c->tlen);
    free(c->missing);
    free(c);
}

const dnn_csv_info *dnn_csv_info_of(dnn_csv *c)
{
    c->info.n_classes = c->classes.n;
    c->info.class_names = c->classes.names;
    c->info.part_names = c->part_names;
    c->info.parts = c->parts;
    return &c->info;
}

dnn_status dnn_csv_set_classes(dnn_csv *c, char *const *names, int n, dnn_error *err)
{
    dnn_strtab_free(&c->classes, 0);
    c->fixed_classes = 1;
    for (int i = 0; i < n; i++)
        if (dnn_strtab_id(&c->classes, names[i], strlen(names[i]), 1) != i)
            return dnn_fail_oom(err, c->info.source, (size_t)n);
    return DNN_OK;
}

dnn_status dnn_csv_seek(dnn_csv *c, const dnn_csv_pos *pos, dnn_error *err)
{
    if (pos->part < 0 || pos->part >= c->n_parts)
        return dnn_fail(err, DNN_EINTERNAL, "%s: no part %d to seek to", c->info.source, pos->part);
    int empty;
    c->pending = 0;
    c->ordinal = pos->ordinal;
    return open_part(c, pos->part, pos->offset, pos->line, 1, &empty, err);
}

/* ---- a record as a row ---- */

/* A class label's index: among the schema's classes (or, for classes named by data.classes, an index), else
 * in order of first appearance. */
static dnn_status class_of(dnn_csv *c, const char *s, size_t n, int32_t *id)
{
    reader *r = &c->r;
    const dnn_schema *sc = c->sc;
    while (n && *s == ' ') s++, n--;
    while (n && s[n - 1] == ' ') n--;
    const int named = sc && sc->class_names;
    int v = dnn_strtab_id(&c->classes, s, n, !named && !c->fixed_classes);
    if (v == -2) return dnn_fail_oom(r->err, r->name, n);
    double num;
    if (v == -1 && named && dnn_csv_number(s, n, &num) == 0 && num >= 0 && num < sc->n_classes &&
        num == floor(num))
        v = (int)num;
    if (v == -1) {
        char list[300] = "";
        size_t q = 0;
        for (int a = 0; a < c->classes.n && q < sizeof list - 40; a++)
            q += (size_t)snprintf(list + q, sizeof list - q, "%s\"%s\"", a ? ", " : "", c->classes.names[a]);
        return rfail(r, "label \"%.*s\" is not one of the model's classes (%s)", (int)(n < 40 ? n : 40), s,
                     list);
    }
    if (c->classes.n > MAX_CLASSES) {
        char b[32];
        return rfail(
            r, "column \"%s\" has more than %d distinct labels: is it a regression target (loss \"mse\")?",
            colname(&c->hdr, c->has_header, c->L.label_col[0], b, sizeof b), MAX_CLASSES);
    }
    *id = v;
    return DNN_OK;
}

/* A missing cell: an error under "error" (naming the line and column), else counted. */
static dnn_status missing_cell(dnn_csv *c, int col, size_t j, const char *s, size_t n)
{
    if (c->src->missing == DNN_MISSING_ERROR) {
        char b[32];
        return rfail(
            &c->r,
            "column \"%s\": a missing value (\"%.*s\"); set \"missing\" to \"mean\", \"median\", \"zero\" or "
            "\"drop\" to handle it",
            colname(&c->hdr, c->has_header, col, b, sizeof b), (int)(n < 20 ? n : 20), s);
    }
    c->missing[j]++;
    return DNN_OK;
}

/* The features of the current record: numbers (NaN where missing) and categorical cells' text and hashes.
 * *drop says a missing value drops the row. */
static dnn_status parse_features(dnn_csv *c, int *drop)
{
    reader *r = &c->r;
    const layout *L = &c->L;
    dnn_status st;
    *drop = 0;
    for (int j = 0; j < L->d_num; j++) {
        int col = L->num_col[j];
        const char *s = field(r, col);
        size_t n = r->flen[col];
        double v;
        if (is_missing(c->src, s, n)) {
            if ((st = missing_cell(c, col, (size_t)j, s, n))) return st;
            *drop |= c->src->missing == DNN_MISSING_DROP;
            c->x[j] = NAN;
            continue;
        }
        int rc = dnn_csv_number(s, n, &v);
        if (rc) {
            char b[32];
            return not_a_number(r, "column", colname(&c->hdr, c->has_header, col, b, sizeof b), rc, s, n,
                                !c->sc && !c->src->categorical_auto);
        }
        c->x[j] = (float)v;
    }
    for (int j = 0; j < L->n_cat; j++) {
        int col = L->cat_col[j];
        const char *s = field(r, col);
        size_t n = r->flen[col];
        if (is_missing(c->src, s, n)) {
            /* a level of its own, under any policy but "drop" */
            c->missing[L->d_num + j]++;
            *drop |= c->src->missing == DNN_MISSING_DROP;
            s = MISSING_LEVEL, n = sizeof MISSING_LEVEL - 1;
        }
        c->text[j] = s;
        c->tlen[j] = n;
        c->hash[j] = dnn_hash_bytes(s, n);
    }
    return DNN_OK;
}

/* The labels of the current record; *missing says one is missing (the row goes: never imputed). */
static dnn_status parse_labels(dnn_csv *c, int *missing)
{
    reader *r = &c->r;
    const layout *L = &c->L;
    *missing = 0;
    for (int i = 0; L->labelled && i < L->k; i++) {
        int col = L->label_col[i];
        const char *s = field(r, col);
        size_t n = r->flen[col];
        if (is_missing(c->src, s, n)) {
            *missing = 1;
            return DNN_OK;
        }
        if (c->task == DNN_TASK_CLASSIFICATION) {
            dnn_status st = class_of(c, s, n, &c->row.y);
            if (st) return st;
            continue;
        }
        double v;
        int rc = dnn_csv_number(s, n, &v);
        if (rc) {
            char b[32];
            return not_a_number(r, "target column", colname(&c->hdr, c->has_header, col, b, sizeof b), rc, s,
                                n, 0);
        }
        c->t[i] = (float)v;
    }
    return DNN_OK;
}

/* Parse the current record into the row; *keep is 0 when it is dropped for a missing value. */
static dnn_status parse_row(dnn_csv *c, int *keep)
{
    reader *r = &c->r;
    const layout *L = &c->L;
    *keep = 0;
    if (r->nf != c->ncol)
        return rfail(r, "%d fields, expected %d (as in the first line%s)", r->nf, c->ncol,
                     c->has_header ? ", the header" : "");
    dnn_status st;
    if (L->strict_unnamed && (st = check_unnamed(r, L, c->src, c->has_header))) return st;
    const uint64_t ordinal = c->ordinal++;
    int drop, label_missing;
    if ((st = parse_features(c, &drop)) || (st = parse_labels(c, &label_missing))) return st;
    if (label_missing) {
        if (c->src->missing == DNN_MISSING_ERROR)
            return rfail(r,
                         "the label is missing; set \"missing\" to drop such rows (any policy but \"error\" "
                         "drops them)");
        c->info.dropped_label++;
        /* the row goes: its cells do not count as missing */
        for (int j = 0; j < L->d_num; j++) c->missing[j] -= isnan(c->x[j]);
        for (int j = 0; j < L->n_cat; j++) c->missing[L->d_num + j] -= c->text[j] == MISSING_LEVEL;
        return DNN_OK;
    }
    if (drop) {
        c->info.dropped_feature++;
        return DNN_OK;
    }
    c->row.ordinal = ordinal;
    c->row.part = c->part;
    c->row.line = r->rec_line;
    c->row.offset = r->rec_offset;
    *keep = 1;
    return DNN_OK;
}

/* On to the next part with content; *more is 0 after the last. */
static dnn_status next_part(dnn_csv *c, int *more, dnn_error *err)
{
    int empty = 1;
    dnn_status st = DNN_OK;
    while (empty && !st && c->part + 1 < c->n_parts) st = open_part(c, c->part + 1, 0, 1, 1, &empty, err);
    *more = !st && !empty;
    return st;
}

dnn_status dnn_csv_next(dnn_csv *c, const dnn_csv_row **row, dnn_error *err)
{
    *row = NULL;
    c->r.err = err;
    for (;;) {
        dnn_status st;
        if (c->pending) {
            c->pending = 0; /* the first record, read while opening, is data */
        } else {
            int got, more;
            if ((st = next_record(&c->r, &got))) return st;
            if (!got) {
                if ((st = next_part(c, &more, err)) || !more) return st;
                continue;
            }
        }
        int keep;
        if ((st = parse_row(c, &keep))) return st;
        if (keep) {
            *row = &c->row;
            return DNN_OK;
        }
    }
}

dnn_status dnn_csv_estimate(const dnn_source_config *src, dnn_task task, double *rows, double *row_bytes,
                            dnn_error *err)
{
    enum { SAMPLE_ROWS = 2000 };
    dnn_csv *c;
    dnn_status st = dnn_csv_open(&c, src, task, NULL, err);
    if (st) return st;
    const dnn_csv_row *row = NULL;
    uint64_t first = 0, last = 0, n = 0;
    const int part = c->part;
    while (n < SAMPLE_ROWS && !(st = dnn_csv_next(c, &row, err)) && row && row->part == part) {
        if (n++ == 0) first = row->offset;
        last = row->offset;
    }
    const layout *L = &c->L;
    *row_bytes = (double)(L->d_num + L->k) * sizeof(float) + (double)L->n_cat * sizeof(uint64_t) + 12;
    if (!st && !row) {
        *rows = (double)n; /* all of it was read */
    } else if (!st) {
        const reader *r = &c->r;
        double per_row = n > 1 ? (double)(last - first) / (double)(n - 1) : 64;
        /* decompressed bytes delivered for compressed bytes consumed, in the first part */
        double ratio = c->parts[part].gzip && c->part == part
                           ? (double)(r->consumed + r->len) / (double)(dnn_input_consumed(r->in) + 1)
                       : c->parts[part].gzip ? 4
                                             : 1;
        double bytes = 0;
        for (int p = 0; p < c->n_parts; p++)
            bytes += (double)c->parts[p].size * (c->parts[p].gzip ? ratio : 1);
        *rows = bytes / (per_row > 1 ? per_row : 1);
    }
    dnn_csv_close(c);
    return st;
}

/* ---- classes ---- */

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

dnn_status dnn_csv_sort_classes(char **names, int n, int *rank, dnn_error *err)
{
    int *order = malloc(((size_t)n + 1) * sizeof(int));
    char **sorted = malloc(((size_t)n + 1) * sizeof(char *));
    if (!order || !sorted) {
        free(order);
        free(sorted);
        return dnn_fail_oom(err, "class names", (size_t)n);
    }
    name_order no = {names, 1};
    double v;
    for (int i = 0; i < n; i++) {
        order[i] = i;
        no.numeric &= dnn_csv_number(names[i], strlen(names[i]), &v) == 0;
    }
    qsort_r(order, (size_t)n, sizeof(int), by_name, &no);
    for (int i = 0; i < n; i++) rank[order[i]] = i, sorted[i] = names[order[i]];
    memcpy(names, sorted, (size_t)n * sizeof(char *));
    free(order);
    free(sorted);
    return DNN_OK;
}

/* ---- loading into memory: every row kept, the vocabularies chosen at the end ---- */

typedef struct {
    float *x, *t;
    int32_t *y;
    uint64_t *cat; /* hashes of categorical cells, or (read for a model) their codes */
    uint32_t *lines, *index;
    size_t n, cap;
    size_t d, nc, k; /* numeric features, categorical ones, targets */
    int cls;
    dnn_level_counter *levels; /* [nc] training: the levels each column holds */
} table;

static void table_free(table *T)
{
    free(T->x);
    free(T->t);
    free(T->y);
    free(T->cat);
    free(T->lines);
    free(T->index);
    for (size_t j = 0; T->levels && j < T->nc; j++) dnn_levels_free(&T->levels[j]);
    free(T->levels);
}

static int max_categories(const dnn_source_config *src)
{
    return src->max_categories > 0 ? src->max_categories : 32;
}

static dnn_status table_init(table *T, const dnn_csv_info *in, dnn_task task, const dnn_source_config *src,
                             const dnn_schema *sc, dnn_error *err)
{
    memset(T, 0, sizeof *T);
    T->d = (size_t)in->d_num, T->nc = (size_t)in->n_cat, T->k = (size_t)in->k;
    T->cls = task == DNN_TASK_CLASSIFICATION;
    if (!T->nc || (sc && sc->enc)) return DNN_OK;
    T->levels = calloc(T->nc, sizeof *T->levels);
    if (!T->levels) return dnn_fail_oom(err, in->source, T->nc);
    for (size_t j = 0; j < T->nc; j++) {
        dnn_status st = dnn_levels_init(&T->levels[j], dnn_levels_cap(max_categories(src)), err);
        if (st) return st;
    }
    return DNN_OK;
}

static int table_grow(table *T)
{
    size_t cap = T->cap ? T->cap * 2 : 1024, nx, nt, nc;
    if (dnn_mul_size(cap, T->d ? T->d : 1, &nx) || dnn_mul_size(cap, T->k ? T->k : 1, &nt) ||
        dnn_mul_size(cap, T->nc ? T->nc : 1, &nc) || nx > SIZE_MAX / sizeof(float) || nc > SIZE_MAX / 8)
        return -1;
    float *x = realloc(T->x, nx * sizeof(float));
    if (x) T->x = x;
    uint32_t *l = realloc(T->lines, cap * sizeof(uint32_t));
    if (l) T->lines = l;
    uint32_t *ix = realloc(T->index, cap * sizeof(uint32_t));
    if (ix) T->index = ix;
    int ok = x && l && ix;
    if (T->nc) {
        uint64_t *c = realloc(T->cat, nc * sizeof(uint64_t));
        if (c) T->cat = c;
        ok &= c != NULL;
    }
    if (T->cls) {
        int32_t *y = realloc(T->y, cap * sizeof(int32_t));
        if (y) T->y = y;
        ok &= y != NULL;
    } else if (T->k) {
        float *t = realloc(T->t, nt * sizeof(float));
        if (t) T->t = t;
        ok &= t != NULL;
    }
    if (!ok) return -1;
    T->cap = cap;
    return 0;
}

/* Room for one more row within the memory limit. */
static dnn_status table_room(table *T, const dnn_csv_info *in, const dnn_csv_row *row, size_t max_memory,
                             dnn_error *err)
{
    const char *part = in->part_names[row->part];
    if (row->ordinal >= UINT32_MAX || row->line > UINT32_MAX)
        return dnn_fail(err, DNN_EDATA,
                        "%s:%lu: more than %u rows to hold in memory (let it stream: \"stream\": true)", part,
                        row->line, UINT32_MAX - 1);
    if (T->n < T->cap) return DNN_OK;
    double bytes = (double)T->cap * 2 * ((double)(T->d + T->k) * sizeof(float) + (double)T->nc * 8 + 12);
    const size_t budget = dnn_memory_budget(max_memory);
    if (bytes > (double)budget) {
        char a[32], b[32];
        return dnn_fail(
            err, DNN_EDATA,
            "%s:%lu: %zu rows so far, and growing to %s would pass the memory limit of %s (%s); a "
            "training source too large for memory can stream (\"stream\": true)",
            part, row->line, T->n, dnn_format_bytes(bytes, a, sizeof a),
            dnn_format_bytes((double)budget, b, sizeof b), dnn_memory_budget_source(max_memory));
    }
    return table_grow(T) ? dnn_fail_oom(err, in->source, T->cap * T->d * sizeof(float)) : DNN_OK;
}

static dnn_status table_append(table *T, const dnn_csv_info *in, const dnn_csv_row *row, const dnn_schema *sc,
                               size_t max_memory, dnn_error *err)
{
    dnn_status st = table_room(T, in, row, max_memory, err);
    if (st) return st;
    const size_t i = T->n;
    memcpy(T->x + i * T->d, row->x, T->d * sizeof(float));
    for (size_t j = 0; j < T->nc; j++) {
        if (sc && sc->enc) {
            T->cat[i * T->nc + j] = dnn_catcol_code(&sc->enc->cols[j], row->cat[j]);
            continue;
        }
        T->cat[i * T->nc + j] = row->cat[j];
        if ((st = dnn_levels_add(&T->levels[j], row->cat_text[j], row->cat_len[j], row->cat[j], err)))
            return st;
    }
    if (in->labelled && T->cls) T->y[i] = row->y;
    if (in->labelled && !T->cls) memcpy(T->t + i * T->k, row->t, T->k * sizeof(float));
    T->lines[i] = (uint32_t)row->line;
    T->index[i] = (uint32_t)row->ordinal;
    T->n++;
    return DNN_OK;
}

/* Classes found in training data are sorted, so their order does not depend on the order of the rows. */
static dnn_status take_classes(dnn_dataset *ds, const dnn_csv_info *in, int sorted, dnn_error *err)
{
    ds->n_classes = in->n_classes;
    ds->class_names = dnn_strings_copy(in->class_names, (size_t)in->n_classes);
    if (!ds->class_names) return dnn_fail_oom(err, "class names", (size_t)in->n_classes);
    if (sorted) return DNN_OK;
    int *rank = malloc(((size_t)in->n_classes + 1) * sizeof *rank);
    dnn_status st = rank ? dnn_csv_sort_classes(ds->class_names, in->n_classes, rank, err)
                         : dnn_fail_oom(err, "class names", (size_t)in->n_classes);
    for (size_t i = 0; !st && i < ds->n; i++) ds->y[i] = rank[ds->y[i]];
    free(rank);
    return st;
}

/* The categorical columns as codes: by the schema's vocabularies, or by ones chosen from these rows. */
static dnn_status take_codes(dnn_dataset *ds, table *T, const dnn_csv_info *in, const dnn_source_config *src,
                             const dnn_schema *sc, dnn_error *err)
{
    const dnn_encoding *enc = sc && sc->enc ? sc->enc : NULL;
    if (!enc) {
        ds->enc = calloc(1, sizeof *ds->enc);
        if (ds->enc) ds->enc->cols = calloc(T->nc, sizeof *ds->enc->cols);
        if (!ds->enc || !ds->enc->cols) return dnn_fail_oom(err, in->source, T->nc);
        for (size_t j = 0; j < T->nc; j++, ds->enc->n_cat++) {
            dnn_status st = dnn_catcol_fit(&ds->enc->cols[j], in->cat_names[j], in->cat_position[j],
                                           &T->levels[j], max_categories(src), err);
            if (st) return st;
        }
        enc = ds->enc;
    }
    ds->n_cat = (int)T->nc;
    ds->cat = malloc(T->n * T->nc * sizeof(uint32_t) + 1);
    ds->cat_width = malloc(T->nc * sizeof(int));
    if (!ds->cat || !ds->cat_width) return dnn_fail_oom(err, in->source, T->n * T->nc * 4);
    for (size_t j = 0; j < T->nc; j++) ds->cat_width[j] = enc->cols[j].n_levels;
    for (size_t i = 0; i < T->n * T->nc; i++)
        ds->cat[i] = sc && sc->enc ? (uint32_t)T->cat[i] : dnn_catcol_code(&enc->cols[i % T->nc], T->cat[i]);
    ds->d += dnn_encoding_width(enc);
    return DNN_OK;
}

/* Names from the header: the source columns, the expanded features, the targets and labels. */
static dnn_status take_names(dnn_dataset *ds, const dnn_csv_info *in, const dnn_schema *sc, int cls,
                             dnn_error *err)
{
    if (!in->has_header) return DNN_OK;
    const size_t nc = (size_t)in->n_cat, k = (size_t)in->k;
    const dnn_encoding *enc = ds->enc ? ds->enc : sc ? sc->enc : NULL;
    ds->column_names = calloc(ds->d_num + nc + 1, sizeof(char *));
    if (!ds->column_names) return dnn_fail_oom(err, in->source, nc);
    for (size_t j = 0; j < ds->d_num + nc; j++)
        if (!(ds->column_names[j] =
                  dnn_strdup(j < ds->d_num ? in->num_names[j] : in->cat_names[j - ds->d_num])))
            return dnn_fail_oom(err, in->source, nc);
    if (!(ds->feature_names = dnn_encoding_names(nc ? enc : NULL, in->num_names, ds->d_num)))
        return dnn_fail_oom(err, in->source, ds->d);
    if (in->labelled && !cls && !(ds->target_names = dnn_strings_copy(in->label_names, k)))
        return dnn_fail_oom(err, in->source, k);
    if (in->labelled) {
        if (!(ds->label_names = dnn_strings_copy(in->label_names, k)))
            return dnn_fail_oom(err, in->source, k);
        ds->n_labels = (int)k;
    }
    return DNN_OK;
}

/* Hand the rows over to the data set. */
static dnn_status table_finish(table *T, const dnn_csv_info *in, const dnn_source_config *src,
                               const dnn_schema *sc, dnn_dataset *ds, dnn_error *err)
{
    if (T->n == 0)
        return dnn_fail(
            err, DNN_EDATA, "%s: no data rows%s%s", in->source, in->has_header ? " after the header" : "",
            in->dropped_label + in->dropped_feature ? " that were not dropped for missing values" : "");
    ds->source = dnn_strdup(in->source);
    ds->n = T->n;
    ds->d = ds->d_num = T->d;
    ds->dtype = DNN_F32;
    ds->x32 = T->x, T->x = NULL;
    ds->lines = T->lines, T->lines = NULL;
    ds->index = T->index, T->index = NULL;
    ds->dropped_label = in->dropped_label;
    ds->dropped_feature = in->dropped_feature;
    snprintf(ds->header_note, sizeof ds->header_note, "%s", in->header_note);
    snprintf(ds->label_note, sizeof ds->label_note, "%s", in->label_note);
    ds->missing = malloc((T->d + T->nc + 1) * sizeof(size_t));
    if (!ds->source || !ds->missing) return dnn_fail_oom(err, in->source, T->d);
    memcpy(ds->missing, in->missing, (T->d + T->nc) * sizeof(size_t));
    for (size_t j = 0; j < T->d + T->nc; j++) ds->missing_cells += ds->missing[j];
    dnn_status st = DNN_OK;
    if (in->labelled && T->cls) {
        ds->y = T->y, T->y = NULL;
        st = take_classes(ds, in, sc && sc->class_names, err);
    } else if (in->labelled) {
        ds->t = T->t, T->t = NULL;
        ds->n_targets = in->k;
    }
    if (!st && T->nc) st = take_codes(ds, T, in, src, sc, err);
    if (!st) st = take_names(ds, in, sc, T->cls, err);
    return st;
}

dnn_status dnn_csv_load(dnn_dataset *ds, const dnn_source_config *src, dnn_task task, const dnn_schema *sc,
                        dnn_error *err)
{
    memset(ds, 0, sizeof *ds);
    dnn_csv *r;
    dnn_status st = dnn_csv_open(&r, src, task, sc, err);
    if (st) return st;
    const dnn_csv_info *in = dnn_csv_info_of(r);
    table T;
    st = table_init(&T, in, task, src, sc, err);
    const dnn_csv_row *row;
    while (!st && !(st = dnn_csv_next(r, &row, err)) && row)
        st = table_append(&T, in, row, sc, src->max_memory, err);
    in = dnn_csv_info_of(r);
    if (!st) st = table_finish(&T, in, src, sc, ds, err);
    table_free(&T);
    dnn_csv_close(r);
    if (st) dnn_dataset_free(ds);
    return st;
}
