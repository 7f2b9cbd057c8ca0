/* A study: open or replay its journal, then keep `jobs` segments running (continuing interrupted ones first,
 * then ASHA's promotions, then new trials while the budget lasts), journal every decision before acting on
 * it and every result as it comes, and end with the result files. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dnn/plot.h"
#include "dnn/report.h"
#include "dnn/util.h"
#include "internal.h"

typedef struct {
    const dnn_tune_opts *o;
    dnn_sweep sw;
    tune_rungs rungs;
    tune_journal j;
    tune_trial *t;
    int n, cap;
    char *dir;
    int jobs, threads, running;
    double csv_written; /* when trials.csv was last rewritten during the study */
    dnn_tune_runner runner;
    int own_runner;
    dnn_status failure; /* the first failed trial's exit code */
    int fail_trial;
    char fail_msg[1024];
} study;

static void emit(const study *S, dnn_tune_event e)
{
    if (S->o->on_event) S->o->on_event(S->o->ctx, &e);
}

static void note(const study *S, const char *text)
{
    emit(S, (dnn_tune_event){.kind = DNN_TUNE_NOTE, .trial = -1, .text = text});
}

char *tune_trial_dir(const char *dir, int number)
{
    size_t n = strlen(dir) + 32;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/trials/%04d", dir, number);
    return p;
}

/* ---- the trial table ---- */

static tune_trial *add_trial(study *S, dnn_error *err)
{
    if (S->n == S->cap) {
        int cap = S->cap ? 2 * S->cap : 32;
        tune_trial *g = realloc(S->t, (size_t)cap * sizeof *g);
        if (!g) return dnn_fail_oom(err, "the trial table", 0), NULL;
        S->t = g;
        S->cap = cap;
    }
    tune_trial *t = &S->t[S->n];
    memset(t, 0, sizeof *t);
    t->number = S->n;
    t->vals = malloc(((size_t)S->sw.n_params + 1) * sizeof(double));
    if (!t->vals) return dnn_fail_oom(err, "a trial", 0), NULL;
    S->n++;
    return t;
}

static void free_trials(study *S)
{
    for (int i = 0; i < S->n; i++) {
        free(S->t[i].vals);
        free(S->t[i].values);
        free(S->t[i].message);
        cJSON_Delete(S->t[i].config);
    }
    free(S->t);
}

static void failed(study *S, tune_trial *t, int status, const char *msg)
{
    t->state = TRIAL_FAILED;
    t->status = status;
    free(t->message);
    t->message = dnn_strdup(msg ? msg : "");
    if (!S->failure) {
        S->failure = status > 0 && status < 7 ? (dnn_status)status : DNN_EINTERNAL;
        S->fail_trial = t->number;
        snprintf(S->fail_msg, sizeof S->fail_msg, "%s", msg ? msg : "");
    }
}

/* The trial's config as dnntrain will read it: checked, data paths resolved, no output.dir (the trial's
 * folder is given on the command line). Consumes raw. A config the values make invalid fails the trial. */
static dnn_status settle_config(study *S, tune_trial *t, cJSON *raw, dnn_error *err)
{
    dnn_config cfg;
    dnn_error e;
    char name[64];
    snprintf(name, sizeof name, "trial %d's config", t->number);
    if (dnn_config_from_json(&cfg, raw, name, S->sw.base_dir, NULL, 0, &e)) {
        failed(S, t, DNN_ECONFIG, e.msg);
        return DNN_OK;
    }
    t->config = cfg.json;
    cfg.json = NULL;
    t->max_epochs = cfg.epochs;
    dnn_config_free(&cfg);
    cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(t->config, "output"), "dir");
    t->values = malloc(((size_t)t->max_epochs + 1) * sizeof(double));
    return t->values ? DNN_OK : dnn_fail_oom(err, "a trial's history", 0);
}

static cJSON *params_json(const study *S, const tune_trial *t)
{
    cJSON *p = cJSON_CreateObject();
    for (int i = 0; p && i < S->sw.n_params; i++)
        if (!isnan(t->vals[i]))
            cJSON_AddItemToObject(p, S->sw.params[i].key, tune_value_json(&S->sw.params[i], t->vals[i]));
    return p;
}

