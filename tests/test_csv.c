/* CSV reader tests: RFC 4180 quoting, line endings, byte-order mark, sniffing, headers, column selection,
 * class and target labels, missing values under each policy, locale independence, and every malformed
 * file with the line and column its message must name. */
#include <locale.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "dnn/csv.h"
#include "dnn/data.h"

static const char *dir;

static const char *write_file(const char *name, const char *text, size_t n)
{
    static char p[8][256];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    FILE *f = fopen(p[k], "wb");
    fwrite(text, 1, n, f);
    fclose(f);
    return p[k];
}

/* Load text as a CSV source with the given options. */
static dnn_status load(const char *text, dnn_source_config src, dnn_task task, const dnn_schema *sc,
                       dnn_dataset *ds, dnn_error *err)
{
    src.format = DNN_FORMAT_CSV;
    src.path = (char *)write_file("t.csv", text, strlen(text));
    memset(err, 0, sizeof *err);
    return dnn_load_source(ds, &src, task, sc, err);
}

static dnn_source_config opts(int header, char delim)
{
    dnn_source_config s = {0};
    s.header = header;
    s.delimiter = delim;
    return s;
}

static void test_numbers(void)
{
    double v;
    CHECK(dnn_csv_number("1.5", 3, &v) == 0 && v == 1.5);
    CHECK(dnn_csv_number(" -2e3 ", 6, &v) == 0 && v == -2000);
    CHECK(dnn_csv_number("+.5", 3, &v) == 0 && v == 0.5);
    CHECK(dnn_csv_number("7.", 2, &v) == 0 && v == 7);
    CHECK(dnn_csv_number("1e-5", 4, &v) == 0 && v == 1e-5);
    CHECK(dnn_csv_number("0.1", 3, &v) == 0 && v == 0.1); /* correctly rounded, as strtod */
    CHECK(dnn_csv_number("123456789012345678901234", 24, &v) == 0 && v == 123456789012345678901234.0);
    CHECK(dnn_csv_number("1e39", 4, &v) == 1); /* overflows a float */
    CHECK(dnn_csv_number("1e400", 5, &v) == 1);
    CHECK(dnn_csv_number("abc", 3, &v) == -1);
    CHECK(dnn_csv_number("1,5", 3, &v) == -1); /* never a decimal comma, whatever the locale */
    CHECK(dnn_csv_number("", 0, &v) == -1);
    CHECK(dnn_csv_number("1e", 2, &v) == -1);
    CHECK(dnn_csv_number("--1", 3, &v) == -1);
    CHECK(dnn_csv_number("inf", 3, &v) == -1);
    /* the fast path agrees with strtod on many numbers of every shape */
    srand(7);
    int bad = 0;
    for (int i = 0; i < 200000; i++) {
        char s[64];
        int kind = i % 4;
        double x = (double)rand() / RAND_MAX * pow(10, rand() % 40 - 20);
        if (kind == 0)
            snprintf(s, sizeof s, "%.6f", x);
        else if (kind == 1)
            snprintf(s, sizeof s, "%.17g", x);
        else if (kind == 2)
            snprintf(s, sizeof s, "%d", rand() - RAND_MAX / 2);
        else
            snprintf(s, sizeof s, "%.3e", -x);
        double want = strtod(s, NULL);
        if (fabs(want) > 3.4e38) continue;
        if (dnn_csv_number(s, strlen(s), &v) != 0 || v != want) bad++;
    }
    CHECK_MSG(bad == 0, "%d numbers parse differently from strtod", bad);
}

