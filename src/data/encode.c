/* Categorical encoding: SpaceSaving counters (a heap of counts plus a hash index), vocabularies chosen from
 * them, and hash lookups from a cell to its code. */
#include "dnn/encode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/strtab.h"
#include "dnn/util.h"

/* ---- the counter ---- */

int dnn_levels_cap(int max_categories)
{
    long cap = 64L * max_categories;
    return cap < 4096 ? 4096 : cap > (1L << 20) ? 1 << 20 : (int)cap;
}

dnn_status dnn_levels_init(dnn_level_counter *lc, int cap, dnn_error *err)
{
    memset(lc, 0, sizeof *lc);
    lc->cap = cap;
    lc->nslots = 1;
    while (lc->nslots < 2 * (size_t)cap) lc->nslots *= 2;
    lc->hash = calloc((size_t)cap, sizeof *lc->hash);
    lc->count = calloc((size_t)cap, sizeof *lc->count);
    lc->text = calloc((size_t)cap, sizeof *lc->text);
    lc->heap = calloc((size_t)cap, sizeof *lc->heap);
    lc->where = calloc((size_t)cap, sizeof *lc->where);
    lc->slots = calloc(lc->nslots, sizeof *lc->slots);
    if (lc->hash && lc->count && lc->text && lc->heap && lc->where && lc->slots) return DNN_OK;
    dnn_levels_free(lc);
    return dnn_fail_oom(err, "a categorical column's level counts", (size_t)cap * 48);
}

void dnn_levels_free(dnn_level_counter *lc)
{
    for (int i = 0; lc->text && i < lc->n; i++) free(lc->text[i]);
    free(lc->hash);
    free(lc->count);
    free(lc->text);
    free(lc->heap);
    free(lc->where);
    free(lc->slots);
    memset(lc, 0, sizeof *lc);
}

static size_t slot_of(const dnn_level_counter *lc, uint64_t h)
{
    size_t k = h & (lc->nslots - 1);
    while (lc->slots[k] && lc->hash[lc->slots[k] - 1] != h) k = (k + 1) & (lc->nslots - 1);
    return k;
}

/* Remove the entry in slot k, shifting later entries of its probe run back (no tombstones). */
static void slot_remove(dnn_level_counter *lc, size_t k)
{
    const size_t mask = lc->nslots - 1;
    lc->slots[k] = 0;
    for (size_t j = (k + 1) & mask; lc->slots[j]; j = (j + 1) & mask) {
        size_t home = lc->hash[lc->slots[j] - 1] & mask;
        /* the entry at j may move to k when k lies on its probe path, from home to j */
        if ((j > k && (home <= k || home > j)) || (j < k && home <= k && home > j)) {
            lc->slots[k] = lc->slots[j];
            lc->slots[j] = 0;
            k = j;
        }
    }
}

static void heap_swap(dnn_level_counter *lc, int a, int b)
{
    int t = lc->heap[a];
    lc->heap[a] = lc->heap[b];
    lc->heap[b] = t;
    lc->where[lc->heap[a]] = a;
    lc->where[lc->heap[b]] = b;
}

/* A count grew: move its entry down the min-heap. */
static void sift_down(dnn_level_counter *lc, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < lc->n && lc->count[lc->heap[l]] < lc->count[lc->heap[m]]) m = l;
        if (r < lc->n && lc->count[lc->heap[r]] < lc->count[lc->heap[m]]) m = r;
        if (m == i) return;
        heap_swap(lc, i, m);
        i = m;
    }
}

dnn_status dnn_levels_add(dnn_level_counter *lc, const char *s, size_t n, uint64_t h, dnn_error *err)
{
    lc->cells++;
    if (n > DNN_LEVEL_MAX_BYTES) return DNN_OK; /* never a level of its own: nothing to count */
    size_t k = slot_of(lc, h);
    if (lc->slots[k]) {
        int e = lc->slots[k] - 1;
        lc->count[e]++;
        sift_down(lc, lc->where[e]);
        return DNN_OK;
    }
    char *copy = malloc(n + 1);
    if (!copy) return dnn_fail_oom(err, "a categorical level", n);
    memcpy(copy, s, n);
    copy[n] = '\0';
    int e;
    uint64_t count = 1;
    if (lc->n < lc->cap) {
        e = lc->n++;
        lc->heap[e] = e;
        lc->where[e] = e;
        lc->count[e] = 1;
        for (int i = e; i > 0 && lc->count[lc->heap[(i - 1) / 2]] > 1; i = (i - 1) / 2)
            heap_swap(lc, i, (i - 1) / 2);
    } else {
        /* SpaceSaving: the new level takes over the smallest counter, and its count */
        e = lc->heap[0];
        count = lc->count[e] + 1;
        slot_remove(lc, slot_of(lc, lc->hash[e]));
        free(lc->text[e]);
        k = slot_of(lc, h);
    }
    lc->hash[e] = h;
    lc->count[e] = count;
    lc->text[e] = copy;
    lc->slots[k] = e + 1;
    sift_down(lc, lc->where[e]);
    return DNN_OK;
}

/* ---- vocabularies ---- */

static void catcol_free(dnn_catcol *col)
{
    free(col->name);
    dnn_strings_free(col->levels, (size_t)col->n_levels);
    free(col->slot_hash);
    free(col->slot_code);
    memset(col, 0, sizeof *col);
}