static dnn_status journal(study *S, const char *event, const tune_trial *t, cJSON *line, dnn_error *err)
{
    if (!line) return dnn_fail_oom(err, "a journal line", 0);
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        cJSON_Delete(line);
        return dnn_fail_oom(err, "a journal line", 0);
    }
    cJSON_AddStringToObject(o, "event", event);
    if (t) cJSON_AddNumberToObject(o, "trial", t->number);
    for (cJSON *c = line->child; c;) {
        cJSON *next = c->next;
        cJSON_AddItemToObject(o, c->string, cJSON_DetachItemViaPointer(line, c));
        c = next;
    }
    cJSON_Delete(line);
    return tune_journal_append(&S->j, o, err);
}

/* ---- segments ---- */

static int first_target(const study *S, const tune_trial *t)
{
    return S->sw.asha ? tune_rung_next(&S->rungs, 0, t->max_epochs) : t->max_epochs;
}

static dnn_status start(study *S, tune_trial *t, int until, dnn_error *err)
{
    char *dir = tune_trial_dir(S->dir, t->number), *cfg = dir ? dnn_path_join(dir, "config.json") : NULL;
    dnn_status st = cfg ? dnn_mkdirs(dir, err) : dnn_fail_oom(err, "a trial's folder", 0);
    if (!st && access(cfg, F_OK) != 0)
        st = dnn_json_write(cfg, t->config, err); /* it follows from the journal */
    cJSON *line = cJSON_CreateObject();
    if (line)
        cJSON_AddNumberToObject(line, "until", until), cJSON_AddNumberToObject(line, "threads", S->threads);
    if (!st)
        st = journal(S, "run", t, line, err);
    else
        cJSON_Delete(line);
    dnn_tune_job job = {t->number, dir, cfg, t->config, until};
    if (!st) st = S->runner.start(S->runner.ctx, &job, err);
    if (!st) {
        int fresh = t->state == TRIAL_NEW && !t->pending;
        t->state = TRIAL_RUNNING;
        t->until = until;
        t->pending = 0;
        S->running++;
        char text[1024] = "";
        for (int i = 0, k = 0; fresh && i < S->sw.n_params && k < (int)sizeof text - 1; i++) {
            if (isnan(t->vals[i])) continue;
            char v[128];
            tune_value_text(&S->sw.params[i], t->vals[i], v, sizeof v);
            k += snprintf(text + k, sizeof text - (size_t)k, "%s%s=%s", k ? " " : "", S->sw.params[i].key, v);
        }
        emit(S, (dnn_tune_event){.kind = DNN_TUNE_STARTED,
                                 .trial = t->number,
                                 .epochs = t->epochs,
                                 .until = until,
                                 .max_epochs = t->max_epochs,
                                 .text = fresh ? text : NULL});
    }
    free(dir);
    free(cfg);
    return st;
}

static int best_completed(const study *S)
{
    int best = -1;
    double bv = INFINITY;
    for (int i = 0; i < S->n; i++) {
        int at;
        double v = tune_best_upto(&S->t[i], S->t[i].epochs, S->sw.maximize, &at);
        if (S->t[i].state == TRIAL_COMPLETED && at && (best < 0 || v < bv)) best = i, bv = v;
    }
    return best;
}

static void ended(study *S, const tune_trial *t)
{
    int at;
    double v = tune_best_upto(t, t->epochs, S->sw.maximize, &at);
    int best = t->state == TRIAL_COMPLETED && best_completed(S) == t->number;
    emit(S, (dnn_tune_event){.kind = DNN_TUNE_ENDED,
                             .trial = t->number,
                             .epochs = t->epochs,
                             .until = t->until,
                             .max_epochs = t->max_epochs,
                             .state = tune_state_name(t->state),
                             .metric = dnn_monitor_name(S->sw.metric),
                             .value = at ? (S->sw.maximize ? -v : v) : NAN,
                             .best = best,
                             .text = t->message});
}