static void test_rfc4180(void)
{
    dnn_dataset ds;
    dnn_error err;
    /* quoted fields hold delimiters, doubled quotes and newlines; CRLF and LF mix; a BOM starts the file;
     * blank lines at the end are ignored */
    const char *text = "\xEF\xBB\xBF"
                       "a,\"b, with comma\",label\r\n"
                       "1,2,\"cat \"\"tabby\"\"\"\r\n"
                       "3,4,\"dog\nmulti-line\"\n"
                       "5,6,cat \"tabby\"\n"
                       "\n\r\n\n";
    dnn_status st = load(text, opts(-1, 0), DNN_TASK_CLASSIFICATION, NULL, &ds, &err);
    CHECK_MSG(st == DNN_OK, "%s", err.msg);
    if (!st) {
        CHECK(ds.n == 3 && ds.d == 2);
        CHECK(strcmp(ds.feature_names[0], "a") == 0 && strcmp(ds.feature_names[1], "b, with comma") == 0);
        CHECK(ds.n_classes == 2 && strcmp(ds.class_names[0], "cat \"tabby\"") == 0);
        CHECK(strcmp(ds.class_names[1], "dog\nmulti-line") == 0);
        CHECK(ds.y[0] == 0 && ds.y[1] == 1 && ds.y[2] == 0);
        CHECK(ds.x32[4] == 5 && ds.x32[5] == 6);
        CHECK(ds.lines[0] == 2 && ds.lines[1] == 3 && ds.lines[2] == 5); /* the quoted newline counts */
        dnn_dataset_free(&ds);
    }
    /* the last record needs no newline, quoted or not: 3 rows are 3 rows */
    const char *no_eol[] = {"a,b,y\n1,2,x\n3,4,z\n5,6,x", "a,b,y\r\n1,2,x\r\n3,4,z\r\n5,6,\"x\"",
                            "1,2,x\n3,4,z\n5,6,x"};
    for (int i = 0; i < 3; i++) {
        st = load(no_eol[i], opts(-1, 0), DNN_TASK_CLASSIFICATION, NULL, &ds, &err);
        CHECK_MSG(st == DNN_OK && ds.n == 3 && ds.x32[4] == 5 && ds.x32[5] == 6 && ds.y[2] == 0,
                  "file %d without a final newline: %s", i, err.msg);
        if (!st) dnn_dataset_free(&ds);
    }
    /* every delimiter, given or sniffed */
    const char delims[] = {',', ';', '\t', '|'};
    for (int i = 0; i < 4; i++) {
        char t[256];
        snprintf(t, sizeof t, "x%cy%cz\n1%c2.5%c0\n3%c4%c1\n", delims[i], delims[i], delims[i], delims[i],
                 delims[i], delims[i]);
        for (int given = 0; given < 2; given++) {
            st = load(t, opts(-1, given ? delims[i] : 0), DNN_TASK_CLASSIFICATION, NULL, &ds, &err);
            CHECK_MSG(st == DNN_OK && ds.n == 2 && ds.d == 2 && ds.x32[1] == 2.5f,
                      "delimiter %d given %d: %s", i, given, err.msg);
            if (!st) dnn_dataset_free(&ds);
        }
    }
    /* a semicolon file with decimal points in quotes is still sniffed right */
    CHECK(dnn_csv_sniff("a;b;c\n\"1,5\";2;3\n4;5;6\n", 21) == ';');
    CHECK(dnn_csv_sniff("a\tb\n1\t2\n", 8) == '\t');
    CHECK(dnn_csv_sniff("single\n1\n", 9) == ',');
}

static void test_headers_and_columns(void)
{
    dnn_dataset ds;
    dnn_error err;
    /* no header: auto sees numbers in the first row */
    dnn_status st = load("1,2,0\n3,4,1\n", opts(-1, 0), DNN_TASK_CLASSIFICATION, NULL, &ds, &err);
    CHECK(st == DNN_OK && ds.n == 2 && !ds.feature_names);
    if (!st) dnn_dataset_free(&ds);
    /* header: false reads the first row as data (and fails on its text) */
    CHECK_ERR(load("a,b,c\n1,2,0\n", opts(0, 0), DNN_TASK_CLASSIFICATION, NULL, &ds, &err), err, DNN_EDATA,
              "t.csv:1:", "column \"0\"", "expected a number, got \"a\"");
    /* the label by name, by index, from the end; features and ignore lists */
    dnn_colref lab = {"y", 0}, first = {NULL, 0}, neg = {NULL, -2}, idcol = {"id", 0};
    dnn_source_config o = opts(1, 0);
    o.label = &lab, o.n_label = 1;
    o.ignore = &idcol, o.n_ignore = 1;
    const char *t = "id,y,a,b\n10,1,0.5,7\n11,3,0.25,8\n12,2,0,9\n";
    st = load(t, o, DNN_TASK_CLASSIFICATION, NULL, &ds, &err);
    CHECK_MSG(st == DNN_OK, "%s", err.msg);
    if (!st) {
        CHECK(ds.d == 2 && strcmp(ds.feature_names[0], "a") == 0 && ds.x32[1] == 7);
        /* integer classes sort numerically, and keep their names */
        CHECK(ds.n_classes == 3 && strcmp(ds.class_names[2], "3") == 0 && ds.y[1] == 2 && ds.y[2] == 1);
        dnn_dataset_free(&ds);
    }
    /* numerically means 9 before 10, as text would not have it */
    st = load("a,y\n1,10\n2,9\n3,-1\n", opts(1, 0), DNN_TASK_CLASSIFICATION, NULL, &ds, &err);
    CHECK_MSG(st == DNN_OK, "%s", err.msg);
    if (!st) {
        CHECK(ds.n_classes == 3 && strcmp(ds.class_names[0], "-1") == 0 &&
              strcmp(ds.class_names[1], "9") == 0 && strcmp(ds.class_names[2], "10") == 0 && ds.y[0] == 2 &&
              ds.y[1] == 1 && ds.y[2] == 0);
        dnn_dataset_free(&ds);
    }
    o.label = &neg;
    o.ignore = NULL, o.n_ignore = 0;
    o.features = &first, o.n_features = 1;
    st = load(t, o, DNN_TASK_REGRESSION, NULL, &ds, &err); /* label = column -2 ("a"), feature = column 0 */
    CHECK(st == DNN_OK && ds.d == 1 && ds.n_targets == 1 && ds.t[1] == 0.25f && ds.x32[2] == 12);
    if (!st) dnn_dataset_free(&ds);
    /* several regression targets */
    dnn_colref two[] = {{"a", 0}, {"b", 0}};
    o = opts(1, 0);
    o.label = two, o.n_label = 2;
    st = load(t, o, DNN_TASK_REGRESSION, NULL, &ds, &err);
    CHECK(st == DNN_OK && ds.n_targets == 2 && ds.d == 2 && ds.t[5] == 9 &&
          strcmp(ds.target_names[1], "b") == 0);
    if (!st) dnn_dataset_free(&ds);
    /* a label column that does not exist, by name and by index */
    dnn_colref nope = {"specis", 0}, far = {NULL, 9};
    o = opts(1, 0);
    o.label = &nope, o.n_label = 1;
    CHECK_ERR(load("sepal,species\n1,a\n", o, DNN_TASK_CLASSIFICATION, NULL, &ds, &err), err, DNN_EDATA,
              "t.csv", "no column \"specis\"", "did you mean \"species\"");
    o.label = &far;
    CHECK_ERR(load("a,b\n1,2\n", o, DNN_TASK_CLASSIFICATION, NULL, &ds, &err), err, DNN_EDATA, "no column 9",
              "2 columns");
    o = opts(0, 0);
    o.label = &lab, o.n_label = 1;
    CHECK_ERR(load("1,2\n", o, DNN_TASK_CLASSIFICATION, NULL, &ds, &err), err, DNN_EDATA, "no header");
}