/* Index the levels by hash; "__other__" is the last level and what an unknown hash maps to. */
static dnn_status index_levels(dnn_catcol *col, dnn_error *err)
{
    col->nslots = 4;
    while (col->nslots < 2 * (size_t)col->n_levels) col->nslots *= 2;
    col->slot_hash = calloc(col->nslots, sizeof *col->slot_hash);
    col->slot_code = calloc(col->nslots, sizeof *col->slot_code);
    if (!col->slot_hash || !col->slot_code)
        return dnn_fail_oom(err, "a categorical column", col->nslots * 12);
    for (int c = 0; c < col->n_levels; c++) {
        uint64_t h = dnn_hash_bytes(col->levels[c], strlen(col->levels[c]));
        size_t k = h & (col->nslots - 1);
        while (col->slot_code[k] && col->slot_hash[k] != h) k = (k + 1) & (col->nslots - 1);
        col->slot_hash[k] = h;
        col->slot_code[k] = (uint32_t)c + 1;
    }
    return DNN_OK;
}

uint32_t dnn_catcol_code(const dnn_catcol *col, uint64_t h)
{
    size_t k = h & (col->nslots - 1);
    while (col->slot_code[k]) {
        if (col->slot_hash[k] == h) return col->slot_code[k] - 1;
        k = (k + 1) & (col->nslots - 1);
    }
    return (uint32_t)col->n_levels - 1;
}

dnn_status dnn_catcol_make(dnn_catcol *col, const char *name, int position, char *const *levels, int n,
                           dnn_error *err)
{
    memset(col, 0, sizeof *col);
    col->position = position;
    col->name = dnn_strdup(name);
    col->levels = dnn_strings_copy(levels, (size_t)n);
    col->n_levels = col->levels ? n : 0;
    dnn_status st = col->name && col->levels ? index_levels(col, err) : dnn_fail_oom(err, name, (size_t)n);
    if (st) catcol_free(col);
    return st;
}

typedef struct {
    const dnn_level_counter *lc;
} by_count_ctx;

/* Most frequent first; equal counts by name, so the choice never depends on the order rows came in. */
static int by_count(const void *a, const void *b, void *ctx)
{
    const dnn_level_counter *lc = ((const by_count_ctx *)ctx)->lc;
    int x = *(const int *)a, y = *(const int *)b;
    if (lc->count[x] != lc->count[y]) return lc->count[x] > lc->count[y] ? -1 : 1;
    return strcmp(lc->text[x], lc->text[y]);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

dnn_status dnn_catcol_fit(dnn_catcol *col, const char *name, int position, const dnn_level_counter *lc,
                          int max_categories, dnn_error *err)
{
    int *order = malloc(((size_t)lc->n + 1) * sizeof *order);
    char **kept = malloc(((size_t)max_categories + 1) * sizeof *kept);
    if (!order || !kept) {
        free(order);
        free(kept);
        return dnn_fail_oom(err, name, (size_t)lc->n * sizeof *order);
    }
    for (int i = 0; i < lc->n; i++) order[i] = i;
    by_count_ctx ctx = {lc};
    qsort_r(order, (size_t)lc->n, sizeof *order, by_count, &ctx);
    int n = 0;
    for (int i = 0; i < lc->n && n < max_categories; i++)
        if (strcmp(lc->text[order[i]], DNN_LEVEL_OTHER) != 0) kept[n++] = lc->text[order[i]];
    qsort(kept, (size_t)n, sizeof *kept, by_name);
    kept[n++] = DNN_LEVEL_OTHER;
    dnn_status st = dnn_catcol_make(col, name, position, kept, n, err);
    free(order);
    free(kept);
    return st;
}

size_t dnn_encoding_width(const dnn_encoding *e)
{
    size_t w = 0;
    for (int c = 0; e && c < e->n_cat; c++) w += (size_t)e->cols[c].n_levels;
    return w;
}

char **dnn_encoding_names(const dnn_encoding *e, char *const *num_names, size_t n_num)
{
    size_t d = n_num + dnn_encoding_width(e), j = 0;
    char **names = calloc(d ? d : 1, sizeof *names);
    if (!names) return NULL;
    for (; j < n_num; j++)
        if (!(names[j] = dnn_strdup(num_names[j]))) goto fail;
    for (int c = 0; e && c < e->n_cat; c++)
        for (int l = 0; l < e->cols[c].n_levels; l++, j++) {
            const dnn_catcol *col = &e->cols[c];
            size_t len = strlen(col->name) + strlen(col->levels[l]) + 2;
            if (!(names[j] = malloc(len))) goto fail;
            snprintf(names[j], len, "%s=%s", col->name, col->levels[l]);
        }
    return names;
fail:
    dnn_strings_free(names, j);
    return NULL;
}

dnn_encoding *dnn_encoding_copy(const dnn_encoding *e)
{
    dnn_encoding *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->cols = calloc((size_t)e->n_cat + 1, sizeof *c->cols);
    if (!c->cols) {
        free(c);
        return NULL;
    }
    dnn_error err;
    for (int i = 0; i < e->n_cat; i++, c->n_cat = i) {
        const dnn_catcol *s = &e->cols[i];
        if (dnn_catcol_make(&c->cols[i], s->name, s->position, s->levels, s->n_levels, &err)) {
            dnn_encoding_free(c);
            return NULL;
        }
    }
    c->n_cat = e->n_cat;
    return c;
}

void dnn_encoding_free(dnn_encoding *e)
{
    if (!e) return;
    for (int i = 0; i < e->n_cat; i++) catcol_free(&e->cols[i]);
    free(e->cols);
    free(e);
}