static dnn_status record(study *S, dnn_tune_outcome *out, dnn_error *err)
{
    tune_trial *t = &S->t[out->trial];
    S->running--;
    int ours = S->o->stop && *S->o->stop;
    if (ours && (out->status == DNN_EINTERRUPTED || out->status > 128)) {
        t->pending = 1; /* stopped by us: its checkpoint lets a resumed study continue it */
        return DNN_OK;
    }
    int e = out->epochs < t->max_epochs ? out->epochs : t->max_epochs;
    if (e > 0) memcpy(t->values, out->values, (size_t)e * sizeof(double));
    t->epochs = e;
    t->seconds += out->seconds;
    if (out->status == 0 && e == 0)
        failed(S, t, DNN_EINTERNAL, "the trial's run ended with no epoch logged");
    else if (out->status == 0)
        t->state = e >= t->max_epochs || e < t->until ? TRIAL_COMPLETED : TRIAL_PAUSED;
    else
        failed(S, t, out->status, out->message[0] ? out->message : "dnntrain failed");
    cJSON *line = cJSON_CreateObject(), *vals = cJSON_CreateArray();
    for (int i = 0; vals && i < e; i++) cJSON_AddItemToArray(vals, dnn_json_number(t->values[i]));
    if (line && vals) {
        cJSON_AddNumberToObject(line, "until", t->until);
        cJSON_AddNumberToObject(line, "status", out->status);
        cJSON_AddStringToObject(line, "state", tune_state_name(t->state));
        cJSON_AddNumberToObject(line, "epochs", e);
        cJSON_AddItemToObject(line, "values", vals);
        cJSON_AddItemToObject(line, "seconds", dnn_json_number(out->seconds));
        if (t->state == TRIAL_FAILED) cJSON_AddStringToObject(line, "message", t->message ? t->message : "");
        vals = NULL;
    }
    cJSON_Delete(vals);
    dnn_status st = journal(S, "segment", t, line, err);
    ended(S, t);
    return st;
}

/* ---- what to run next ---- */

/* A time budget stops new trials and promotions; the first trial always runs, or a study would be empty. */
static int budget_left(const study *S)
{
    return S->n == 0 || S->sw.seconds <= 0 || tune_journal_elapsed(&S->j) < S->sw.seconds;
}

static dnn_status new_trial(study *S, tune_trial **out, dnn_error *err)
{
    *out = NULL;
    tune_trial *t = add_trial(S, err);
    if (!t) return err->code;
    cJSON *raw;
    dnn_status st = tune_sample(&S->sw, S->t, S->n - 1, t->number, t->vals, &raw, err);
    if (st) return st;
    cJSON *line = cJSON_CreateObject();
    if (line) cJSON_AddItemToObject(line, "params", params_json(S, t));
    st = journal(S, "trial", t, line, err);
    if (st) {
        cJSON_Delete(raw);
        return st;
    }
    st = settle_config(S, t, raw, err);
    if (!st &&
        t->state == TRIAL_FAILED) { /* its values make a config dnntrain refuses: journaled as failed */
        cJSON *seg = cJSON_CreateObject();
        if (seg) {
            cJSON_AddNumberToObject(seg, "status", t->status);
            cJSON_AddStringToObject(seg, "state", "failed");
            cJSON_AddStringToObject(seg, "message", t->message);
        }
        st = journal(S, "segment", t, seg, err);
        ended(S, t);
        return st;
    }
    *out = t;
    return st;
}

/* The next segment to start, or -1: interrupted segments first, then ASHA's promotions, then new trials while
 * the budget lasts; when nothing else is left and no trial has completed, the best paused one is finished. */