static void test_missing(void)
{
    dnn_dataset ds;
    dnn_error err;
    const char *t = "a,b,y\n1,NA,x\n2,4,x\n,8,z\n4,N/A,\n100,?,z\nnull,16,x\n";
    /* error: the line and the column name */
    CHECK_ERR(load(t, opts(1, 0), DNN_TASK_CLASSIFICATION, NULL, &ds, &err), err, DNN_EDATA,
              "t.csv:2:", "column \"b\"", "missing value");
    /* mean, median, zero: cells kept as NaN and counted; the label-less row dropped */
    const dnn_missing pol[] = {DNN_MISSING_MEAN, DNN_MISSING_MEDIAN, DNN_MISSING_ZERO};
    const float fill_a[] = {(1 + 2 + 100) / 3.0f, 2, 0}, fill_b[] = {(4 + 8 + 16) / 3.0f, 8, 0};
    for (int p = 0; p < 3; p++) {
        dnn_source_config o = opts(1, 0);
        o.missing = pol[p];
        dnn_status st = load(t, o, DNN_TASK_CLASSIFICATION, NULL, &ds, &err);
        CHECK_MSG(st == DNN_OK, "%s", err.msg);
        if (st) continue;
        CHECK(ds.n == 5 && ds.dropped_label == 1 && ds.missing[0] == 2 && ds.missing[1] == 2 &&
              ds.missing_cells == 4);
        CHECK(ds.index[3] == 4); /* the row after the dropped one keeps its place in the file */
        dnn_impute im;
        CHECK(dnn_impute_fit(&im, pol[p], &ds, NULL, 0, &err) == DNN_OK);
        CHECK_NEAR(im.fill[0], fill_a[p], 1e-5);
        CHECK_NEAR(im.fill[1], fill_b[p], 1e-5);
        dnn_impute_apply(&im, &ds);
        CHECK(ds.x32[1] == im.fill[1] && ds.x32[4] == im.fill[0] && !isnan(ds.x32[9]));
        dnn_impute_free(&im);
        dnn_dataset_free(&ds);
    }
    /* training rows only: the statistics ignore rows outside the split */
    dnn_source_config o = opts(1, 0);
    o.missing = DNN_MISSING_MEAN;
    CHECK(load(t, o, DNN_TASK_CLASSIFICATION, NULL, &ds, &err) == DNN_OK);
    uint32_t rows[] = {0, 1};
    dnn_impute im;
    dnn_impute_fit(&im, DNN_MISSING_MEAN, &ds, rows, 2, &err);
    CHECK_NEAR(im.fill[0], 1.5, 1e-6);
    CHECK_NEAR(im.fill[1], 4, 1e-6);
    dnn_impute_free(&im);
    dnn_dataset_free(&ds);
    /* drop: rows with a missing feature go */
    o.missing = DNN_MISSING_DROP;
    CHECK(load(t, o, DNN_TASK_CLASSIFICATION, NULL, &ds, &err) == DNN_OK && ds.n == 1 &&
          ds.dropped_feature == 4 && ds.x32[0] == 2 && ds.index[0] == 1);
    dnn_dataset_free(&ds);
    /* a missing label under "error" */
    CHECK_ERR(load("a,y\n1,x\n2,\n", opts(1, 0), DNN_TASK_CLASSIFICATION, NULL, &ds, &err), err, DNN_EDATA,
              "t.csv:3:", "label is missing");
    /* the default markers in any case */
    o = opts(1, 0);
    o.missing = DNN_MISSING_ZERO;
    dnn_status st =
        load("a,b,y\nna,NULL,x\nn/a,NAN,x\nNa,,x\n1,2,x\n", o, DNN_TASK_CLASSIFICATION, NULL, &ds, &err);
    CHECK_MSG(st == DNN_OK && ds.n == 4 && ds.missing[0] == 3 && ds.missing[1] == 3, "%s", err.msg);
    if (!st) dnn_dataset_free(&ds);
    /* custom markers replace the defaults */
    char *markers[] = {"-999"};
    o = opts(1, 0);
    o.missing = DNN_MISSING_ZERO;
    o.missing_values = markers, o.n_missing_values = 1;
    CHECK(load("a,y\n-999,x\n3,x\n", o, DNN_TASK_CLASSIFICATION, NULL, &ds, &err) == DNN_OK &&
          ds.missing[0] == 1);
    dnn_dataset_free(&ds);
    CHECK_ERR(load("a,y\nNA,x\n", o, DNN_TASK_CLASSIFICATION, NULL, &ds, &err), err, DNN_EDATA,
              "expected a number, got \"NA\"");
    /* an even count's median averages the middle two */
    o.missing = DNN_MISSING_MEDIAN;
    o.missing_values = NULL, o.n_missing_values = 0;
    CHECK(load("a,y\n1,x\n9,x\n3,x\n7,x\nNA,x\n", o, DNN_TASK_CLASSIFICATION, NULL, &ds, &err) == DNN_OK);
    dnn_impute_fit(&im, DNN_MISSING_MEDIAN, &ds, NULL, 0, &err);
    CHECK_NEAR(im.fill[0], 5, 0);
    dnn_impute_free(&im);
    dnn_dataset_free(&ds);
}

