/* Asynchronous successive halving (Li et al., MLSys 2020, Algorithm 2): rungs at min_epochs * eta^k epochs;
 * a trial pauses at each rung, and whenever a worker is free the best paused trial that ranks in the top
 * 1/eta of everything its rung has seen is promoted to the next rung, highest rung first. A trial is never
 * judged by a rung before it reaches it, and a paused trial can still be promoted when later trials do
 * worse: nothing is killed for arriving early. */
#include <math.h>
#include <stdlib.h>

#include "internal.h"

const char *tune_state_name(tune_state s)
{
    static const char *const names[] = {"new", "running", "paused", "completed", "failed", "pruned"};
    return names[s];
}

double tune_best_upto(const tune_trial *t, int epochs, int maximize, int *at)
{
    double best = INFINITY;
    *at = 0;
    for (int e = 0; e < epochs && e < t->epochs; e++) {
        double v = maximize ? -t->values[e] : t->values[e];
        if (!isnan(v) && (*at == 0 || v < best)) best = v, *at = e + 1;
    }
    return best;
}

void tune_rungs_init(tune_rungs *r, int min_epochs, int max_epochs, int eta)
{
    r->n = 0;
    r->max_epochs = max_epochs;
    r->eta = eta;
    for (long e = min_epochs; e < max_epochs && r->n < 32; e *= eta) r->epochs[r->n++] = (int)e;
}

int tune_rung_next(const tune_rungs *r, int epochs, int max_epochs)
{
    for (int k = 0; k < r->n; k++)
        if (r->epochs[k] > epochs && r->epochs[k] < max_epochs) return r->epochs[k];
    return max_epochs;
}

typedef struct {
    double value;
    int number, index;
} member;

static int by_value(const void *a, const void *b)
{
    const member *x = a, *y = b;
    if (x->value != y->value) return x->value < y->value ? -1 : 1;
    return (x->number > y->number) - (x->number < y->number);
}

/* The trials that have reached rung epoch e, best first; returns their count. */
static int rung_members(const tune_trial *t, int n, int e, int maximize, member *m)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (t[i].epochs < e) continue;
        int at;
        m[k].value = tune_best_upto(&t[i], e, maximize, &at);
        m[k].number = t[i].number;
        m[k++].index = i;
    }
    qsort(m, (size_t)k, sizeof *m, by_value);
    return k;
}

int tune_asha_promotion(const tune_rungs *r, const tune_trial *t, int n, int maximize, int *until)
{
    member *m = malloc(((size_t)n + 1) * sizeof *m);
    if (!m) return -1;
    int found = -1;
    for (int k = r->n - 1; k >= 0 && found < 0; k--) {
        const int e = r->epochs[k];
        int count = rung_members(t, n, e, maximize, m), top = count / r->eta;
        for (int j = 0; j < top && found < 0; j++) {
            const tune_trial *x = &t[m[j].index];
            if (x->state == TRIAL_PAUSED && x->epochs == e) {
                found = m[j].index;
                *until = tune_rung_next(r, e, x->max_epochs);
            }
        }
    }
    free(m);
    return found;
}

int tune_asha_fallback(const tune_rungs *r, const tune_trial *t, int n, int maximize, int *until)
{
    int found = -1;
    double best = INFINITY;
    for (int i = 0; i < n; i++) {
        if (t[i].state != TRIAL_PAUSED) continue;
        int at;
        double v = tune_best_upto(&t[i], t[i].epochs, maximize, &at);
        if (found < 0 || t[i].epochs > t[found].epochs || (t[i].epochs == t[found].epochs && v < best))
            found = i, best = v;
    }
    if (found >= 0) *until = tune_rung_next(r, t[found].epochs, t[found].max_epochs);
    return found;
}
