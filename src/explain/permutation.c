/* Permutation importance (Breiman 2001; scikit-learn's permutation_importance): how much the score drops
 * when one group of columns is shuffled across the samples, which breaks its link to the target. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/loss.h"
#include "dnn/rng.h"
#include "dnn/util.h"
#include "internal.h"

/* Buffers of a scoring pass over the data set. */
typedef struct {
    float *xp;      /* [B, d] the rows whose values the shuffled columns take */
    int32_t *y;     /* [B] */
    float *t;       /* [B, k] normalised targets */
    uint32_t *idx;  /* [B] */
    uint32_t *perm; /* [n] */
    double *sse;    /* [k] */
    double *sst;    /* [k] the targets' total sum of squares (R^2) */
} bufs_t;

/* The score of the network on ds with the columns of g (NULL: none) taken from rows perm. */
static double score_pass(ex_pass *p, const dnn_model *m, const dnn_dataset *ds, dnn_scoring sc,
                         const dnn_feature_group *g, bufs_t *B)
{
    const int d = p->d, k = p->k;
    const dnn_layer *out = &p->net->layers[p->net->n_layers - 1];
    size_t correct = 0;
    double loss = 0;
    memset(B->sse, 0, (size_t)k * sizeof(double));
    for (size_t start = 0; start < ds->n; start += (size_t)p->B) {
        int b = (int)(ds->n - start < (size_t)p->B ? ds->n - start : (size_t)p->B);
        for (int i = 0; i < b; i++) B->idx[i] = (uint32_t)(start + (size_t)i);
        dnn_gather(ds, &m->norm, B->idx, (size_t)b, p->rows, B->y, B->t);
        if (g) { /* the group's columns from the shuffled rows */
            dnn_gather(ds, &m->norm, B->perm + start, (size_t)b, B->xp, NULL, NULL);
            for (int i = 0; i < b; i++)
                for (int c = 0; c < g->n; c++)
                    p->rows[(size_t)i * d + g->cols[c]] = B->xp[(size_t)i * d + g->cols[c]];
        }
        const float *a = ex_forward(p, b);
        if (sc == DNN_SCORING_ACCURACY)
            correct += (size_t)dnn_count_correct(a, b, k, B->y);
        else if (sc == DNN_SCORING_LOSS)
            loss += dnn_loss(m->cfg.loss, out->act, out->slope, dnn_net_logits(p->net), a, b, k, B->y, B->t,
                             NULL);
        else
            for (size_t q = 0; q < (size_t)b * (size_t)k; q++) {
                double e = (double)a[q] - B->t[q];
                B->sse[q % (size_t)k] += e * e;
            }
    }
    const double n = (double)ds->n;
    if (sc == DNN_SCORING_ACCURACY) return (double)correct / n;
    if (sc == DNN_SCORING_LOSS) return loss / n;
    double r2 = 0; /* the uniform average over targets; a constant target scores 1 when fitted exactly */
    for (int j = 0; j < k; j++) r2 += B->sst[j] > 0 ? 1 - B->sse[j] / B->sst[j] : B->sse[j] == 0 ? 1 : 0;
    return r2 / k;
}

/* Total sums of squares of the normalised targets about their mean, per target. */
static void total_squares(const dnn_model *m, const dnn_dataset *ds, bufs_t *B)
{
    const int k = ds->n_targets;
    for (int j = 0; j < k; j++) {
        double mean = 0, ss = 0;
        for (size_t i = 0; i < ds->n; i++) mean += ds->t[i * (size_t)k + (size_t)j];
        mean /= (double)ds->n;
        for (size_t i = 0; i < ds->n; i++) {
            double e = ds->t[i * (size_t)k + (size_t)j] - mean;
            ss += e * e;
        }
        const float mul = m->norm.k ? m->norm.tmul[j] : 1.0f; /* into the model's units */
        B->sst[j] = ss * mul * mul;
    }
}

static void bufs_free(bufs_t *B)
{
    free(B->xp);
    free(B->y);
    free(B->t);
    free(B->idx);
    free(B->perm);
    free(B->sse);
    free(B->sst);
}

dnn_status ex_permutation(ex_pass *p, const dnn_model *m, const dnn_dataset *ds, const dnn_explain_opts *o,
                          const dnn_feature_groups *gs, dnn_perm_result *r, dnn_error *err)
{
    const int k = p->k;
    bufs_t B = {ex_calloc((size_t)p->B * (size_t)p->d, sizeof(float)),
                ex_calloc((size_t)p->B, sizeof(int32_t)),
                ex_calloc((size_t)p->B * (size_t)k, sizeof(float)),
                ex_calloc((size_t)p->B, sizeof(uint32_t)),
                ex_calloc(ds->n, sizeof(uint32_t)),
                ex_calloc((size_t)k, sizeof(double)),
                ex_calloc((size_t)k, sizeof(double))};
    if (!B.xp || !B.y || !B.t || !B.idx || !B.perm || !B.sse || !B.sst) {
        bufs_free(&B);
        return dnn_fail_oom(err, "permutation buffers", ds->n * sizeof(uint32_t));
    }
    double t0 = dnn_now();
    if (r->scoring == DNN_SCORING_R2) total_squares(m, ds, &B);
    r->score = score_pass(p, m, ds, r->scoring, NULL, &B);
    /* one stream for every shuffle, drawn group by group and repeat by repeat: the same seed gives the same
     * importances whatever the thread count or batch size */
    dnn_rng rng;
    dnn_rng_seed(&rng, o->seed, DNN_STREAM_PERMUTE);
    const double sign = r->scoring == DNN_SCORING_LOSS ? -1 : 1; /* a loss that rises is a score that drops */
    for (int gi = 0; gi < gs->n; gi++) {
        double sum = 0, sq = 0;
        for (int rep = 0; rep < o->repeats; rep++) {
            for (size_t i = 0; i < ds->n; i++) B.perm[i] = (uint32_t)i;
            dnn_rng_shuffle(&rng, B.perm, ds->n);
            double drop = sign * (r->score - score_pass(p, m, ds, r->scoring, &gs->g[gi], &B));
            sum += drop;
            sq += drop * drop;
        }
        double mean = sum / o->repeats, var = sq / o->repeats - mean * mean;
        r->mean[gi] = mean;
        r->std[gi] = sqrt(var > 0 ? var : 0); /* of the repeats themselves, as scikit-learn reports */
    }
    r->seconds += dnn_now() - t0;
    bufs_free(&B);
    return DNN_OK;
}