static void test_malformed(void)
{
    dnn_dataset ds;
    dnn_error err;
    dnn_source_config o = opts(-1, 0);
    CHECK_ERR(load("a,b,y\n1,2,x\n3,4\n", o, DNN_TASK_CLASSIFICATION, NULL, &ds, &err), err, DNN_EDATA,
              "t.csv:3:", "2 fields, expected 3");
    CHECK_ERR(load("a,b,y\n1,2,x\n3,4,x,5\n", o, DNN_TASK_CLASSIFICATION, NULL, &ds, &err), err, DNN_EDATA,
              "t.csv:3:", "4 fields");
    CHECK_ERR(load("a,b,y\n1,2,x\n3,four,x\n", o, DNN_TASK_CLASSIFICATION, NULL, &ds, &err), err, DNN_EDATA,
              "t.csv:3:", "column \"b\"", "expected a number, got \"four\"");
    CHECK_ERR(load("a,b,y\n1,2,x\n3,\"4,x\n5,6,y\n", o, DNN_TASK_CLASSIFICATION, NULL, &ds, &err), err,
              DNN_EDATA, "t.csv:3:", "never closed");
    CHECK_ERR(load("a,b,y\n1,\"2\"x,x\n", o, DNN_TASK_CLASSIFICATION, NULL, &ds, &err), err, DNN_EDATA,
              "t.csv:2:", "after the closing quote");
    const char nul[] = "a,b,y\n1,2,x\n3,\0,x\n";
    o.path = (char *)write_file("nul.csv", nul, sizeof nul - 1);
    o.format = DNN_FORMAT_CSV;
    CHECK_ERR(dnn_load_source(&ds, &o, DNN_TASK_CLASSIFICATION, NULL, &err), err, DNN_EDATA,
              "nul.csv:3:", "NUL byte", "offset 14");
    CHECK_ERR(load("a,b,y\n1,1e39,x\n", o, DNN_TASK_CLASSIFICATION, NULL, &ds, &err), err, DNN_EDATA,
              "t.csv:2:", "too large for a float", "1e39");
    CHECK_ERR(load("", o, DNN_TASK_CLASSIFICATION, NULL, &ds, &err), err, DNN_EDATA, "t.csv", "empty");
    CHECK_ERR(load("\n\n\n", o, DNN_TASK_CLASSIFICATION, NULL, &ds, &err), err, DNN_EDATA, "t.csv",
              "no rows");
    CHECK_ERR(load("a,b,y\n", o, DNN_TASK_CLASSIFICATION, NULL, &ds, &err), err, DNN_EDATA, "t.csv",
              "no data rows after the header");
    CHECK_ERR(load("a,b,y\n1,2,x\n", o, DNN_TASK_REGRESSION, NULL, &ds, &err), err, DNN_EDATA,
              "target column \"y\"", "got \"x\"");
    o.path = "/nonexistent/d.csv";
    CHECK_ERR(dnn_load_source(&ds, &o, DNN_TASK_CLASSIFICATION, NULL, &err), err, DNN_EIO,
              "/nonexistent/d.csv", "cannot open");
    /* a field too long to be a record of real data: refused, not allocated without bound */
    size_t big = (17u << 20);
    char *huge = malloc(big + 16);
    memset(huge, '1', big);
    memcpy(huge + big, "\n", 2);
    o.path = (char *)write_file("huge.csv", huge, big + 1);
    CHECK_ERR(dnn_load_source(&ds, &o, DNN_TASK_CLASSIFICATION, NULL, &err), err, DNN_EDATA,
              "huge.csv:1:", "longer than 16 MiB");
    free(huge);
}

