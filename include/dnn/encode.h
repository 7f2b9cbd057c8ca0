/* Categorical columns, one-hot encoded. Each column keeps its most frequent levels (at most max_categories,
 * sorted by name) and pools every other level, and any level first seen at evaluation, into "__other__",
 * its last level. A missing cell is the level "__missing__", kept or pooled like any other. */
#ifndef DNN_ENCODE_H
#define DNN_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "dnn/error.h"

#define DNN_LEVEL_OTHER   "__other__"
#define DNN_LEVEL_MISSING "__missing__"
/* A level longer than this is never kept as a level of its own (it is free text, not a category). */
#define DNN_LEVEL_MAX_BYTES 1024

/* Counting a column's levels in bounded memory: the SpaceSaving summary of cap counters. It is exact while
 * the column has at most cap distinct levels; beyond, it holds every level more frequent than 1/cap of the
 * cells, with counts too high by at most cells/cap. Levels are keyed by their 64-bit hash. */
typedef struct {
    int cap, n;
    uint64_t *hash;  /* [cap] */
    uint64_t *count; /* [cap] */
    char **text;     /* [cap] */
    int *heap;       /* [cap] entries ordered by count, the smallest first */
    int *where;      /* [cap] an entry's place in heap */
    int32_t *slots;  /* hash -> entry + 1, open addressing over 2 * cap (a power of two) slots */
    size_t nslots;
    uint64_t cells;
} dnn_level_counter;

/* The counters a column gets for a max_categories: 64 per level kept, at least 4096, at most 2^20. */
int dnn_levels_cap(int max_categories);
dnn_status dnn_levels_init(dnn_level_counter *lc, int cap, dnn_error *err);
/* Count one cell with text s[0..n) whose dnn_hash_bytes is h. */
dnn_status dnn_levels_add(dnn_level_counter *lc, const char *s, size_t n, uint64_t h, dnn_error *err);
void dnn_levels_free(dnn_level_counter *lc);

/* One encoded column: its kept levels and "__other__" last; codes index them. */
typedef struct {
    char *name;          /* the column's header name, or its index as text */
    int position;        /* its place among the training file's feature columns (read by position) */
    int n_levels;        /* kept levels + 1 */
    char **levels;       /* [n_levels] */
    uint64_t *slot_hash; /* level hash -> code + 1, open addressing over nslots (a power of two) */
    uint32_t *slot_code;
    size_t nslots;
} dnn_catcol;

typedef struct {
    int n_cat;
    dnn_catcol *cols;
} dnn_encoding;

/* Choose a column's levels from its counter: the max_categories most frequent (ties by name), then sorted
 * by name; "__other__" (never a kept level) last. */
dnn_status dnn_catcol_fit(dnn_catcol *col, const char *name, int position, const dnn_level_counter *lc,
                          int max_categories, dnn_error *err);
/* A column with the given levels (the last must be "__other__"), as read back from a checkpoint. */
dnn_status dnn_catcol_make(dnn_catcol *col, const char *name, int position, char *const *levels, int n,
                           dnn_error *err);
/* The code of a cell: of its hash (as dnn_hash_bytes of its text, or of "__missing__"), "__other__" when the
 * column did not keep it. */
uint32_t dnn_catcol_code(const dnn_catcol *col, uint64_t h);

/* Levels of all columns together: the width of the one-hot features. */
size_t dnn_encoding_width(const dnn_encoding *e);
/* The expanded feature names: num_names[0..n_num) (NULL: "0", "1", ... by column), then "column=level". */
char **dnn_encoding_names(const dnn_encoding *e, char *const *num_names, size_t n_num);
dnn_encoding *dnn_encoding_copy(const dnn_encoding *e);
void dnn_encoding_free(dnn_encoding *e); /* frees e itself too */

#endif
