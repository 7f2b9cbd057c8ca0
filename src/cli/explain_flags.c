/* dnneval's explanation flags (--explain, --repeats, --steps, ...). */
#include "explain_flags.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "options.h"

void explain_flags_init(explain_flags *x)
{
    memset(x, 0, sizeof *x);
    x->o = dnn_explain_defaults();
}

static int fail(const dnn_error *err)
{
    fprintf(stderr, "dnneval: %s\n", err->msg);
    return -1;
}

int explain_flag(explain_flags *x, int c, const char *arg)
{
    dnn_error err = {0};
    long v = 0;
    x->any |= c != E_EXPLAIN && c >= E_EXPLAIN && c <= E_SANITY;
    switch (c) {
    case E_EXPLAIN:
        x->methods = arg;
        return dnn_explain_parse_methods(arg, &x->o.methods, &err) ? fail(&err) : 0;
    case E_REPEATS:
        if (cli_int("dnneval", "repeats", arg, 1, 100000, &v)) return -1;
        x->o.repeats = (int)v;
        return 0;
    case E_SCORING: return dnn_explain_parse_scoring(arg, &x->o.scoring, &err) ? fail(&err) : 0;
    case E_GROUPS: x->groups = arg; return 0;
    case E_STEPS:
        if (cli_int("dnneval", "steps", arg, 1, 100000, &v)) return -1;
        x->o.steps = (int)v;
        return 0;
    case E_IG_METHOD: return dnn_explain_parse_quadrature(arg, &x->o.quadrature, &err) ? fail(&err) : 0;
    case E_BASELINE:
        if (!*arg) {
            fprintf(stderr, "dnneval: --baseline: expected zero, mean or a data file, got \"\"\n");
            return -1;
        }
        x->o.baseline = !strcmp(arg, "zero")   ? DNN_BASELINE_ZERO
                        : !strcmp(arg, "mean") ? DNN_BASELINE_MEAN
                                               : DNN_BASELINE_DATA;
        x->baseline_file = x->o.baseline == DNN_BASELINE_DATA ? arg : NULL;
        return 0;
    case E_TARGET: x->target = arg; return 0;
    case E_EXPLAIN_SAMPLES:
        if (cli_int("dnneval", "explain-samples", arg, 0, 100000, &v)) return -1;
        x->o.samples = (int)v;
        return 0;
    case E_SANITY: x->o.sanity = 1; return 0;
    default: return 1;
    }
}

int explain_resolve(explain_flags *x, const dnn_model *m, dnn_feature_groups *gs)
{
    dnn_error err = {0};
    x->o.seed = m->cfg.seed;
    if (x->target && dnn_explain_parse_target(x->target, m, &x->o.target, &err)) {
        fail(&err);
        return 2;
    }
    if (x->groups) {
        dnn_status st = dnn_groups_load(gs, x->groups, m->feature_names, m->net->n_in, &err);
        if (st) {
            fail(&err);
            return (int)st;
        }
        x->o.groups = gs;
    }
    return 0;
}