/* Reading new data for a trained model: features by name in any order, prediction without labels, labels by
 * the model's class names. */
static void test_schema(void)
{
    dnn_dataset ds;
    dnn_error err;
    char *feats[] = {"a", "b"}, *classes[] = {"no", "yes"};
    dnn_schema sc = {.n_features = 2,
                     .feature_names = feats,
                     .n_classes = 2,
                     .class_names = classes,
                     .labels_optional = 1};
    dnn_colref lab = {"y", 0};
    dnn_source_config o = opts(-1, 0);
    o.label = &lab, o.n_label = 1;
    dnn_status st = load("b,extra,y,a\n2,9,yes,1\n4,9,no,3\n", o, DNN_TASK_CLASSIFICATION, &sc, &ds, &err);
    CHECK_MSG(st == DNN_OK, "%s", err.msg);
    if (!st) {
        CHECK(ds.d == 2 && ds.x32[0] == 1 && ds.x32[1] == 2 && ds.y[0] == 1 && ds.y[1] == 0);
        dnn_dataset_free(&ds);
    }
    st = load("a,b\n1,2\n", o, DNN_TASK_CLASSIFICATION, &sc, &ds, &err);
    CHECK(st == DNN_OK && ds.n == 1 && ds.y == NULL);
    if (!st) dnn_dataset_free(&ds);
    CHECK_ERR(load("a,b,y\n1,2,maybe\n", o, DNN_TASK_CLASSIFICATION, &sc, &ds, &err), err, DNN_EDATA,
              "t.csv:2:", "label \"maybe\" is not one of the model's classes", "\"no\", \"yes\"");
    CHECK_ERR(load("a,c,y\n1,2,no\n", o, DNN_TASK_CLASSIFICATION, &sc, &ds, &err), err, DNN_EDATA,
              "no column \"b\"");
    /* without a header: by position, the label column optional */
    sc.feature_names = NULL;
    o = opts(0, 0);
    st = load("1,2\n3,4\n", o, DNN_TASK_CLASSIFICATION, &sc, &ds, &err);
    CHECK(st == DNN_OK && ds.n == 2 && !ds.y);
    if (!st) dnn_dataset_free(&ds);
    st = load("1,2,yes\n", o, DNN_TASK_CLASSIFICATION, &sc, &ds, &err);
    CHECK(st == DNN_OK && ds.y && ds.y[0] == 1);
    if (!st) dnn_dataset_free(&ds);
    CHECK_ERR(load("1,2,3,yes\n", o, DNN_TASK_CLASSIFICATION, &sc, &ds, &err), err, DNN_EDATA,
              "3 feature columns", "takes 2");
}

/* "header": "auto": each rule of dnn_csv_sniff_header on the files it is for. */
static int sniff(const char *text)
{
    dnn_source_config src = {0};
    char why[160];
    return dnn_csv_sniff_header(text, strlen(text), 1, ',', &src, why, sizeof why);
}

static void test_header_sniffing(void)
{
    CHECK(sniff("a,b,y\n1,2,x\n3,4,z\n") == 1);                                 /* names over numbers */
    CHECK(sniff("1,2,x\n3,4,z\n") == 0);                                        /* numbers over numbers */
    CHECK(sniff("0,1,2,species\n5.1,3.5,1.4,setosa\n4.9,3,1.4,setosa\n") == 1); /* pandas' column numbers */
    CHECK(sniff("0,1,2,3\n12,200,0,4\n0,3,255,1\n") == 1);                      /* even over integers */
    CHECK(sniff("1,2,3,4\n0.5,0.25,7,1\n") == 1);                               /* 1-based column numbers */
    CHECK(sniff("10,12.5,3.1,setosa\n9.5,12,3,versicolor\n") == 0);   /* an integer among fractions */
    CHECK(sniff("2019,2020,2021\n0.5,1.5,2.5\n1.25,0.5,3\n") == 1);   /* integer names over fractions */
    CHECK(sniff("5,7,red\n6,8,blue\n") == 0);                         /* data with a text column */
    CHECK(sniff("colour,size\nred,big\nblue,big\nred,small\n") == 1); /* a word that is no level */
    CHECK(sniff("red,big\nblue,big\nred,small\n") == 0);              /* a level that repeats below */
    CHECK(sniff("x,y\n") == 1);                                       /* no rows: no numbers, a header */
    CHECK(sniff("1,NA,3\n4,5,6\n") == 0);                             /* a missing value is no name */
    CHECK(sniff("id,,y\n1,,2\n") == 1);                               /* an empty name among names */
    /* quoted fields and CRLF line ends */
    CHECK(sniff("\"a\",\"b\"\r\n\"1\",\"2\"\r\n") == 1);
    CHECK(sniff("\"1\",\"2\"\r\n\"3\",\"4\"\r\n") == 0);
}

/* Names tell columns apart; unnamed columns are never silently read; decimal commas get a hint; a cut gzip
 * file is named. */
