/* Tabular data with a known generating model, for the streaming tests and benchmarks:
 *
 *   gen_tabular ROWS SEED OUT.csv[.gz] [--first N] [--wide-levels]
 *
 * Rows are x01..x30 ~ N(0, 1), colour (8 levels) and city (20 levels, Zipf-like frequencies), and a class y
 * in {no, yes} drawn from P(yes) = sigmoid(w . x + e[colour] + f[city] + b), the weights fixed by the
 * generator (not by SEED, so every file shares one model). --first N numbers the rows from N (to write
 * parts of one data set); --wide-levels adds a column "tag" of 10,000 distinct strings, which carries no
 * signal. On stdout: rows, and the accuracy of the Bayes classifier (predict yes when P(yes) > 1/2) on the
 * labels drawn, against which a model trained on this data is measured. gzip when OUT ends in .gz. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static uint64_t state;

static uint64_t next(void)
{
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform(void)
{
    return (double)(next() >> 11) * 0x1.0p-53;
}

static double normal(void)
{
    return sqrt(-2 * log(1 - uniform())) * cos(6.283185307179586 * uniform());
}

enum { D = 30, COLOURS = 8, CITIES = 20 };
static const char *const colour[COLOURS] = {"red", "green", "blue", "black", "white", "grey", "pink", "teal"};

typedef struct {
    double w[D], e[COLOURS], f[CITIES], b;
} model;

static model the_model(void)
{
    model m;
    uint64_t saved = state;
    state = 12345; /* the same weights for every seed */
    for (int j = 0; j < D; j++) m.w[j] = 0.45 * normal();
    for (int c = 0; c < COLOURS; c++) m.e[c] = 1.2 * normal();
    for (int c = 0; c < CITIES; c++) m.f[c] = 0.8 * normal();
    m.b = 0.2;
    state = saved;
    return m;
}

/* A city with frequencies falling as 1 / (rank + 2). */
static int pick_city(void)
{
    static double cum[CITIES];
    if (cum[CITIES - 1] == 0) {
        double s = 0;
        for (int c = 0; c < CITIES; c++) cum[c] = s += 1.0 / (c + 2);
        for (int c = 0; c < CITIES; c++) cum[c] /= s;
    }
    double u = uniform();
    for (int c = 0; c < CITIES; c++)
        if (u < cum[c]) return c;
    return CITIES - 1;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: gen_tabular ROWS SEED OUT.csv[.gz] [--first N] [--wide-levels]\n");
        return 2;
    }
    long long rows = atoll(argv[1]), first = 0;
    int wide = 0;
    for (int i = 4; i < argc; i++) {
        if (strcmp(argv[i], "--first") == 0 && i + 1 < argc)
            first = atoll(argv[++i]);
        else if (strcmp(argv[i], "--wide-levels") == 0)
            wide = 1;
    }
    const char *out = argv[3];
    size_t n = strlen(out);
    int gz = n > 3 && strcmp(out + n - 3, ".gz") == 0;
    gzFile g = gz ? gzopen(out, "wb6") : NULL;
    FILE *f = gz ? NULL : fopen(out, "wb");
    if (!g && !f) {
        perror(out);
        return 1;
    }
    if (gz) gzbuffer(g, 1 << 18);
    model m = the_model();
    state = (uint64_t)atoll(argv[2]) * 0x2545F4914F6CDD1Dull + (uint64_t)first;
    char line[1024];
    int k = 0;
    for (int j = 0; j < D; j++) k += snprintf(line + k, sizeof line - (size_t)k, "x%02d,", j + 1);
    k += snprintf(line + k, sizeof line - (size_t)k, "colour,city,%sy\n", wide ? "tag," : "");
    if (gz ? gzwrite(g, line, (unsigned)k) != k : fwrite(line, 1, (size_t)k, f) != (size_t)k) return 1;
    long long bayes_hits = 0;
    double bayes_expected = 0;
    for (long long r = 0; r < rows; r++) {
        double logit = m.b;
        k = 0;
        for (int j = 0; j < D; j++) {
            double x = normal();
            logit += m.w[j] * x;
            k += snprintf(line + k, sizeof line - (size_t)k, "%.4f,", x);
        }
        int c = (int)(next() % COLOURS), t = pick_city();
        logit += m.e[c] + m.f[t];
        k += snprintf(line + k, sizeof line - (size_t)k, "%s,city%02d,", colour[c], t);
        if (wide) k += snprintf(line + k, sizeof line - (size_t)k, "t%04d,", (int)(next() % 10000));
        double p = 1 / (1 + exp(-logit));
        int y = uniform() < p;
        bayes_hits += (p > 0.5) == y;
        bayes_expected += p > 0.5 ? p : 1 - p;
        k += snprintf(line + k, sizeof line - (size_t)k, "%s\n", y ? "yes" : "no");
        if (gz ? gzwrite(g, line, (unsigned)k) != k : fwrite(line, 1, (size_t)k, f) != (size_t)k) {
            fprintf(stderr, "%s: write failed\n", out);
            return 1;
        }
    }
    if (gz ? gzclose(g) != Z_OK : fclose(f) != 0) {
        fprintf(stderr, "%s: write failed\n", out);
        return 1;
    }
    printf("rows %lld\nbayes_accuracy %.6f\nbayes_expected %.6f\n", rows,
           rows ? (double)bayes_hits / (double)rows : 0, rows ? bayes_expected / (double)rows : 0);
    return 0;
}