static dnn_status next_job(study *S, int *index, int *until, dnn_error *err)
{
    *index = -1;
    for (int i = 0; i < S->n; i++)
        if (S->t[i].pending) {
            *index = i;
            *until = S->t[i].state == TRIAL_NEW ? first_target(S, &S->t[i]) : S->t[i].until;
            return DNN_OK;
        }
    int budget = budget_left(S);
    if (budget && S->sw.asha &&
        (*index = tune_asha_promotion(&S->rungs, S->t, S->n, S->sw.maximize, until)) >= 0)
        return DNN_OK;
    int limit =
        S->sw.sampler == DNN_SAMPLER_GRID && S->sw.n_grid < S->sw.trials ? S->sw.n_grid : S->sw.trials;
    while (budget && S->n < limit) {
        tune_trial *t;
        dnn_status st = new_trial(S, &t, err);
        if (st) return st;
        if (t) {
            *index = t->number;
            *until = first_target(S, t);
            return DNN_OK;
        }
    }
    if (S->running == 0 && S->sw.asha && best_completed(S) < 0)
        *index = tune_asha_fallback(&S->rungs, S->t, S->n, S->sw.maximize, until);
    return DNN_OK;
}

static dnn_status run_loop(study *S, dnn_error *err)
{
    volatile sig_atomic_t *stop = S->o->stop;
    int signalled = 0;
    for (;;) {
        if (stop && *stop > signalled) {
            S->runner.stop(S->runner.ctx, *stop > 1);
            signalled = *stop;
        }
        while (!(stop && *stop) && S->running < S->jobs) {
            int i, until;
            dnn_status st = next_job(S, &i, &until, err);
            if (st) return st;
            if (i < 0) break;
            st = start(S, &S->t[i], until, err);
            if (st) return st;
        }
        if (S->running == 0) return stop && *stop ? DNN_EINTERRUPTED : DNN_OK;
        dnn_tune_outcome out;
        dnn_status st = S->runner.wait(S->runner.ctx, &out, err);
        if (st == DNN_EINTERRUPTED) continue;
        if (st) return st;
        st = record(S, &out, err);
        free(out.values);
        if (!st && dnn_now() - S->csv_written > 2) { /* to watch a long study; the end writes it anyway */
            st = tune_write_csv(S->dir, &S->sw, S->t, S->n, err);
            S->csv_written = dnn_now();
        }
        if (st) return st;
    }
}

/* ---- replaying a journal ---- */

/* An integer member in [lo, hi], or def when absent or anything else (a journal may have been edited). */
static int json_int(const cJSON *obj, const char *key, int lo, int hi, int def)
{
    double v = dnn_json_value(cJSON_GetObjectItemCaseSensitive(obj, key));
    return v >= lo && v <= hi && v == floor(v) ? (int)v : def;
}

typedef struct {
    const double *vals;
    int missing;
} given;

static double draw_given(void *ctx, int i, const cJSON *config)
{
    (void)config;
    given *g = ctx;
    if (isnan(g->vals[i])) g->missing = 1;
    return isnan(g->vals[i]) ? 0 : g->vals[i];
}

static dnn_status replay_trial(study *S, const cJSON *l, const char *where, dnn_error *err)
{
    tune_trial *t = add_trial(S, err);
    if (!t) return err->code;
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(l, "params");
    for (int i = 0; i < S->sw.n_params; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, S->sw.params[i].key);
        t->vals[i] = NAN;
        if (v && tune_value_from_json(&S->sw.params[i], v, &t->vals[i]))
            return dnn_fail(err, DNN_EIO, "%s: %s is not a value of the study's space", where,
                            S->sw.params[i].key);
    }
    double *from = malloc(((size_t)S->sw.n_params + 1) * sizeof(double));
    if (!from) return dnn_fail_oom(err, "a trial", 0);
    memcpy(from, t->vals, (size_t)S->sw.n_params * sizeof(double));
    given g = {from, 0};
    cJSON *raw;
    dnn_status st = tune_build(&S->sw, draw_given, &g, t->vals, &raw, err);
    free(from);
    if (!st && g.missing) {
        cJSON_Delete(raw);
        return dnn_fail(err, DNN_EIO, "%s: the trial's values do not fit the study's space", where);
    }
    t->state = TRIAL_NEW;
    return st ? st : settle_config(S, t, raw, err);
}