static void test_names(void)
{
    dnn_dataset ds;
    dnn_error err;
    CHECK_ERR(load("x1,x1,x3,y\n1,2,3,a\n", opts(-1, 0), DNN_TASK_CLASSIFICATION, NULL, &ds, &err), err,
              DNN_EDATA, "t.csv:1:", "duplicate column name \"x1\"", "columns 0 and 1");
    /* a trailing delimiter on every line, with and without a header: the empty column is no column */
    dnn_status st = load("a,b,y,\n1,2,p,\n3,4,q,\n", opts(-1, 0), DNN_TASK_CLASSIFICATION, NULL, &ds, &err);
    CHECK_MSG(st == DNN_OK, "%s", err.msg);
    if (!st) {
        CHECK(ds.d == 2 && ds.n_classes == 2 && strcmp(ds.class_names[1], "q") == 0);
        dnn_dataset_free(&ds);
    }
    st = load("1,2,p,\n3,4,q,\n", opts(-1, 0), DNN_TASK_CLASSIFICATION, NULL, &ds, &err);
    CHECK_MSG(st == DNN_OK && ds.d == 2 && ds.n == 2 && ds.n_classes == 2, "%s", err.msg);
    if (!st) dnn_dataset_free(&ds);
    /* an unnamed column with values: refused in training, unless listed */
    CHECK_ERR(load(",a,y\n0,1,p\n1,2,q\n", opts(-1, 0), DNN_TASK_CLASSIFICATION, NULL, &ds, &err), err,
              DNN_EDATA, "t.csv:2:", "column 0 has no name", "\"0\"", "ignore");
    dnn_colref zero = {NULL, 0};
    dnn_source_config o = opts(-1, 0);
    o.ignore = &zero, o.n_ignore = 1;
    st = load(",a,y\n0,1,p\n1,2,q\n", o, DNN_TASK_CLASSIFICATION, NULL, &ds, &err);
    CHECK_MSG(st == DNN_OK && ds.d == 1 && ds.x32[1] == 2, "%s", err.msg);
    if (!st) dnn_dataset_free(&ds);
    /* a missing value in the last column of the first line is not a trailing delimiter */
    o = opts(0, 0);
    o.missing = DNN_MISSING_MEAN;
    st = load("1,2,\n3,4,5\n6,7,8\n", o, DNN_TASK_REGRESSION, NULL, &ds, &err);
    CHECK_MSG(st == DNN_OK && ds.n == 2 && ds.dropped_label == 1, "%s", err.msg);
    if (!st) dnn_dataset_free(&ds);
    CHECK_ERR(load("a;b;y\n3,14;2;x\n", opts(1, ';'), DNN_TASK_CLASSIFICATION, NULL, &ds, &err), err,
              DNN_EDATA, "\"3,14\"", "decimal comma");
    static const char gz[] = "\x1f\x8b\x08\x00rest";
    write_file("t.csv.gz", gz, sizeof gz - 1);
    o = opts(-1, 0);
    o.format = DNN_FORMAT_CSV;
    char path[300];
    snprintf(path, sizeof path, "%s/t.csv.gz", dir);
    o.path = path;
    CHECK_ERR(dnn_load_source(&ds, &o, DNN_TASK_CLASSIFICATION, NULL, &err), err, DNN_EDATA, "t.csv.gz",
              "truncated gzip stream");
}

/* A model's targets are found by their training names wherever they are, or not at all. */
static void test_labels_by_name(void)
{
    dnn_dataset ds;
    dnn_error err;
    char *feats[] = {"a", "b"}, *labels[] = {"y"};
    dnn_schema sc = {.n_features = 2,
                     .feature_names = feats,
                     .n_targets = 1,
                     .label_names = labels,
                     .n_label_names = 1,
                     .labels_optional = 1};
    dnn_status st =
        load("y,b,a,row_id\n5,2,1,0\n6,4,3,1\n", opts(-1, 0), DNN_TASK_REGRESSION, &sc, &ds, &err);
    CHECK_MSG(st == DNN_OK && ds.t && ds.t[0] == 5 && ds.t[1] == 6 && ds.x32[0] == 1, "%s", err.msg);
    if (!st) dnn_dataset_free(&ds);
    st = load("b,a,row_id\n2,1,0\n", opts(-1, 0), DNN_TASK_REGRESSION, &sc, &ds, &err);
    CHECK_MSG(st == DNN_OK && !ds.t && strstr(ds.label_note, "no column \"y\""), "%s", err.msg);
    if (!st) dnn_dataset_free(&ds);
    sc.labels_optional = 0;
    CHECK_ERR(load("b,a,row_id\n2,1,0\n", opts(-1, 0), DNN_TASK_REGRESSION, &sc, &ds, &err), err, DNN_EDATA,
              "no column \"y\"");
}

/* Standard input, as in `cat new.csv | dnneval --data -`. */
static void test_stdin(void)
{
    const char *p = write_file("in.csv", "a,y\n1,x\n2,z\n", 12);
    if (!freopen(p, "rb", stdin)) {
        check_failures++;
        return;
    }
    dnn_source_config o = opts(-1, 0);
    o.format = DNN_FORMAT_CSV;
    o.path = "-";
    dnn_dataset ds;
    dnn_error err;
    dnn_status st = dnn_load_source(&ds, &o, DNN_TASK_CLASSIFICATION, NULL, &err);
    CHECK_MSG(st == DNN_OK && ds.n == 2 && strcmp(ds.source, "<stdin>") == 0, "%s", err.msg);
    if (!st) dnn_dataset_free(&ds);
}

