/* The model bundle: network plus what it takes to feed it data as in training. */
#include "dnn/model.h"

#include <stdlib.h>
#include <string.h>

#include "dnn/strtab.h"
#include "dnn/util.h"

/* Refuse a network that would not fit the memory limit, with its sizes, before allocating any of it. */
static dnn_status check_size(const dnn_config *c, dnn_shape in, dnn_error *err)
{
    dnn_net_sizes_t sz;
    double n_in = (double)in.c * in.h * in.w;
    if (dnn_net_sizes(c, in, c->batch_size, &sz))
        return dnn_fail(err, DNN_ECONFIG, "%s: the network's sizes overflow this machine's address space",
                        c->file);
    /* parameters and gradients, the optimizer's moments, early stopping's copy of the best weights */
    double copies = 2 + 2 + (c->early_stopping.enabled && c->early_stopping.restore_best);
    double model = ((double)sz.params * copies + (double)sz.state) * sizeof(float);
    double work = (double)sz.work * sizeof(float) + (double)c->batch_size * (n_in + 16.0) * sizeof(float);
    size_t limit = dnn_memory_budget(c->max_memory);
    if (model + work <= (double)limit) return DNN_OK;
    char total[32], params[32], ws[32], lim[32];
    return dnn_fail(
        err, DNN_ECONFIG,
        "%s: the network needs %s (%zu parameters: %s with gradients and optimizer state; %s of batch "
        "workspace), more than the memory limit of %s (%s)",
        c->file, dnn_format_bytes(model + work, total, sizeof total), sz.params,
        dnn_format_bytes(model, params, sizeof params), dnn_format_bytes(work, ws, sizeof ws),
        dnn_format_bytes((double)limit, lim, sizeof lim), dnn_memory_budget_source(c->max_memory));
}

dnn_status dnn_model_create(dnn_model *m, dnn_config *cfg, dnn_shape in, dnn_error *err)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    dnn_status st = dnn_net_check(&m->cfg, in, err);
    if (!st) st = check_size(&m->cfg, in, err);
    if (!st) st = dnn_net_create(&m->net, &m->cfg, in, m->cfg.batch_size, err);
    if (st) return st;
    if (m->cfg.task == DNN_TASK_CLASSIFICATION) m->n_classes = m->net->n_out == 1 ? 2 : m->net->n_out;
    return DNN_OK;
}

void dnn_model_free(dnn_model *m)
{
    if (!m) return;
    dnn_strings_free(m->class_names, (size_t)m->n_classes);
    dnn_strings_free(m->feature_names, m->net ? (size_t)m->net->n_in : 0);
    dnn_strings_free(m->target_names, m->net ? (size_t)m->net->n_out : 0);
    dnn_strings_free(m->label_names, (size_t)m->n_labels);
    dnn_encoding_free(m->enc);
    dnn_net_free(m->net);
    dnn_norm_free(&m->norm);
    dnn_impute_free(&m->impute);
    dnn_config_free(&m->cfg);
    memset(m, 0, sizeof *m);
}

/* Class names: data.classes for classes the data gives by index, else the data's own names, padded with
 * indices for classes the data never showed. */
static dnn_status class_names(dnn_model *m, const dnn_dataset *ds, dnn_error *err)
{
    const int k = m->n_classes;
    if (m->cfg.class_names) {
        for (int i = 0; ds->class_names && i < ds->n_classes; i++) {
            char *end;
            long v = strtol(ds->class_names[i], &end, 10);
            if (*end || v != i)
                return dnn_fail(
                    err, DNN_ECONFIG,
                    "%s: data.classes: the labels of %s are names already (\"%s\"); data.classes names "
                    "classes given as indices 0, 1, ...",
                    m->cfg.file, ds->source, ds->class_names[i]);
        }
        m->class_names = dnn_strings_copy(m->cfg.class_names, (size_t)k);
        return m->class_names ? DNN_OK : dnn_fail_oom(err, "class names", (size_t)k);
    }
    if (!ds->class_names || ds->n_classes > k) return DNN_OK; /* too many: dnn_model_check_data says so */
    m->class_names = calloc((size_t)k, sizeof(char *));
    if (!m->class_names) return dnn_fail_oom(err, "class names", (size_t)k);
    for (int i = 0; i < k; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "%d", i);
        if (!(m->class_names[i] = dnn_strdup(i < ds->n_classes ? ds->class_names[i] : buf)))
            return dnn_fail_oom(err, "class names", (size_t)k);
    }
    return DNN_OK;
}

dnn_status dnn_model_set_names(dnn_model *m, const dnn_dataset *ds, dnn_error *err)
{
    dnn_status st = class_names(m, ds, err);
    if (st) return st;
    if (ds->feature_names && !(m->feature_names = dnn_strings_copy(ds->feature_names, ds->d)))
        return dnn_fail_oom(err, "feature names", ds->d);
    if (ds->target_names && ds->n_targets == m->net->n_out &&
        !(m->target_names = dnn_strings_copy(ds->target_names, (size_t)ds->n_targets)))
        return dnn_fail_oom(err, "target names", (size_t)ds->n_targets);
    if (ds->label_names) {
        if (!(m->label_names = dnn_strings_copy(ds->label_names, (size_t)ds->n_labels)))
            return dnn_fail_oom(err, "label names", (size_t)ds->n_labels);
        m->n_labels = ds->n_labels;
    }
    if (ds->enc && ds->enc->n_cat && !(m->enc = dnn_encoding_copy(ds->enc)))
        return dnn_fail_oom(err, "categorical levels", (size_t)ds->n_cat);
    return DNN_OK;
}

