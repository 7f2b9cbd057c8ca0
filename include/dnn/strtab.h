/* A string table: distinct strings numbered in order of arrival, found again by an open-addressing hash.
 * Used for class labels, header names and categorical levels. */
#ifndef DNN_STRTAB_H
#define DNN_STRTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char **names; /* [n] NUL-terminated copies, by id */
    int n, cap;
    int32_t *slots; /* id + 1 per slot; 0 is empty */
    size_t nslots;
} dnn_strtab;

/* The id of s[0..n) (adding it when new and add is set); -1 when absent, -2 out of memory. */
int dnn_strtab_id(dnn_strtab *t, const char *s, size_t n, int add);
/* Free the table; with keep_names the caller has taken t->names (and the strings). */
void dnn_strtab_free(dnn_strtab *t, int keep_names);

/* A 64-bit hash of a byte string (FNV-1a with a final mix, so that its low bits are usable as slots). */
uint64_t dnn_hash_bytes(const char *s, size_t n);

#endif