/* A German locale (decimal comma) must change nothing. */
static void test_locale(void)
{
    if (!setlocale(LC_ALL, "de_DE.UTF-8")) {
        check_skip("the locale de_DE.UTF-8 is not installed (scripts/deps.sh's ensure_test_locale makes it)");
        return;
    }
    char buf[32];
    snprintf(buf, sizeof buf, "%.1f", 1.5);
    CHECK(strcmp(buf, "1,5") == 0); /* the locale is really active */
    dnn_dataset ds;
    dnn_error err;
    dnn_status st =
        load("a;b;y\n1.25;1e5;x\n\"2,5\";3;z\n", opts(1, ';'), DNN_TASK_CLASSIFICATION, NULL, &ds, &err);
    CHECK_ERR(st, err, DNN_EDATA, "expected a number, got \"2,5\"");
    double v;
    CHECK(dnn_csv_number("1.25", 4, &v) == 0 && v == 1.25);
    CHECK(dnn_csv_number("12345678901234567890.5", 22, &v) == 0 && v == 12345678901234567890.5);
    st = load("a,y\n1.25,x\n", opts(1, 0), DNN_TASK_CLASSIFICATION, NULL, &ds, &err);
    CHECK(st == DNN_OK && ds.x32[0] == 1.25f);
    if (!st) dnn_dataset_free(&ds);
    setlocale(LC_ALL, "C");
}

/* One-hot encoding by hand: levels kept by count (ties by name), sorted by name, the rest and the unseen in
 * __other__, a missing cell a level of its own. */
static void test_categorical(void)
{
    dnn_dataset ds;
    dnn_error err;
    const char *t =
        "n,colour,y\n1,red,a\n2,blue,b\n3,red,a\n4,green,b\n5,,a\n6,blue,b\n7,red,a\n8,__other__,b\n";
    dnn_colref col = {"colour", 0};
    dnn_source_config o = opts(1, 0);
    o.categorical = &col, o.n_categorical = 1, o.max_categories = 2;
    dnn_status st = load(t, o, DNN_TASK_CLASSIFICATION, NULL, &ds, &err);
    CHECK_MSG(st == DNN_OK, "%s", err.msg);
    if (st) return;
    /* red 3, blue 2: kept; green, a missing cell and "__other__" itself pooled */
    CHECK(ds.d_num == 1 && ds.n_cat == 1 && ds.d == 4 && ds.cat_width[0] == 3);
    CHECK(ds.enc && strcmp(ds.enc->cols[0].levels[0], "blue") == 0 &&
          strcmp(ds.enc->cols[0].levels[1], "red") == 0 &&
          strcmp(ds.enc->cols[0].levels[2], "__other__") == 0);
    CHECK(strcmp(ds.feature_names[0], "n") == 0 && strcmp(ds.feature_names[1], "colour=blue") == 0 &&
          strcmp(ds.feature_names[3], "colour=__other__") == 0);
    CHECK(strcmp(ds.column_names[1], "colour") == 0 && ds.missing[1] == 1 && ds.missing[0] == 0);
    const uint32_t want[] = {1, 0, 1, 2, 2, 0, 1, 2};
    for (int i = 0; i < 8; i++)
        CHECK_MSG(ds.cat[i] == want[i], "row %d: code %u, expected %u", i, ds.cat[i], want[i]);
    /* gathered: the number, then the one-hot block */
    dnn_norm nm;
    CHECK(dnn_norm_init(&nm, ds.d, 0, &err) == DNN_OK);
    float x[2 * 4];
    uint32_t rows[] = {1, 4};
    dnn_gather(&ds, &nm, rows, 2, x, NULL, NULL);
    const float hand[] = {2, 1, 0, 0, 5, 0, 0, 1};
    CHECK(memcmp(x, hand, sizeof hand) == 0);
    dnn_norm_free(&nm);
    /* a model's levels: an unseen level is __other__, never an error */
    dnn_encoding *enc = dnn_encoding_copy(ds.enc);
    char *feats[] = {"n", "colour=blue", "colour=red", "colour=__other__"}, *classes[] = {"a", "b"};
    dnn_schema sc = {.n_features = 4,
                     .feature_names = feats,
                     .n_classes = 2,
                     .class_names = classes,
                     .labels_optional = 1,
                     .enc = enc};
    dnn_dataset_free(&ds);
    st = load("colour,n\npurple,1\nred,2\n,3\n", opts(1, 0), DNN_TASK_CLASSIFICATION, &sc, &ds, &err);
    CHECK_MSG(st == DNN_OK && ds.n == 3 && ds.d == 4 && ds.cat[0] == 2 && ds.cat[1] == 1 && ds.cat[2] == 2 &&
                  ds.x32[1] == 2,
              "%s", err.msg);
    if (!st) dnn_dataset_free(&ds);
    dnn_encoding_free(enc);
    /* with room for three, the tie between green and the missing level goes by name */
    o.max_categories = 3;
    st = load(t, o, DNN_TASK_CLASSIFICATION, NULL, &ds, &err);
    CHECK(st == DNN_OK && ds.cat_width[0] == 4 && strcmp(ds.enc->cols[0].levels[0], "__missing__") == 0);
    if (!st) dnn_dataset_free(&ds);
    /* "auto": the columns that hold text; a text cell in a numeric column says what to do */
    o = opts(1, 0);
    o.categorical_auto = 1, o.missing = DNN_MISSING_MEAN;
    st = load("a,b,c,y\n1,x,2.5,p\n2,y,NA,q\n", o, DNN_TASK_CLASSIFICATION, NULL, &ds, &err);
    CHECK(st == DNN_OK && ds.d_num == 2 && ds.n_cat == 1 && strcmp(ds.column_names[2], "b") == 0);
    if (!st) dnn_dataset_free(&ds);
    CHECK_ERR(load("a,b,y\n1,x,p\n2,y,q\n", opts(1, 0), DNN_TASK_CLASSIFICATION, NULL, &ds, &err), err,
              DNN_EDATA, "column \"b\"", "list it in data.categorical");
    dnn_colref lab = {"y", 0};
    o = opts(1, 0);
    o.categorical = &lab, o.n_categorical = 1;
    CHECK_ERR(load("a,y\n1,p\n", o, DNN_TASK_CLASSIFICATION, NULL, &ds, &err), err, DNN_ECONFIG,
              "data.categorical", "\"y\" is not a feature");
}