static dnn_status replay_segment(study *S, tune_trial *t, const cJSON *l, const char *where, dnn_error *err)
{
    static const tune_state states[] = {TRIAL_PAUSED, TRIAL_COMPLETED, TRIAL_FAILED};
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(l, "state");
    const cJSON *vals = cJSON_GetObjectItemCaseSensitive(l, "values");
    int k = -1;
    for (int i = 0; i < 3 && cJSON_IsString(state); i++)
        if (strcmp(state->valuestring, tune_state_name(states[i])) == 0) k = i;
    int n = vals ? cJSON_GetArraySize(vals) : 0;
    if (k < 0 || n > t->max_epochs || (k < 2 && !t->values))
        return dnn_fail(err, DNN_EIO, "%s: not a segment of this study", where);
    for (int e = 0; e < n; e++) t->values[e] = dnn_json_value(cJSON_GetArrayItem(vals, e));
    if (k < 2 || n > 0) t->epochs = n;
    t->seconds += dnn_json_value(cJSON_GetObjectItemCaseSensitive(l, "seconds")) > 0
                      ? dnn_json_value(cJSON_GetObjectItemCaseSensitive(l, "seconds"))
                      : 0;
    if (k == 2) {
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(l, "message");
        failed(S, t, json_int(l, "status", 1, 255, DNN_EINTERNAL),
               cJSON_IsString(msg) ? msg->valuestring : "");
    } else {
        t->state = states[k];
    }
    (void)err;
    return DNN_OK;
}

static dnn_status replay(study *S, cJSON **lines, int n, dnn_error *err)
{
    for (int i = 1; i < n; i++) {
        const cJSON *l = lines[i];
        const char *ev = cJSON_GetObjectItemCaseSensitive(l, "event")->valuestring;
        char where[4200];
        snprintf(where, sizeof where, "%s:%d", S->j.path, i + 1);
        int k = json_int(l, "trial", 0, INT32_MAX - 1, -1);
        dnn_status st = DNN_OK;
        if (strcmp(ev, "trial") == 0) {
            st = k == S->n
                     ? replay_trial(S, l, where, err)
                     : dnn_fail(err, DNN_EIO, "%s: trial %d out of order (expected %d)", where, k, S->n);
            if (st) return st;
            continue;
        }
        if (k < 0 || k >= S->n) return dnn_fail(err, DNN_EIO, "%s: no such trial", where);
        tune_trial *t = &S->t[k];
        if (strcmp(ev, "run") == 0) {
            t->state = TRIAL_RUNNING;
            t->until = json_int(l, "until", 1, INT32_MAX, 0);
            if (t->until < 1 || t->until > t->max_epochs || !t->config)
                return dnn_fail(err, DNN_EIO, "%s: not a segment of this study", where);
        } else if (strcmp(ev, "segment") == 0) {
            st = replay_segment(S, t, l, where, err);
        } else if (strcmp(ev, "end") == 0) {
            t->state = TRIAL_PRUNED;
        } else {
            st = dnn_fail(err, DNN_EIO, "%s: unknown event \"%s\" (written by a newer dnntune?)", where, ev);
        }
        if (st) return st;
    }
    for (int i = 0; i < S->n; i++)
        S->t[i].pending = S->t[i].state == TRIAL_RUNNING || (S->t[i].state == TRIAL_NEW && S->t[i].config);
    return DNN_OK;
}

/* ---- opening a study ---- */

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