dnn_status dnn_model_check_data(const dnn_model *m, const dnn_dataset *ds, dnn_error *err)
{
    const dnn_shape in = m->net->in_shape;
    if (ds->d != (size_t)m->net->n_in && (in.h > 1 || in.w > 1))
        return dnn_fail(err, DNN_EDATA,
                        "%s: %zu features per sample, but the model takes %d (images of %dx%dx%d)",
                        ds->source, ds->d, m->net->n_in, in.c, in.h, in.w);
    if (ds->d != (size_t)m->net->n_in)
        return dnn_fail(err, DNN_EDATA, "%s: %zu features per sample, but the model takes %d", ds->source,
                        ds->d, m->net->n_in);
    if (m->cfg.task == DNN_TASK_CLASSIFICATION) {
        if (ds->class_names && ds->n_classes > m->n_classes)
            return dnn_fail(err, DNN_EDATA, "%s: %d classes in the data, but the model's output layer has %d",
                            ds->source, ds->n_classes, m->n_classes);
        return dnn_check_labels(ds, m->n_classes, err);
    }
    if (ds->t && ds->n_targets != m->net->n_out)
        return dnn_fail(err, DNN_EDATA,
                        "%s: %d targets per sample, but the model's output layer has %d units", ds->source,
                        ds->n_targets, m->net->n_out);
    return DNN_OK;
}

dnn_schema dnn_model_schema(const dnn_model *m, int labels_optional)
{
    dnn_schema sc = {0};
    sc.n_features = m->net->n_in;
    sc.feature_names = m->feature_names;
    sc.n_classes = m->n_classes;
    sc.class_names = m->class_names;
    sc.n_targets = m->cfg.task == DNN_TASK_REGRESSION ? m->net->n_out : 0;
    sc.label_names = m->label_names;
    sc.n_label_names = m->n_labels;
    sc.labels_optional = labels_optional;
    sc.enc = m->enc;
    return sc;
}

dnn_status dnn_model_fit_preprocessing(dnn_model *m, dnn_dataset *ds, const uint32_t *rows, size_t n,
                                       dnn_error *err)
{
    dnn_status st = dnn_impute_fit(&m->impute, m->cfg.train.missing, ds, rows, n, err);
    if (st) return st;
    dnn_impute_apply(&m->impute, ds);
    return dnn_norm_fit(&m->norm, m->cfg.normalize, ds, rows, n, err);
}

/* Codes of data that chose its own levels, as codes of the model's: by level name, "__other__" for any the
 * model did not keep. */
static dnn_status recode(const dnn_model *m, dnn_dataset *ds, dnn_error *err)
{
    const dnn_encoding *own = ds->enc, *enc = m->enc;
    if (!own || own->n_cat != (enc ? enc->n_cat : 0))
        return dnn_fail(err, DNN_EDATA, "%s: %d categorical columns, but the model has %d", ds->source,
                        own ? own->n_cat : 0, enc ? enc->n_cat : 0);
    for (int c = 0; c < ds->n_cat; c++) {
        const dnn_catcol *from = &own->cols[c], *to = &enc->cols[c];
        uint32_t *map = malloc((size_t)from->n_levels * sizeof *map);
        if (!map) return dnn_fail_oom(err, "categorical levels", (size_t)from->n_levels);
        for (int l = 0; l < from->n_levels; l++)
            map[l] = dnn_catcol_code(to, dnn_hash_bytes(from->levels[l], strlen(from->levels[l])));
        for (size_t i = 0; i < ds->n; i++)
            ds->cat[i * (size_t)ds->n_cat + (size_t)c] = map[ds->cat[i * (size_t)ds->n_cat + (size_t)c]];
        free(map);
        ds->cat_width[c] = to->n_levels;
    }
    char **names = ds->feature_names ? dnn_encoding_names(enc, ds->feature_names, ds->d_num) : NULL;
    if (ds->feature_names && !names) return dnn_fail_oom(err, "feature names", ds->d);
    dnn_strings_free(ds->feature_names, ds->d);
    ds->feature_names = names;
    ds->d = ds->d_num + dnn_encoding_width(enc);
    dnn_encoding_free(ds->enc);
    ds->enc = NULL;
    return DNN_OK;
}

dnn_status dnn_model_prepare(const dnn_model *m, dnn_dataset *ds, dnn_error *err)
{
    if (ds->enc) {
        dnn_status st = recode(m, ds, err);
        if (st) return st;
    }
    if (m->impute.fill) dnn_impute_apply(&m->impute, ds);
    return DNN_OK;
}

int dnn_model_fills_missing(const dnn_model *m)
{
    dnn_missing pol = m->cfg.train.missing;
    return m->impute.fill &&
           (pol == DNN_MISSING_MEAN || pol == DNN_MISSING_MEDIAN || pol == DNN_MISSING_ZERO);
}