/* A source in parts: each with its header, plain or gzip, empty ones skipped; the header must not change. */
static void test_parts(void)
{
    write_file("p1.csv", "a,y\n1,x\n2,z\n", 12);
    write_file("p2.csv", "", 0);
    write_file("p3.csv", "a,y\n3,x\n", 8);
    write_file("p4.csv", "b,y\n4,x\n", 8);
    char *list[] = {(char *)write_file("p1.csv", "a,y\n1,x\n2,z\n", 12), NULL, NULL};
    char p2[300], p3[300], p4[300], glob[300];
    snprintf(p2, sizeof p2, "%s/p2.csv", dir);
    snprintf(p3, sizeof p3, "%s/p3.csv", dir);
    snprintf(p4, sizeof p4, "%s/p4.csv", dir);
    list[1] = p2, list[2] = p3;
    dnn_source_config o = opts(-1, 0);
    o.format = DNN_FORMAT_CSV, o.path = list[0], o.paths = list, o.n_paths = 3;
    dnn_dataset ds;
    dnn_error err;
    dnn_status st = dnn_load_source(&ds, &o, DNN_TASK_CLASSIFICATION, NULL, &err);
    CHECK_MSG(st == DNN_OK && ds.n == 3 && ds.x32[2] == 3 && ds.index[2] == 2 && ds.lines[2] == 2, "%s",
              err.msg);
    if (!st) dnn_dataset_free(&ds);
    list[2] = p4;
    CHECK_ERR(dnn_load_source(&ds, &o, DNN_TASK_CLASSIFICATION, NULL, &err), err, DNN_EDATA,
              "p4.csv:1:", "header differs", "\"b\" here, \"a\" there");
    snprintf(glob, sizeof glob, "%s/nothing-*.csv", dir);
    list[2] = glob;
    CHECK_ERR(dnn_load_source(&ds, &o, DNN_TASK_CLASSIFICATION, NULL, &err), err, DNN_EIO, "nothing-*.csv",
              "no file matches");
    list[2] = "/nonexistent/x.csv";
    CHECK_ERR(dnn_load_source(&ds, &o, DNN_TASK_CLASSIFICATION, NULL, &err), err, DNN_EIO,
              "/nonexistent/x.csv", "cannot open");
    /* gzip, told by content: the same rows as the plain file */
    const char *text = "a,b,y\n1.5,2,x\n3,4.25,z\n";
    char gzp[300];
    snprintf(gzp, sizeof gzp, "%s/g.csv.gz", dir);
    gzFile g = gzopen(gzp, "wb");
    gzwrite(g, text, (unsigned)strlen(text));
    gzclose(g);
    o = opts(-1, 0);
    o.format = DNN_FORMAT_CSV, o.path = gzp;
    st = dnn_load_source(&ds, &o, DNN_TASK_CLASSIFICATION, NULL, &err);
    CHECK_MSG(st == DNN_OK && ds.n == 2 && ds.x32[1] == 2 && ds.x32[3] == 4.25f, "%s", err.msg);
    if (!st) dnn_dataset_free(&ds);
}

int main(void)
{
    dir = check_tmpdir("test_csv");
    test_numbers();
    test_rfc4180();
    test_headers_and_columns();
    test_missing();
    test_malformed();
    test_schema();
    test_header_sniffing();
    test_names();
    test_labels_by_name();
    test_stdin();
    test_categorical();
    test_parts();
    test_locale();
    check_rmdir();
    return check_done("test_csv");
}