/* A study started again in its folder (--overwrite): what the old one wrote goes first. */
static dnn_status clear_outputs(const char *dir, dnn_error *err)
{
    static const char *const files[] = {"trials.csv", "best.json", "report.html"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char *p = dnn_path_join(dir, files[i]);
        if (p) unlink(p);
        free(p);
    }
    char *trials = dnn_path_join(dir, "trials");
    if (!trials) return dnn_fail_oom(err, dir, 0);
    int rc = nftw(trials, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    dnn_status st = rc != 0 && errno != ENOENT
                        ? dnn_fail(err, DNN_EIO, "%s: cannot remove: %s", trials, strerror(errno))
                        : DNN_OK;
    free(trials);
    return st;
}

static dnn_status open_journal(study *S, cJSON ***lines, int *n, dnn_error *err)
{
    char *path = dnn_path_join(S->dir, "study.jsonl");
    if (!path) return dnn_fail_oom(err, S->dir, 0);
    dnn_status st = tune_journal_open(&S->j, path, lines, n, err);
    free(path);
    return st;
}

static void free_lines(cJSON **lines, int n)
{
    for (int i = 0; i < n; i++) cJSON_Delete(lines[i]);
    free(lines);
}

static dnn_status open_fresh(study *S, dnn_error *err)
{
    dnn_status st = dnn_sweep_load(&S->sw, S->o->sweep_path, err);
    if (!st) st = dnn_mkdirs(S->dir, err);
    cJSON **lines = NULL;
    int n = 0;
    if (!st) st = open_journal(S, &lines, &n, err);
    free_lines(lines, n);
    char *trials = st ? NULL : dnn_path_join(S->dir, "trials");
    struct stat sb;
    int old_trials = trials && stat(trials, &sb) == 0; /* a study whose journal was lost */
    free(trials);
    if (!st && (n > 0 || old_trials) && !S->o->overwrite)
        return dnn_fail(
            err, DNN_EIO,
            "%s holds a study already: continue it with --resume %s, or start again with --overwrite "
            "(or choose another --out)",
            S->dir, S->dir);
    if (!st && n > 0) st = tune_journal_reset(&S->j, err);
    if (!st && S->o->overwrite) st = clear_outputs(S->dir, err);
    if (st) return st;
    /* the sweep and the base as they are now: a resumed study needs neither file again */
    cJSON *line = cJSON_CreateObject();
    if (line) {
        char *sweep = dnn_path_absolute(S->o->sweep_path);
        cJSON_AddNumberToObject(line, "version", 1);
        cJSON_AddStringToObject(line, "sweep_file", sweep ? sweep : S->o->sweep_path);
        cJSON_AddItemToObject(line, "sweep", cJSON_Duplicate(S->sw.json, 1));
        cJSON_AddStringToObject(line, "base_file", S->sw.base_file);
        cJSON_AddItemToObject(line, "base", cJSON_Duplicate(S->sw.base, 1));
        cJSON_AddNumberToObject(line, "threads_per_trial", S->threads);
        free(sweep);
    }
    return journal(S, "study", NULL, line, err);
}

static dnn_status open_resume(study *S, dnn_error *err)
{
    char *path = dnn_path_join(S->dir, "study.jsonl");
    struct stat sb;
    int there = path && stat(path, &sb) == 0 && sb.st_size > 0;
    free(path);
    if (!there)
        return dnn_fail(err, DNN_EIO, "%s: no study to resume here (no study.jsonl; start one with --config)",
                        S->dir);
    cJSON **lines;
    int n;
    dnn_status st = open_journal(S, &lines, &n, err);
    const cJSON *head = !st && n ? lines[0] : NULL;
    const cJSON *ev = head ? cJSON_GetObjectItemCaseSensitive(head, "event") : NULL;
    const cJSON *file = head ? cJSON_GetObjectItemCaseSensitive(head, "sweep_file") : NULL;
    const cJSON *base = head ? cJSON_GetObjectItemCaseSensitive(head, "base_file") : NULL;
    if (!st && (!ev || strcmp(ev->valuestring, "study") || !cJSON_IsString(file) || !cJSON_IsString(base) ||
                !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(head, "sweep")) ||
                !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(head, "base"))))
        st = dnn_fail(err, DNN_EIO, "%s:1: expected the study's first line", S->j.path);
    if (!st) {
        cJSON *sweep = cJSON_DetachItemFromObjectCaseSensitive(lines[0], "sweep");
        cJSON *basej = cJSON_DetachItemFromObjectCaseSensitive(lines[0], "base");
        st = dnn_sweep_from_json(&S->sw, sweep, file->valuestring, basej, base->valuestring, err);
    }
    int th = head ? json_int(head, "threads_per_trial", 1, 1024, 0) : 0;
    if (!st && th && !S->o->threads_per_trial) {
        S->threads = th;
    } else if (!st && th && S->threads != th) {
        char text[200];
        snprintf(
            text, sizeof text,
            "the study began with %d thread%s per trial, and continues with %d: trials carried over will "
            "round differently",
            th, th == 1 ? "" : "s", S->threads);
        note(S, text);
    }
    if (!st && S->sw.asha) tune_rungs_init(&S->rungs, S->sw.min_epochs, S->sw.max_epochs, S->sw.eta);
    if (!st) st = replay(S, lines, n, err);
    if (n) free_lines(lines, n);
    return st;
}

