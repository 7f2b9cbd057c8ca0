/* The groups of columns permutation importance shuffles together: one per CSV column (one-hot levels of a
 * categorical column together), or named in a JSON file. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/util.h"
#include "internal.h"

void dnn_groups_free(dnn_feature_groups *gs)
{
    for (int i = 0; gs->g && i < gs->n; i++) {
        free(gs->g[i].name);
        free(gs->g[i].cols);
    }
    free(gs->g);
    gs->g = NULL;
    gs->n = 0;
}

/* Feature j's name into buf: its own, or "x<j>". */
static const char *feature_name(char *const *names, int j, char *buf, size_t n)
{
    if (names) return names[j];
    snprintf(buf, n, "x%d", j);
    return buf;
}

/* The length of the column part of a one-hot feature "column=level", or 0. */
static size_t column_part(const char *name)
{
    const char *eq = strchr(name, '=');
    return eq && eq != name ? (size_t)(eq - name) : 0;
}

static int same_column(const char *a, const char *b)
{
    size_t n = column_part(a);
    return n && n == column_part(b) && strncmp(a, b, n) == 0;
}

/* Append a group named name[0..len) (or all of name) with no columns yet. */
static int add_group(dnn_feature_groups *gs, const char *name, size_t len, int d)
{
    dnn_feature_group *g = &gs->g[gs->n];
    g->name = malloc(len + 1);
    g->cols = malloc((size_t)d * sizeof(int));
    if (!g->name || !g->cols) {
        free(g->name);
        free(g->cols);
        return -1;
    }
    memcpy(g->name, name, len);
    g->name[len] = 0;
    g->n = 0;
    gs->n++;
    return 0;
}

/* Group j's columns with every later feature of the same one-hot column; claimed marks those taken. */
static int group_from(dnn_feature_groups *gs, char *const *names, int d, int j, char *claimed)
{
    char buf[32];
    const char *nj = feature_name(names, j, buf, sizeof buf);
    int mates = 0;
    for (int i = j + 1; names && i < d; i++) mates += !claimed[i] && same_column(nj, names[i]);
    if (add_group(gs, nj, mates ? column_part(nj) : strlen(nj), d)) return -1;
    dnn_feature_group *g = &gs->g[gs->n - 1];
    g->cols[g->n++] = j;
    claimed[j] = 1;
    for (int i = j + 1; mates && i < d; i++)
        if (!claimed[i] && same_column(nj, names[i])) {
            g->cols[g->n++] = i;
            claimed[i] = 1;
        }
    return 0;
}

static dnn_status default_into(dnn_feature_groups *gs, char *const *names, int d, char *claimed,
                               dnn_error *err)
{
    for (int j = 0; j < d; j++)
        if (!claimed[j] && group_from(gs, names, d, j, claimed)) {
            dnn_groups_free(gs);
            return dnn_fail_oom(err, "feature groups", (size_t)d * sizeof(int));
        }
    return DNN_OK;
}

dnn_status dnn_groups_default(dnn_feature_groups *gs, char *const *names, int d, dnn_error *err)
{
    gs->n = 0;
    gs->g = ex_calloc((size_t)d, sizeof *gs->g);
    char *claimed = ex_calloc((size_t)d, 1);
    dnn_status st = gs->g && claimed ? default_into(gs, names, d, claimed, err)
                                     : dnn_fail_oom(err, "feature groups", (size_t)d * sizeof *gs->g);
    free(claimed);
    return st;
}

/* Add the features a member names to group g: the feature of that name, or every one-hot level of the
 * categorical column of that name. */
static dnn_status add_member(dnn_feature_group *g, const char *path, const char *member, char *const *names,
                             int d, char *claimed, dnn_error *err)
{
    char buf[32];
    int found = 0;
    for (int j = 0; j < d; j++) {
        const char *nj = feature_name(names, j, buf, sizeof buf);
        size_t cp = column_part(nj);
        if (strcmp(nj, member) != 0 && !(cp && cp == strlen(member) && strncmp(nj, member, cp) == 0))
            continue;
        if (claimed[j])
            return dnn_fail(err, DNN_ECONFIG, "%s: group \"%s\": column \"%s\" is already in another group",
                            path, g->name, nj);
        claimed[j] = 1;
        g->cols[g->n++] = j;
        found = 1;
    }
    if (!found) {
        const char *near = names ? dnn_nearest(member, (const char *const *)names, (size_t)d) : NULL;
        return dnn_fail(err, DNN_ECONFIG, "%s: group \"%s\": the model has no column \"%s\"%s%s%s", path,
                        g->name, member, near ? " (did you mean \"" : "", near ? near : "",
                        near ? "\"?)" : "");
    }
    return DNN_OK;
}

