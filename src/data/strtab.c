/* String table: open addressing with linear probing, kept at most half full. */
#include "dnn/strtab.h"

#include <stdlib.h>
#include <string.h>

uint64_t dnn_hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    /* FNV's low bits depend weakly on the last bytes; a murmur finalizer spreads every byte over them */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static int grow(dnn_strtab *t)
{
    size_t ns = t->nslots ? t->nslots * 2 : 64;
    int32_t *sl = calloc(ns, sizeof *sl);
    if (!sl) return -1;
    for (int i = 0; i < t->n; i++) {
        size_t k = dnn_hash_bytes(t->names[i], strlen(t->names[i])) & (ns - 1);
        while (sl[k]) k = (k + 1) & (ns - 1);
        sl[k] = i + 1;
    }
    free(t->slots);
    t->slots = sl;
    t->nslots = ns;
    return 0;
}

int dnn_strtab_id(dnn_strtab *t, const char *s, size_t n, int add)
{
    if (t->nslots == 0 && !add) return -1;
    if (add && (size_t)(t->n + 1) * 2 > t->nslots && grow(t)) return -2;
    size_t k = dnn_hash_bytes(s, n) & (t->nslots - 1);
    while (t->slots[k]) {
        const char *name = t->names[t->slots[k] - 1];
        if (strncmp(name, s, n) == 0 && name[n] == '\0') return t->slots[k] - 1;
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

void dnn_strtab_free(dnn_strtab *t, int keep_names)
{
    if (!keep_names) {
        for (int i = 0; i < t->n; i++) free(t->names[i]);
        free(t->names);
    }
    free(t->slots);
    memset(t, 0, sizeof *t);
}