static int cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* jobs x threads within the cores: more would make trials fight over them and every timing meaningless */
static dnn_status check_threads(study *S, dnn_error *err)
{
    int c = cores();
    if (!S->threads) S->threads = c / S->jobs > 0 ? c / S->jobs : 1;
    if (!S->o->runner && S->jobs * S->threads > c)
        return dnn_fail(
            err, DNN_ECONFIG,
            "--jobs %d x --threads-per-trial %d = %d BLAS threads, more than the %d core%s available "
            "here",
            S->jobs, S->threads, S->jobs * S->threads, c, c == 1 ? "" : "s");
    return DNN_OK;
}

static char *default_dir(const char *sweep_path)
{
    char *stem = dnn_path_stem(sweep_path);
    char *dir = stem ? malloc(strlen(stem) + 8) : NULL;
    if (dir) sprintf(dir, "tune/%s", stem);
    free(stem);
    return dir;
}

/* ---- the end ---- */

static dnn_status prune_paused(study *S, dnn_error *err)
{
    for (int i = 0; i < S->n; i++) {
        if (S->t[i].state != TRIAL_PAUSED) continue;
        S->t[i].state = TRIAL_PRUNED;
        cJSON *line = cJSON_CreateObject();
        if (line) cJSON_AddStringToObject(line, "state", "pruned");
        dnn_status st = journal(S, "end", &S->t[i], line, err);
        if (st) return st;
        ended(S, &S->t[i]);
    }
    return DNN_OK;
}

static void summarize(const study *S, dnn_tune_result *res)
{
    res->trials = S->n;
    res->best_trial = best_completed(S);
    for (int i = 0; i < S->n; i++) {
        const tune_trial *t = &S->t[i];
        res->completed += t->state == TRIAL_COMPLETED;
        res->pruned += t->state == TRIAL_PRUNED;
        res->failed += t->state == TRIAL_FAILED;
        res->unfinished += t->state == TRIAL_RUNNING || t->state == TRIAL_PAUSED || t->state == TRIAL_NEW;
        res->trial_seconds += t->seconds;
        res->epochs_run += t->epochs;
    }
    res->seconds = tune_journal_elapsed(&S->j);
    res->jobs = S->jobs;
    res->threads_per_trial = S->threads;
    dnn_text x = {0};
    dnn_text_printf(&x, "study %s: %d trials: %d completed, %d pruned, %d failed", S->dir, res->trials,
                    res->completed, res->pruned, res->failed);
    if (res->unfinished) dnn_text_printf(&x, ", %d unfinished", res->unfinished);
    dnn_text_printf(&x, "; %ld epochs in %.1f s (trials' own time %.1f s)\n", res->epochs_run, res->seconds,
                    res->trial_seconds);
    if (res->best_trial >= 0) {
        const tune_trial *b = &S->t[res->best_trial];
        double v = tune_best_upto(b, b->epochs, S->sw.maximize, &res->best_epoch);
        res->best_value = S->sw.maximize ? -v : v;
        dnn_text_printf(&x, "best: trial %d, %s %.6g at epoch %d of %d\n", b->number,
                        dnn_monitor_name(S->sw.metric), res->best_value, res->best_epoch, b->epochs);
        for (int i = 0; i < S->sw.n_params; i++) {
            if (isnan(b->vals[i])) continue;
            cJSON *j = tune_value_json(&S->sw.params[i], b->vals[i]);
            char *s = j ? cJSON_PrintUnformatted(j) : NULL;
            dnn_text_printf(&x, "  %s = %s\n", S->sw.params[i].key, s ? s : "?");
            free(s);
            cJSON_Delete(j);
        }
        dnn_text_printf(&x, "best config: %s/best.json\n", S->dir);
    }
    dnn_text_printf(&x, "report: %s/report.html, trials: %s/trials.csv\n", S->dir, S->dir);
    res->summary = x.oom ? NULL : x.p;
    if (x.oom) dnn_text_free(&x);
}