static dnn_status groups_from_json(dnn_feature_groups *gs, const char *path, const cJSON *root,
                                   char *const *names, int d, char *claimed, dnn_error *err)
{
    if (!cJSON_IsObject(root) || !root->child)
        return dnn_fail(err, DNN_ECONFIG,
                        "%s: expected a JSON object of groups, {\"name\": [\"column\", ...], ...}", path);
    int count = 0;
    for (const cJSON *g = root->child; g; g = g->next) count++;
    if (count > d) return dnn_fail(err, DNN_ECONFIG, "%s: %d groups for %d columns", path, count, d);
    for (const cJSON *g = root->child; g; g = g->next) {
        if (!cJSON_IsArray(g) || cJSON_GetArraySize(g) == 0)
            return dnn_fail(err, DNN_ECONFIG, "%s: group \"%s\": expected a non-empty array of column names",
                            path, g->string);
        if (add_group(gs, g->string, strlen(g->string), d))
            return dnn_fail_oom(err, "feature groups", (size_t)d * sizeof(int));
        for (const cJSON *c = g->child; c; c = c->next) {
            if (!cJSON_IsString(c))
                return dnn_fail(err, DNN_ECONFIG, "%s: group \"%s\": expected column names (strings)", path,
                                g->string);
            dnn_status st = add_member(&gs->g[gs->n - 1], path, c->valuestring, names, d, claimed, err);
            if (st) return st;
        }
    }
    return default_into(gs, names, d, claimed, err);
}

dnn_status dnn_groups_load(dnn_feature_groups *gs, const char *path, char *const *names, int d,
                           dnn_error *err)
{
    char *text = NULL;
    size_t len = 0;
    gs->n = 0;
    gs->g = NULL;
    dnn_status st = dnn_read_file(path, 1 << 24, &text, &len, err);
    if (st) return st;
    cJSON *root = cJSON_ParseWithLength(text, len);
    char *claimed = ex_calloc((size_t)d, 1);
    gs->g = ex_calloc((size_t)d, sizeof *gs->g);
    if (!root)
        st = dnn_fail(err, DNN_ECONFIG, "%s: not valid JSON near byte %zu", path,
                      (size_t)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - text : 0));
    else if (!claimed || !gs->g)
        st = dnn_fail_oom(err, "feature groups", (size_t)d * sizeof *gs->g);
    else
        st = groups_from_json(gs, path, root, names, d, claimed, err);
    if (st) dnn_groups_free(gs);
    cJSON_Delete(root);
    free(claimed);
    free(text);
    return st;
}

dnn_status ex_groups_copy(dnn_feature_groups *dst, const dnn_feature_groups *src, int d, dnn_error *err)
{
    dst->n = 0;
    dst->g = ex_calloc((size_t)(src->n > 0 ? src->n : 1), sizeof *dst->g);
    if (!dst->g) return dnn_fail_oom(err, "feature groups", 0);
    for (int i = 0; i < src->n; i++) {
        const dnn_feature_group *s = &src->g[i];
        for (int c = 0; c < s->n; c++)
            if (s->n > d || s->cols[c] < 0 || s->cols[c] >= d) {
                dnn_groups_free(dst);
                return dnn_fail(err, DNN_ECONFIG, "group \"%s\": column %d of a model with %d", s->name,
                                s->cols[c], d);
            }
        if (add_group(dst, s->name, strlen(s->name), d)) {
            dnn_groups_free(dst);
            return dnn_fail_oom(err, "feature groups", (size_t)d * sizeof(int));
        }
        memcpy(dst->g[i].cols, s->cols, (size_t)s->n * sizeof(int));
        dst->g[i].n = s->n;
    }
    return DNN_OK;
}
