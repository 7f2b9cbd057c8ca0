/* dnntrain's run: prepare the folder, data and model (fresh or resumed), train with per-epoch checkpoints
 * and log lines, then score the test set and write the final report. */
#include "dnn/run.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include "dnn/blas.h"
#include "dnn/checkpoint.h"
#include "dnn/eval.h"
#include "dnn/explain.h"
#include "dnn/plot.h"
#include "dnn/report.h"
#include "dnn/runfolder.h"
#include "dnn/stream.h"
#include "dnn/util.h"

typedef struct {
    const dnn_run_opts *o;
    dnn_model *m;
    dnn_train_state *s;
    dnn_run_folder folder;
    const char *dir; /* folder.dir */
    char *ckpt, *best, *jsonl, *curves;
    double seconds; /* training time of this invocation */
    int clear;      /* --overwrite found another run's files: remove them before writing */
} run_ctx;

static void note(const dnn_run_opts *o, int detail, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note(const dnn_run_opts *o, int detail, const char *fmt, ...)
{
    if (!o->on_message) return;
    char buf[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    o->on_message(o->ctx, detail, buf);
}

static dnn_status append_line(const char *path, const cJSON *j, dnn_error *err)
{
    char *s = cJSON_PrintUnformatted(j);
    if (!s) return dnn_fail_oom(err, path, 0);
    FILE *f = fopen(path, "a");
    int ok = f && fprintf(f, "%s\n", s) > 0;
    if (f && fclose(f) != 0) ok = 0;
    free(s);
    if (!ok) return dnn_fail(err, DNN_EIO, "%s: cannot append the epoch log: %s", path, strerror(errno));
    return DNN_OK;
}

/* Numbered checkpoints: write this epoch's, then keep the newest `keep` the folder holds. */
static dnn_status save_numbered(run_ctx *r, int epoch, dnn_error *err)
{
    char name[64];
    dnn_run_folder_numbered(epoch, name, sizeof name);
    char *path = dnn_path_join(r->dir, name);
    if (!path) return dnn_fail_oom(err, name, 0);
    dnn_status st = dnn_checkpoint_save(path, r->m, r->s, err);
    free(path);
    if (!st) dnn_run_folder_prune(&r->folder, r->m->cfg.keep);
    return st;
}

static void on_batch(void *ctx, const dnn_progress *p)
{
    const run_ctx *r = ctx;
    if (r->o->on_batch) r->o->on_batch(r->o->ctx, p);
}

static dnn_status on_epoch(void *ctx, const dnn_epoch_log *log, int improved, dnn_error *err)
{
    run_ctx *r = ctx;
    const dnn_config *c = &r->m->cfg;
    r->seconds += log->seconds;
    cJSON *j = dnn_epoch_json(log);
    dnn_status st = j ? append_line(r->jsonl, j, err) : dnn_fail_oom(err, "the epoch log", 0);
    cJSON_Delete(j);
    if (!st && improved && c->save_best) st = dnn_checkpoint_save(r->best, r->m, r->s, err);
    int last = r->s->epoch == c->epochs || r->s->stopped_early || r->s->epoch == r->o->until_epoch;
    if (!st && (last || r->s->epoch % c->every_epochs == 0)) {
        st = dnn_checkpoint_save(r->ckpt, r->m, r->s, err);
        if (!st && c->keep > 0) st = save_numbered(r, r->s->epoch, err);
    }
    if (!st) {
        /* the curves so far, so a long run can be watched */
        dnn_text t = {0};
        dnn_svg_curves(&t, r->s->history, r->s->n_history, r->m->cfg.task == DNN_TASK_CLASSIFICATION,
                       r->s->best_epoch);
        st = dnn_text_write(&t, r->curves, err);
        dnn_text_free(&t);
    }
    if (r->o->on_epoch) r->o->on_epoch(r->o->ctx, log, improved);
    return st;
}

/* ---- preparing a run ---- */

/* The folder a run continues in is its checkpoint's own; a folder holding any other run's files is refused,
 * unless --overwrite, which removes them first. */
static dnn_status claim_folder(run_ctx *r, dnn_error *err)
{
    const dnn_run_opts *o = r->o;
    if (o->resume_path) {
        char *own = dnn_path_dir(o->resume_path);
        char *a = own ? realpath(own, NULL) : NULL, *b = realpath(r->dir, NULL);
        int same = a && b && strcmp(a, b) == 0;
        free(own);
        free(a);
        free(b);
        if (same) return DNN_OK;
    }
    char what[300];
    if (!dnn_run_folder_has_run(&r->folder, what, sizeof what)) return DNN_OK;
    if (o->overwrite) { /* cleared just before the first write, so a run that fails first loses nothing */
        r->clear = 1;
        return DNN_OK;
    }
    return dnn_fail(err, DNN_EIO,
                    "%s: the folder holds another run (%s): continue it with --resume %s/ckpt.bin, choose "
                    "another --out, or replace it with --overwrite",
                    r->dir, what, r->dir);
}

static dnn_status out_folder(run_ctx *r, const dnn_config *c, dnn_error *err)
{
    const dnn_run_opts *o = r->o;
    char *dir;
    if (o->out_dir)
        dir = dnn_strdup(o->out_dir);
    else if (o->resume_path)
        dir = dnn_path_dir(o->resume_path); /* a resumed run stays in its folder */
    else if (c->output_dir)
        dir = dnn_strdup(c->output_dir);
    else {
        char *stem = dnn_path_stem(o->config_path);
        dir = stem ? malloc(strlen(stem) + 8) : NULL;
        if (dir) sprintf(dir, "runs/%s", stem);
        free(stem);
    }
    if (!dir) return dnn_fail_oom(err, "the output folder", 0);
    dnn_status st = dnn_run_folder_open(&r->folder, dir, err);
    free(dir);
    r->dir = r->folder.dir;
    if (!st) st = claim_folder(r, err);
    if (st) return st;
    dir = r->folder.dir;
    r->ckpt = dnn_path_join(dir, "ckpt.bin");
    r->best = dnn_path_join(dir, "best.bin");
    r->jsonl = dnn_path_join(dir, "train.jsonl");
    r->curves = dnn_path_join(dir, "curves.svg");
    if (!r->ckpt || !r->best || !r->jsonl || !r->curves) return dnn_fail_oom(err, "paths", 0);
    return DNN_OK;
}

static void padding_text(const dnn_layer_config *l, char *buf, size_t n)
{
    if (l->padding == DNN_PAD_EXPLICIT)
        snprintf(buf, n, "[%d, %d]", l->pad[0], l->pad[1]);
    else
        snprintf(buf, n, "\"%s\"", l->padding == DNN_PAD_SAME ? "same" : "valid");
}

/* The first structural difference between two layers (what a resumed run cannot change), or NULL. */
static const char *layer_difference(const dnn_layer_config *a, const dnn_layer_config *b, char *was, char *is,
                                    size_t n)
{
    if (a->kind != b->kind) {
        snprintf(was, n, "\"%s\"", dnn_layer_name(a->kind));
        snprintf(is, n, "\"%s\"", dnn_layer_name(b->kind));
        return "type";
    }
    if (a->units != b->units || a->filters != b->filters) {
        snprintf(was, n, "%d", a->units + a->filters);
        snprintf(is, n, "%d", b->units + b->filters);
        return a->kind == DNN_LAYER_CONV2D ? "filters" : "units";
    }
    if (a->activation != b->activation) {
        snprintf(was, n, "\"%s\"", dnn_act_name(a->activation));
        snprintf(is, n, "\"%s\"", dnn_act_name(b->activation));
        return "activation";
    }
    if (memcmp(a->kernel, b->kernel, sizeof a->kernel)) {
        snprintf(was, n, "[%d, %d]", a->kernel[0], a->kernel[1]);
        snprintf(is, n, "[%d, %d]", b->kernel[0], b->kernel[1]);
        return a->kind == DNN_LAYER_CONV2D ? "kernel_size" : "pool_size";
    }
    if (memcmp(a->stride, b->stride, sizeof a->stride)) {
        snprintf(was, n, "[%d, %d]", a->stride[0], a->stride[1]);
        snprintf(is, n, "[%d, %d]", b->stride[0], b->stride[1]);
        return "stride";
    }
    if (a->padding != b->padding || memcmp(a->pad, b->pad, sizeof a->pad)) {
        padding_text(a, was, n);
        padding_text(b, is, n);
        return "padding";
    }
    return NULL;
}

/* A resumed run may change how it trains, never what it trains: compare the networks layer by layer. */
static dnn_status same_shape(const dnn_config *old, const dnn_config *now, const char *file, dnn_error *err)
{
    if (old->n_layers != now->n_layers)
        return dnn_fail(
            err, DNN_ECONFIG,
            "%s: model.layers: the checkpoint has %d layers, the config %d: a resumed run cannot change the "
            "network's shape",
            file, old->n_layers, now->n_layers);
    for (int l = 0; l < old->n_layers; l++) {
        char was[64], is[64];
        const char *what = layer_difference(&old->layers[l], &now->layers[l], was, is, sizeof was);
        if (what)
            return dnn_fail(
                err, DNN_ECONFIG,
                "%s: model.layers[%d].%s: the checkpoint has %s, the config %s: a resumed run cannot change "
                "the network's shape",
                file, l, what, was, is);
    }
    if (old->normalize != now->normalize || old->loss != now->loss)
        return dnn_fail(err, DNN_ECONFIG,
                        "%s: %s: differs from the checkpoint's, and a resumed run cannot change it", file,
                        old->loss != now->loss ? "loss" : "data.normalize");
    return DNN_OK;
}

/* Load the checkpoint and the config to continue with: the given file, or the checkpoint's own, either with
 * the --set overrides. The model is rebuilt for the new config and takes the checkpoint's weights. */
/* The checkpoint to continue from. In a job of several processes rank 0 reads it and sends it to the others,
 * which need no copy of its folder. */
static dnn_status load_checkpoint(const dnn_run_opts *o, dnn_model *m, dnn_train_state *s, dnn_error *err)
{
    if (dnn_comm_size(o->comm) == 1) return dnn_checkpoint_load(o->resume_path, o->max_memory, m, s, err);
    char *buf = NULL;
    size_t len = 0;
    memset(m, 0, sizeof *m);
    memset(s, 0, sizeof *s);
    dnn_status st = DNN_OK;
    if (dnn_comm_rank(o->comm) == 0) st = dnn_read_file(o->resume_path, SIZE_MAX / 2, &buf, &len, err);
    dnn_error sent;
    dnn_status st2 = dnn_comm_bcast_bytes(o->comm, (uint8_t **)&buf, &len, st ? &sent : err);
    if (!st) st = st2;
    if (!st) st = dnn_checkpoint_decode(o->resume_path, (const uint8_t *)buf, len, o->max_memory, m, s, err);
    free(buf);
    return st;
}

static dnn_status resume(const dnn_run_opts *o, dnn_model *m, dnn_train_state *s, dnn_error *err)
{
    dnn_model old;
    dnn_train_state olds;
    dnn_status st = load_checkpoint(o, &old, &olds, err);
    if (st) return st;
    if (!olds.opt) {
        dnn_model_free(&old);
        return dnn_fail(err, DNN_EIO,
                        "%s: this checkpoint holds a model without training state: it cannot be resumed",
                        o->resume_path);
    }
    dnn_config cfg = {0};
    if (o->config_path) {
        st = dnn_config_load(&cfg, o->config_path, o->overrides, o->n_overrides, err);
    } else {
        /* the checkpoint's own config, named as the checkpoint names it ("ckpt.bin (embedded config)") */
        cJSON *json = cJSON_Duplicate(old.cfg.json, 1);
        st = json ? dnn_config_from_json(&cfg, json, old.cfg.file, NULL, o->overrides, o->n_overrides, err)
                  : dnn_fail_oom(err, "the config", 0);
    }
    const char *file = o->config_path ? o->config_path : o->resume_path;
    if (!st) st = same_shape(&old.cfg, &cfg, file, err);
    dnn_shape in = old.net->in_shape;
    if (!st && cfg.has_shape && memcmp(&cfg.shape, &in, sizeof in))
        st = dnn_fail(err, DNN_ECONFIG,
                      "%s: data.shape: the checkpoint's inputs are %dx%dx%d, the config's [%d, %d, %d]: a "
                      "resumed run cannot change them",
                      file, in.c, in.h, in.w, cfg.shape.c, cfg.shape.h, cfg.shape.w);
    cfg.max_memory = o->max_memory;
    if (!st) st = dnn_model_create(m, &cfg, in, err);
    dnn_config_free(&cfg);
    if (!st) {
        memcpy(m->net->params, old.net->params, old.net->n_params * sizeof(float));
        memcpy(m->net->state, old.net->state, old.net->n_state * sizeof(float));
        m->norm = old.norm;
        memset(&old.norm, 0, sizeof old.norm);
        m->impute = old.impute;
        memset(&old.impute, 0, sizeof old.impute);
        m->class_names = old.class_names, old.class_names = NULL;
        m->feature_names = old.feature_names, old.feature_names = NULL;
        m->target_names = old.target_names, old.target_names = NULL;
        m->label_names = old.label_names, old.label_names = NULL;
        m->n_labels = old.n_labels, old.n_labels = 0;
        m->enc = old.enc, old.enc = NULL;
        st = dnn_train_state_init(s, m, err);
    }
    if (!st) {
        /* Counters, generators and history carry over; the optimizer's moments too unless its type changed.
         */
        dnn_optim *opt = s->opt;
        float *best = s->best_params;
        *s = olds;
        s->opt = opt;
        s->best_params = best;
        olds.history = NULL;
        if (opt->cfg.kind == olds.opt->cfg.kind && opt->n_slots == olds.opt->n_slots) {
            opt->t = olds.opt->t;
            if (opt->n_slots >= 1) memcpy(opt->m, olds.opt->m, opt->n * sizeof(float));
            if (opt->n_slots >= 2) memcpy(opt->v, olds.opt->v, opt->n * sizeof(float));
        }
        if (best && olds.best_params)
            memcpy(best, olds.best_params, (m->net->n_params + m->net->n_state) * sizeof(float));
        else if (best) { /* restore_best newly on: the best so far is not known, start from here */
            s->best_epoch = 0;
            s->best_value = INFINITY;
        }
        if (m->cfg.optim.learning_rate != old.cfg.optim.learning_rate)
            s->sched.lr = m->cfg.optim.learning_rate;
        if (s->stopped_early && s->epoch < m->cfg.epochs) {
            /* asked to go on after early stopping ended the run: patience starts afresh */
            note(o, 0, "early stopping ended this run at epoch %d; going on with its patience afresh",
                 s->epoch);
            s->stopped_early = 0;
            s->wait = 0;
        }
    }
    dnn_train_state_free(&olds);
    dnn_model_free(&old);
    return st;
}

/* What loading found missing: a summary line, and with --verbose one per column. */
static void report_missing(const dnn_run_opts *o, const dnn_dataset *ds, const dnn_source_config *src)
{
    static const char *const policy[] = {"error", "mean", "median", "zero", "drop"};
    if (ds->dropped_label)
        note(o, 0, "%s: dropped %zu row%s with a missing label", ds->source, ds->dropped_label,
             ds->dropped_label == 1 ? "" : "s");
    const size_t ncol = ds->d_num + (size_t)ds->n_cat;
    size_t cells = 0, levels = 0;
    int cols = 0;
    for (size_t j = 0; ds->missing && j < ncol; j++) {
        if (j < ds->d_num)
            cells += ds->missing[j], cols += ds->missing[j] > 0;
        else
            levels += ds->missing[j];
    }
    if (src->missing == DNN_MISSING_DROP && ds->dropped_feature)
        note(o, 0, "%s: dropped %zu row%s with missing values (missing: \"drop\")", ds->source,
             ds->dropped_feature, ds->dropped_feature == 1 ? "" : "s");
    else if (cells)
        note(o, 0, "%s: imputed %zu missing cell%s in %d column%s (missing: \"%s\")", ds->source, cells,
             cells == 1 ? "" : "s", cols, cols == 1 ? "" : "s", policy[src->missing]);
    if (levels && src->missing != DNN_MISSING_DROP)
        note(o, 0, "%s: %zu missing categorical cell%s, read as the level \"%s\"", ds->source, levels,
             levels == 1 ? "" : "s", DNN_LEVEL_MISSING);
    for (size_t j = 0; ds->missing && j < ncol; j++) {
        if (!ds->missing[j]) continue;
        char col[64];
        if (ds->column_names)
            snprintf(col, sizeof col, "\"%s\"", ds->column_names[j]);
        else
            snprintf(col, sizeof col, "%zu", j);
        note(o, 1, "%s: column %s: %zu missing%s", ds->source, col, ds->missing[j],
             j >= ds->d_num ? " (a level of its own, \"" DNN_LEVEL_MISSING "\")" : "");
    }
}

/* ---- the training data: in memory, or streamed ---- */

typedef struct {
    int streamed;
    dnn_dataset ds; /* in memory */
    uint32_t *tr, *va;
    size_t n_tr, n_va;
    dnn_memory_batches mem;
    dnn_stream *stream;
    dnn_prefetch *ahead;     /* the stream's next batch, read while the network trains */
    const dnn_dataset *info; /* what the model is built from: ds, or what the stream's first pass learnt */
    dnn_batches b;
} train_data;

static void train_data_free(train_data *td)
{
    dnn_dataset_free(&td->ds);
    free(td->tr);
    free(td->va);
    dnn_batches_memory_free(&td->mem);
    dnn_prefetch_free(td->ahead);
    dnn_stream_close(td->stream);
}

/* Read the training source: in memory with a seeded split, or (when it streams) by a first pass that
 * chooses validation rows by a hash of their number. */
static dnn_status open_train(const dnn_run_opts *o, const dnn_config *c, const char *dir, train_data *td,
                             dnn_error *err)
{
    double bytes;
    dnn_status st = dnn_source_should_stream(&c->train, c->task, o->max_memory, &td->streamed, &bytes, err);
    if (st) return st;
    if (!td->streamed) {
        td->info = &td->ds;
        st = dnn_load_source(&td->ds, &c->train, c->task, NULL, err);
        if (!st)
            st = dnn_split(c->file, td->ds.n, c->validation_split, c->seed, &td->tr, &td->n_tr, &td->va,
                           &td->n_va, err);
        return st;
    }
    const char *name = c->train.format == DNN_FORMAT_IDX ? c->train.images : c->train.path;
    if (c->train.stream == -1) {
        char a[32], b[32];
        size_t budget = dnn_memory_budget(o->max_memory);
        note(o, 0, "%s: about %s once read, more than half the memory limit of %s: streaming it", name,
             dnn_format_bytes(bytes, a, sizeof a), dnn_format_bytes((double)budget, b, sizeof b));
    }
    dnn_stream_opts so = {.seed = c->seed,
                          .validation_split = c->validation_split,
                          .shuffle_buffer = c->shuffle_buffer,
                          .missing = c->train.format == DNN_FORMAT_CSV ? c->train.missing : DNN_MISSING_ERROR,
                          .max_memory = o->max_memory,
                          .rank = dnn_comm_rank(o->comm),
                          .ranks = dnn_comm_size(o->comm),
                          .scratch = dir}; /* NULL (not rank 0 of a job): the temporary folder */
    /* "cache": true keeps it in the run folder, a path where the user says (each process writes its own
     * temporary file, then renames it: the last one stays). Every process of a job must read the same way,
     * as the cache is cut into chunks of rows and text by bytes (a gzip file whole), and each process deals
     * its own chunks: the run folder being rank 0's alone, a job of several keeps no cache there. */
    const int shared_only = so.ranks > 1 && c->train.cache && !c->train.cache[0];
    if (shared_only && dir)
        note(o, 0,
             "%s: data.train.cache true keeps the cache in the run folder, which the job's other "
             "processes cannot share: reading the text (give the cache a path every process can reach)",
             name);
    char *cache = NULL;
    if (c->train.cache && !shared_only && c->train.format == DNN_FORMAT_CSV && (c->train.cache[0] || dir) &&
        !(cache = c->train.cache[0] ? dnn_strdup(c->train.cache) : dnn_path_join(dir, "data.cache")))
        return dnn_fail_oom(err, "the cache's path", 0);
    so.cache = cache;
    double t0 = dnn_now();
    st = dnn_stream_open(&td->stream, &c->train, c->task, &so, err);
    if (!st && dnn_stream_cache_use(td->stream))
        note(o, 0, "%s: %s the cache %s", name, dnn_stream_cache_use(td->stream) == 2 ? "read" : "wrote",
             cache);
    free(cache);
    if (st) return st;
    td->info = dnn_stream_info(td->stream);
    uint64_t rows, tr, va;
    size_t chunks;
    dnn_stream_counts(td->stream, &rows, &tr, &va, &chunks);
    td->n_tr = (size_t)tr, td->n_va = (size_t)va;
    note(o, 1, "%s: first pass: %llu rows (%llu for training, %llu for validation) in %zu chunks, %.1f s",
         name, (unsigned long long)rows, (unsigned long long)tr, (unsigned long long)va, chunks,
         dnn_now() - t0);
    return DNN_OK;
}

/* The model's preprocessing from the training rows: imputation, then normalisation. */
static dnn_status fit_train(dnn_model *m, train_data *td, dnn_error *err)
{
    if (!td->streamed) return dnn_model_fit_preprocessing(m, &td->ds, td->tr, td->n_tr, err);
    dnn_missing policy = m->cfg.train.format == DNN_FORMAT_CSV ? m->cfg.train.missing : DNN_MISSING_ERROR;
    return dnn_stream_fit(td->stream, policy, m->cfg.normalize, &m->impute, &m->norm, err);
}

/* Check the data against the model, then deal batches from it. */
static dnn_status batches_for(const dnn_run_opts *o, dnn_model *m, train_data *td, int resumed,
                              dnn_error *err)
{
    const size_t B = (size_t)m->cfg.batch_size;
    dnn_status st;
    if (!td->streamed) {
        st = resumed ? dnn_model_prepare(m, &td->ds, err) : DNN_OK;
        if (!st) st = dnn_model_check_data(m, &td->ds, err);
        if (!st)
            st = dnn_batches_memory(&td->b, &td->mem, &td->ds, td->tr, td->n_tr, td->va, td->n_va, B,
                                    dnn_comm_rank(o->comm), dnn_comm_size(o->comm), err);
        return st;
    }
    st = dnn_stream_start(td->stream, m->enc, &m->impute, B, &td->b, err);
    if (!st) st = dnn_model_check_data(m, td->info, err);
    if (!st) st = dnn_batches_prefetch(&td->b, &td->ahead, B, (size_t)m->net->n_out, err);
    if (!st && o) {
        char a[32];
        note(o, 1, "%s: streaming in %s (shuffle buffer, chunk table, readers, validation rows kept)",
             td->info->source, dnn_format_bytes((double)dnn_stream_bytes(td->stream), a, sizeof a));
    }
    char where[600];
    int32_t top = dnn_stream_max_label(td->stream, where, sizeof where);
    if (!st && m->cfg.task == DNN_TASK_CLASSIFICATION && top >= m->n_classes)
        st = dnn_fail(err, DNN_EDATA, "%s %d is out of range for a model with %d classes (0..%d)", where, top,
                      m->n_classes, m->n_classes - 1);
    return st;
}

/* --verbose: each categorical column's kept levels. */
static void describe_categorical(const dnn_run_opts *o, const dnn_model *m)
{
    for (int c = 0; m->enc && c < m->enc->n_cat; c++) {
        const dnn_catcol *col = &m->enc->cols[c];
        char list[600] = "";
        size_t k = 0;
        for (int l = 0; l < col->n_levels && k < sizeof list - 80; l++)
            k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", l ? ", " : "", col->levels[l]);
        if (k >= sizeof list - 80) snprintf(list + k, sizeof list - k, ", ...");
        note(o, 1, "column \"%s\": categorical, one-hot over %d levels (%s)", col->name, col->n_levels, list);
    }
}

/* With --verbose: the layers, their output shapes and parameters, a note per line. */
static void summary(const dnn_run_opts *o, const dnn_net *net)
{
    char *text = dnn_net_summary(net);
    for (char *line = text, *end; line && *line; line = end + 1) {
        end = strchr(line, '\n');
        if (!end) break;
        *end = '\0';
        note(o, 1, "%s", line);
    }
    free(text);
}

/* One sample's shape before any data is read: data.shape, else an IDX file's own; for CSV without data.shape,
 * 0x0x0 until the rows are read. The network is checked against it here, so a layer that does not fit is an
 * error before a long read. */
static dnn_status input_shape(const dnn_config *c, dnn_shape *shape, dnn_error *err)
{
    dnn_shape file;
    dnn_status st = dnn_source_shape(&c->train, &file, err);
    if (st) return st;
    size_t want = (size_t)c->shape.c * c->shape.h * c->shape.w, got = (size_t)file.c * file.h * file.w;
    if (c->has_shape && file.c && want != got)
        return dnn_fail(err, DNN_EDATA,
                        "%s: %zu values per item, but data.shape [%d, %d, %d] (in %s) makes %zu",
                        c->train.images, got, c->shape.c, c->shape.h, c->shape.w, c->file, want);
    *shape = c->has_shape ? c->shape : file;
    return shape->c ? dnn_net_check(c, *shape, err) : DNN_OK;
}

/* ---- the final report ---- */

static cJSON *final_report(const run_ctx *r, const train_data *td, const dnn_metrics *test,
                           const char *test_name)
{
    const dnn_batches *v = &td->b;
    const dnn_model *m = r->m;
    const dnn_train_state *s = r->s;
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddStringToObject(j, "dnn_version", dnn_version());
    char blas[256];
    cJSON_AddStringToObject(j, "blas", dnn_blas_name(blas, sizeof blas));
    cJSON_AddNumberToObject(j, "blas_threads", dnn_blas_threads());
    cJSON_AddStringToObject(j, "precision", dnn_precision_name(m->net->precision));
    /* the job: its processes (data-parallel ranks), each with blas_threads threads */
    char mpi[256];
    cJSON_AddNumberToObject(j, "ranks", dnn_comm_size(r->o->comm));
    cJSON_AddNumberToObject(j, "threads_per_rank", dnn_blas_threads());
    if (*dnn_comm_library(mpi, sizeof mpi))
        cJSON_AddStringToObject(j, "mpi", mpi);
    else
        cJSON_AddNullToObject(j, "mpi");
    cJSON_AddStringToObject(j, "out_dir", r->dir);
    cJSON_AddStringToObject(j, "task", dnn_task_name(m->cfg.task));
    cJSON_AddNumberToObject(j, "parameters", (double)m->net->n_params);
    if (m->feature_names)
        cJSON_AddItemToObject(j, "features",
                              cJSON_CreateStringArray((const char *const *)m->feature_names, m->net->n_in));
    cJSON_AddNumberToObject(j, "train_samples", (double)v->n_train);
    cJSON_AddNumberToObject(j, "validation_samples", (double)v->n_val);
    cJSON_AddBoolToObject(j, "streamed", td->streamed);
    cJSON_AddNumberToObject(j, "epochs", m->cfg.epochs);
    cJSON_AddNumberToObject(j, "epochs_run", s->epoch);
    cJSON_AddBoolToObject(j, "stopped_early", s->stopped_early);
    cJSON_AddStringToObject(j, "monitor", dnn_monitor_name(dnn_train_monitor(&m->cfg, v->n_val)));
    cJSON_AddNumberToObject(j, "best_epoch", s->best_epoch);
    if (s->n_history) cJSON_AddItemToObject(j, "final", dnn_epoch_json(&s->history[s->n_history - 1]));
    if (s->best_epoch) cJSON_AddItemToObject(j, "best", dnn_epoch_json(&s->history[s->best_epoch - 1]));
    cJSON_AddItemToObject(j, "seconds", dnn_json_number(r->seconds));
    double sps = 0;
    int counted = 0;
    for (int i = 0; i < s->n_history; i++)
        if (isfinite(s->history[i].samples_per_second)) sps += s->history[i].samples_per_second, counted++;
    cJSON_AddItemToObject(j, "samples_per_second", dnn_json_number(counted ? sps / counted : NAN));
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        cJSON_AddItemToObject(j, "peak_rss_mib", dnn_json_number((double)ru.ru_maxrss / 1024.0));
    cJSON *hist = cJSON_AddArrayToObject(j, "history");
    for (int i = 0; i < s->n_history; i++) cJSON_AddItemToArray(hist, dnn_epoch_json(&s->history[i]));
    cJSON_AddItemToObject(j, "test",
                          test ? dnn_report_json(test, m, r->ckpt, test_name) : cJSON_CreateNull());
    /* the config as it ran: output.dir is the folder it wrote, whatever --out said */
    cJSON *conf = cJSON_Duplicate(m->cfg.json, 1),
          *out = conf ? cJSON_GetObjectItemCaseSensitive(conf, "output") : NULL;
    if (conf && !out) out = cJSON_AddObjectToObject(conf, "output");
    if (out) {
        cJSON_DeleteItemFromObjectCaseSensitive(out, "dir");
        cJSON_AddStringToObject(out, "dir", r->dir);
    }
    cJSON_AddItemToObject(j, "config", conf);
    return j;
}

/* output.explain: the test set explained by the config's methods with dnneval's defaults and --sanity, into
 * the report ("explanation") and a section of report.html; nothing is added when it fails. */
static dnn_status explain_test(const dnn_model *m, const dnn_dataset *test, cJSON *rep, dnn_text *html,
                               dnn_error *err)
{
    dnn_explain_opts o = dnn_explain_defaults();
    o.methods = m->cfg.explain;
    o.seed = m->cfg.seed;
    o.sanity = 1;
    dnn_explanation e;
    dnn_status st = dnn_explain(m, test, &o, &e, err);
    if (st) return st;
    cJSON_AddItemToObject(rep, "explanation", dnn_explanation_json(&e, m));
    dnn_explanation_html(html, &e, m);
    dnn_explanation_free(&e);
    return DNN_OK;
}

/* Rank 0, before the first epoch: clear the folder for --overwrite; a fresh run starts a fresh log. */
static dnn_status start_files(run_ctx *r, dnn_error *err)
{
    if (r->clear && dnn_run_folder_clear(&r->folder, err)) return err->code;
    if (r->o->resume_path) return DNN_OK;
    FILE *f = fopen(r->jsonl, "w");
    if (!f || fclose(f) != 0)
        return dnn_fail(err, DNN_EIO, "%s: cannot write: %s", r->jsonl, strerror(errno));
    return DNN_OK;
}

/* In a job of several processes, how the work is shared. */
static void note_job(const dnn_run_opts *o, const dnn_model *m)
{
    const int p = dnn_comm_size(o->comm), b = m->cfg.batch_size;
    if (p == 1) return;
    char job[300];
    note(o, 0, "data-parallel on %s, %d thread%s each: every batch of %d rows is split into parts of %d%s",
         dnn_comm_describe(o->comm, job, sizeof job), dnn_blas_threads(), dnn_blas_threads() == 1 ? "" : "s",
         b, b / p, b % p ? " or one more" : "");
    if (b < p)
        note(o, 0, "training.batch_size %d is smaller than the job: %d processes have no rows in a batch", b,
             p - b);
}

/* Every process must train the same model on the same data: a config or data file that differs between
 * machines would otherwise show as a hang or garbage. Compared: the effective config, the sizes, and the
 * normalisation statistics learnt from the data. */
static dnn_status same_job(const dnn_run_opts *o, const dnn_model *m, uint64_t n_tr, uint64_t n_va,
                           dnn_error *err)
{
    if (dnn_comm_size(o->comm) == 1) return DNN_OK;
    char *conf = cJSON_PrintUnformatted(m->cfg.json);
    if (!conf) return dnn_fail_oom(err, "the config", 0);
    uint64_t sizes[4] = {n_tr, n_va, (uint64_t)m->net->n_in, m->net->n_params};
    uLong crc = crc32_z(crc32_z(0L, Z_NULL, 0), (const Bytef *)conf, strlen(conf));
    crc = crc32_z(crc, (const Bytef *)sizes, sizeof sizes);
    crc = crc32_z(crc, (const Bytef *)m->norm.shift, m->norm.d * sizeof(float));
    crc = crc32_z(crc, (const Bytef *)m->norm.mul, m->norm.d * sizeof(float));
    free(conf);
    uint64_t lo, hi;
    dnn_status st = dnn_comm_range(o->comm, crc, &lo, &hi, err);
    if (st || lo == hi) return st;
    return dnn_fail(
        err, DNN_ECONFIG,
        "%s: the processes of the job read different configs or data (%llu training samples on rank "
        "0): every machine must see the same config and data files at the same paths",
        m->cfg.file, (unsigned long long)n_tr);
}

dnn_status dnn_run_train(const dnn_run_opts *o, dnn_run_result *res, dnn_error *err)
{
    memset(res, 0, sizeof *res);
    res->test_accuracy = res->test_loss = NAN;
    dnn_model m = {0};
    dnn_train_state s = {0};
    dnn_dataset test = {0};
    train_data td = {0};
    dnn_metrics tm = {0};
    int have_tm = 0;
    run_ctx r = {.o = o, .m = &m, .s = &s, .folder = {NULL, -1}};
    dnn_status st;
    dnn_config cfg = {0};
    int resumed = o->resume_path != NULL, nothing_to_do = 0;
    /* In a job of several processes, rank 0 alone holds the run folder and writes to it. */
    const int root = dnn_comm_rank(o->comm) == 0;

    if (resumed) {
        st = resume(o, &m, &s, err);
        if (!st && root) st = out_folder(&r, &m.cfg, err);
    } else {
        st = dnn_config_load(&cfg, o->config_path, o->overrides, o->n_overrides, err);
        if (!st && root) st = out_folder(&r, &cfg, err);
    }
    if (st) goto agree;
    dnn_config *c = resumed ? &m.cfg : &cfg;
    c->max_memory = c->train.max_memory = c->test.max_memory = o->max_memory;
    dnn_shape shape = {0, 0, 0};
    if (!resumed) st = input_shape(c, &shape, err);
    if (!st) st = open_train(o, c, r.dir, &td, err);
    if (st) goto agree;
    const dnn_dataset *train = td.info;
    if (c->early_stopping.enabled && td.n_va == 0 &&
        (c->early_stopping.monitor == DNN_MONITOR_VAL_LOSS ||
         c->early_stopping.monitor == DNN_MONITOR_VAL_ACCURACY)) {
        st = dnn_fail(
            err, DNN_ECONFIG,
            "%s: training.early_stopping.monitor: \"%s\" needs a validation set: set data.validation_split "
            "(or monitor \"loss\")",
            c->file, dnn_monitor_name(c->early_stopping.monitor));
        goto agree;
    }
    if (train->header_note[0]) note(o, 1, "%s: %s", train->source, train->header_note);
    report_missing(o, train, &c->train);
    if (!resumed) {
        if (train->d > INT32_MAX) {
            st = dnn_fail(err, DNN_EDATA, "%s: too many features (%zu)", train->source, train->d);
            goto agree;
        }
        if (!cfg.has_shape) /* a streamed CSV's width is known once its levels are */
            shape = train->shape.c ? train->shape : (dnn_shape){(int)train->d, 1, 1};
        else if (train->d != (size_t)shape.c * shape.h * shape.w) {
            st = dnn_fail(err, DNN_EDATA,
                          "%s: %zu features per sample, but data.shape [%d, %d, %d] makes %zu", train->source,
                          train->d, shape.c, shape.h, shape.w, (size_t)shape.c * shape.h * shape.w);
            goto agree;
        }
        st = dnn_model_create(&m, &cfg, shape, err);
        if (!st) st = dnn_model_set_names(&m, train, err);
        /* imputation and normalisation learn from the training split only */
        if (!st) st = fit_train(&m, &td, err);
        if (!st) {
            dnn_rng init;
            dnn_rng_seed(&init, m.cfg.seed, DNN_STREAM_INIT);
            dnn_net_init(m.net, m.cfg.init, &init);
            st = dnn_train_state_init(&s, &m, err);
        }
        if (st) goto agree;
    }
    st = batches_for(o, &m, &td, resumed, err);
    if (!st) st = dnn_net_set_precision(m.net, m.cfg.precision, err);
    if (!st && m.cfg.has_test && root) { /* only rank 0 scores the test set */
        dnn_schema sc = dnn_model_schema(&m, 0);
        st = dnn_load_source(&test, &m.cfg.test, m.cfg.task, &sc, err);
        if (!st) {
            if (test.header_note[0]) note(o, 1, "%s: %s", test.source, test.header_note);
            report_missing(o, &test, &m.cfg.test);
            st = dnn_model_prepare(&m, &test, err);
            if (!st) st = dnn_model_check_data(&m, &test, err);
        }
    }
    if (st) goto agree;
    note(o, 1, "%s: %llu training samples, %llu for validation, %d features, %zu parameters",
         r.dir ? r.dir : c->file, (unsigned long long)td.b.n_train, (unsigned long long)td.b.n_val,
         m.net->n_in, m.net->n_params);
    describe_categorical(o, &m);
    summary(o, m.net);
    nothing_to_do = resumed && s.epoch >= m.cfg.epochs;
    if (!nothing_to_do && root) st = start_files(&r, err);
agree:
    /* every process has prepared, or the first failure is everyone's */
    st = dnn_comm_agree(o->comm, st, NULL, err);
    if (!st) st = same_job(o, &m, td.b.n_train, td.b.n_val, err);
    if (st) goto done;
    if (nothing_to_do) {
        note(o, 0,
             "%s: the run has finished (%d of %d epochs%s): nothing to do; train on with --set "
             "training.epochs=N, N > %d",
             o->resume_path, s.epoch, m.cfg.epochs, s.stopped_early ? ", stopped early" : "", s.epoch);
        res->epochs_run = s.epoch;
        res->best_epoch = s.best_epoch;
        res->nothing_to_do = 1;
        goto done;
    }
    if (resumed) note(o, 0, "resuming %s at epoch %d of %d", o->resume_path, s.epoch + 1, m.cfg.epochs);
    note_job(o, &m);

    dnn_train_hooks hooks = {.on_batch = on_batch,
                             .on_epoch = root ? on_epoch : NULL,
                             .ctx = &r,
                             .stop = o->stop,
                             .until_epoch = o->until_epoch,
                             .comm = o->comm};
    st = dnn_train(&m, &s, &td.b, &hooks, err);
    if (st == DNN_EINTERRUPTED) {
        /* keep the interrupted state so --resume continues exactly where it stopped */
        dnn_error e2;
        if (root && dnn_checkpoint_save(r.ckpt, &m, &s, &e2))
            st = dnn_fail(err, e2.code, "%s, and the checkpoint could not be saved: %s", err->msg, e2.msg);
        st = dnn_comm_agree(o->comm, st, NULL, err); /* 130 only once the checkpoint is saved */
        goto done;
    }
    if (st) goto done;
    res->epochs_run = s.epoch;
    res->best_epoch = s.best_epoch;
    if (s.epoch < m.cfg.epochs && !s.stopped_early) {
        res->paused = 1; /* the final report waits for the run's end */
        goto done;
    }
    if (!root) goto done;       /* the test score and the reports are rank 0's */
    dnn_train_use_best(&m, &s); /* the test set scores what dnneval will: the best epoch's weights */

    if (m.cfg.has_test) {
        st = dnn_eval(&m, &test, NULL, &tm, err);
        if (st) goto done;
        have_tm = 1;
        res->test_accuracy = tm.accuracy;
        res->test_loss = tm.loss;
    }
    cJSON *rep = final_report(&r, &td, have_tm ? &tm : NULL, m.cfg.has_test ? test.source : NULL);
    dnn_text extra = {0};
    /* a failed explanation still leaves the trained run's reports, without it, and is the run's error */
    dnn_error xerr = {0};
    dnn_status xst = rep && have_tm && m.cfg.explain ? explain_test(&m, &test, rep, &extra, &xerr) : DNN_OK;
    char *rpath = dnn_path_join(r.dir, "report.json"), *hpath = dnn_path_join(r.dir, "report.html");
    st = rep && rpath && hpath && !extra.oom ? dnn_json_write(rpath, rep, err)
                                             : dnn_fail_oom(err, "the report", 0);
    if (!st) st = dnn_report_html(hpath, rep, s.history, s.n_history, have_tm ? &tm : NULL, &m, extra.p, err);
    if (!st && xst) st = xst, *err = xerr;
    free(rpath);
    free(hpath);
    dnn_text_free(&extra);
    cJSON_Delete(rep);
done:
    if (r.dir) snprintf(res->out_dir, sizeof res->out_dir, "%s", r.dir);
    dnn_run_folder_close(&r.folder);
    if (have_tm) dnn_metrics_free(&tm);
    dnn_config_free(&cfg);
    train_data_free(&td);
    dnn_dataset_free(&test);
    dnn_train_state_free(&s);
    dnn_model_free(&m);
    free(r.ckpt);
    free(r.best);
    free(r.jsonl);
    free(r.curves);
    return st;
}