static dnn_status write_results(study *S, dnn_error *err)
{
    int best = best_completed(S);
    dnn_status st = tune_write_csv(S->dir, &S->sw, S->t, S->n, err);
    if (!st && best >= 0) st = tune_write_best(S->dir, &S->sw, &S->t[best], err);
    if (!st) st = tune_write_report(S->dir, &S->sw, S->t, S->n, best, tune_journal_elapsed(&S->j), err);
    return st;
}

static dnn_status begin(study *S, dnn_error *err)
{
    const dnn_tune_opts *o = S->o;
    S->dir = o->resume_dir ? dnn_strdup(o->resume_dir)
             : o->out_dir  ? dnn_strdup(o->out_dir)
                           : default_dir(o->sweep_path);
    if (!S->dir) return dnn_fail_oom(err, "the study's folder", 0);
    dnn_status st = o->resume_dir ? open_resume(S, err) : check_threads(S, err);
    if (!st && o->resume_dir) st = check_threads(S, err);
    if (!st && !o->resume_dir) st = open_fresh(S, err);
    if (!st && !o->resume_dir && S->sw.asha)
        tune_rungs_init(&S->rungs, S->sw.min_epochs, S->sw.max_epochs, S->sw.eta);
    if (st) return st;
    if (o->runner) {
        S->runner = *o->runner;
        return DNN_OK;
    }
    S->own_runner = 1;
    return tune_proc_runner_create(&S->runner, o->dnntrain ? o->dnntrain : "dnntrain", S->threads, S->jobs,
                                   S->sw.metric, err);
}

/* What the study's end means: interrupted, at least one trial completed, or the first failure's code. */
static dnn_status verdict(const study *S, const dnn_tune_result *res, dnn_status st, dnn_error *err)
{
    if (st == DNN_EINTERRUPTED)
        return dnn_fail(err, st, "interrupted; running trials were checkpointed: continue with --resume %s",
                        S->dir);
    if (st || res->completed > 0) return st;
    if (S->failure)
        return dnn_fail(err, S->failure, "no trial completed: trial %d failed: %s", S->fail_trial,
                        S->fail_msg);
    return dnn_fail(err, DNN_EINTERNAL, "no trial completed");
}

dnn_status dnn_tune_run(const dnn_tune_opts *o, dnn_tune_result *res, dnn_error *err)
{
    memset(res, 0, sizeof *res);
    res->best_trial = -1;
    study S = {.o = o, .jobs = o->jobs > 0 ? o->jobs : 1, .threads = o->threads_per_trial};
    S.j.fd = -1;
    dnn_status st = begin(&S, err);
    if (S.dir) snprintf(res->dir, sizeof res->dir, "%s", S.dir);
    if (!st) {
        st = run_loop(&S, err);
        if (!st) st = prune_paused(&S, err);
        if (!st || st == DNN_EINTERRUPTED) { /* an interrupted study writes what it has too */
            dnn_status w = write_results(&S, err);
            if (w)
                st = w;
            else
                summarize(&S, res);
        }
        st = verdict(&S, res, st, err);
    }
    if (S.own_runner) tune_proc_runner_free(&S.runner);
    tune_journal_close(&S.j);
    free_trials(&S);
    dnn_sweep_free(&S.sw);
    free(S.dir);
    return st;
}

void dnn_tune_result_free(dnn_tune_result *res)
{
    if (!res) return;
    free(res->summary);
    res->summary = NULL;
}
