/* The training step shared out across threads (rows, then shares of the parameters) and processes (shares
 * of the parameters). Each job below runs on every thread at once; its thread i handles share i. */
#include "dnn/replicas.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/blas.h"
#include "dnn/gemm.h"
#include "dnn/loss.h"
#include "dnn/util.h"
#include "dnn/workers.h"

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

/* Floats per cache line: threads' shares of the parameters start on one, so no two threads write a line. */
enum { LINE = 16 };
/* Floats an update takes at once: every array's block stays in L2 from one operation to the next. */
enum { BLOCK = 8192 };

/* One thread's results of a job, a cache line each. */
typedef struct {
    double loss, correct, sum;
    char pad[64 - 3 * sizeof(double)];
} tally;

struct dnn_replicas {
    dnn_model *m;
    dnn_net *net; /* the model's, which is thread 0's replica */
    dnn_optim *opt;
    dnn_comm *comm;
    dnn_row_team team;       /* nets: the model's network, then views of it with gradients */
    int n;                   /* team.n: threads splitting rows (1: none) */
    tally *tallies;          /* n */
    float *scratch;          /* n blocks of BLOCK floats: each thread's sum of the gradients of a block */
    size_t part_lo, part_hi; /* this process's share of the parameters to update */
    size_t *parts;           /* a sharded step's: the processes' shares (size + 1 offsets), else NULL */
    float *recv;             /* a sharded sum's receive buffer */
    int l2;                  /* some layer has an l2 penalty */
    /* the current job's */
    const dnn_step_rows *part;
    int training;
    double lr;
    float scale;
    int pending; /* the threads' gradients are not yet added into the model's */
    int with_sum, with_l2, with_sumsq, with_adam, with_round;
    size_t lo, hi; /* the range a job over parameters splits */
};

/* ---- set-up ---- */

int dnn_row_threads(const dnn_net *net, int rows, int threads, int training)
{
    if (training && net->n_state) return 1; /* the state is batchnorm's running statistics */
    int n = threads < rows / DNN_REPLICA_MIN_ROWS ? threads : rows / DNN_REPLICA_MIN_ROWS;
    const double work = (double)net->n_params * rows / DNN_REPLICA_MIN_WORK;
    if (n > work) n = (int)work;
    return n > 1 ? n : 1;
}

/* Every thread of the team takes one-threaded bf16 products (oneDNN's thread count is per thread). */
static void solo_job(void *ctx, int i, int n)
{
    (void)ctx, (void)i, (void)n;
    dnn_bf16_set_threads(1);
}

static dnn_status team_nets(dnn_row_team *t, const dnn_config *cfg, dnn_net *net, int rows, int training,
                            dnn_error *err)
{
    t->nets = calloc((size_t)t->n, sizeof *t->nets);
    if (!t->nets) return dnn_fail_oom(err, "the threads' networks", (size_t)t->n * sizeof *t->nets);
    t->nets[0] = net;
    for (int i = 1; i < t->n; i++) {
        dnn_status st = training ? dnn_net_create_replica(&t->nets[i], cfg, net, rows, err)
                                 : dnn_net_create_view(&t->nets[i], cfg, net, rows, err);
        if (!st) st = dnn_net_set_precision(t->nets[i], net->precision, err);
        if (st) return st;
    }
    /* thread 0's passes are a thread's share too: bf16 products padded to the whole batch would cost 2x */
    return t->n > 1 ? dnn_net_prepare_rows(net, rows, err) : DNN_OK;
}

dnn_status dnn_row_team_create(dnn_row_team *t, const dnn_config *cfg, dnn_net *net, int rows, int max_rows,
                               int threads, int training, dnn_error *err)
{
    memset(t, 0, sizeof *t);
    t->blas_threads = dnn_blas_threads();
    if (threads <= 0) threads = t->blas_threads < dnn_cpus() ? t->blas_threads : dnn_cpus();
    t->n = dnn_row_threads(net, rows, threads, training);
    dnn_status st = team_nets(t, cfg, net, (max_rows + t->n - 1) / t->n, training, err);
    if (!st && t->n > 1) st = dnn_workers_create(&t->workers, t->n, err);
    if (st) {
        dnn_row_team_free(t);
        return st;
    }
    if (t->n > 1) { /* each thread's products on that thread alone */
        dnn_blas_set_threads(1);
        dnn_blas_park();
        dnn_workers_run(t->workers, solo_job, NULL);
    }
    return DNN_OK;
}

void dnn_row_team_free(dnn_row_team *t)
{
    dnn_workers_free(t->workers);
    if (t->n > 1 && t->blas_threads > 0) {
        dnn_blas_set_threads(t->blas_threads);
        dnn_bf16_set_threads(t->blas_threads);
    }
    for (int i = 1; t->nets && i < t->n; i++) dnn_net_free(t->nets[i]);
    free(t->nets);
    memset(t, 0, sizeof *t);
}

/* This process's share of the parameters: all of them alone, else its part by dnn_share. */
static dnn_status make_parts(dnn_replicas *r, dnn_error *err)
{
    const size_t n = r->net->n_params;
    const int p = dnn_comm_size(r->comm), rank = dnn_comm_rank(r->comm);
    r->part_lo = 0, r->part_hi = n;
    if (p == 1 || !dnn_comm_can_part(r->comm, n)) return DNN_OK;
    r->parts = malloc(((size_t)p + 1) * sizeof *r->parts);
    if (!r->parts) return dnn_fail_oom(err, "the processes' shares", ((size_t)p + 1) * sizeof *r->parts);
    size_t lo, hi, most = 0;
    for (int k = 0; k < p; k++) {
        dnn_share(n, k, p, LINE, &lo, &hi);
        r->parts[k] = lo;
        if (hi - lo > most) most = hi - lo;
    }
    r->parts[p] = n;
    dnn_share(n, rank, p, LINE, &r->part_lo, &r->part_hi);
    r->recv = dnn_alloc_hot(most + 1, sizeof(float));
    return r->recv ? DNN_OK : dnn_fail_oom(err, "a share of the gradients", most * sizeof(float));
}

dnn_status dnn_replicas_create(dnn_replicas **out, dnn_model *m, dnn_optim *opt, dnn_comm *comm, int threads,
                               dnn_error *err)
{
    *out = NULL;
    dnn_replicas *r = calloc(1, sizeof *r);
    if (!r) return dnn_fail_oom(err, "the training threads", sizeof *r);
    r->m = m, r->net = m->net, r->opt = opt, r->comm = comm;
    r->l2 = dnn_net_has_l2(m->net);
    /* the threads split this process's part of a batch; validation deals up to a whole batch */
    const int p = dnn_comm_size(comm), B = m->cfg.batch_size;
    dnn_status st = dnn_row_team_create(&r->team, &m->cfg, m->net, (B + p - 1) / p, B, threads, 1, err);
    if (!st) {
        r->n = r->team.n;
        r->tallies = dnn_alloc_hot((size_t)r->n, sizeof *r->tallies);
        r->scratch = dnn_alloc_hot((size_t)r->n * BLOCK, sizeof(float));
        if (!r->tallies || !r->scratch)
            st = dnn_fail_oom(err, "the training threads", (size_t)r->n * BLOCK * sizeof(float));
    }
    if (!st) st = make_parts(r, err);
    if (st) {
        dnn_replicas_free(r);
        return st;
    }
    *out = r;
    return DNN_OK;
}

void dnn_replicas_free(dnn_replicas *r)
{
    if (!r) return;
    dnn_row_team_free(&r->team);
    free(r->tallies);
    free(r->scratch);
    free(r->parts);
    free(r->recv);
    free(r);
}

int dnn_replicas_threads(const dnn_replicas *r)
{
    return r->n;
}

/* ---- passes over rows ---- */

/* The caller of dnn_train flushes denormals to zero (train.c says why); the other threads of the team do the
 * same, so that a share's arithmetic does not depend on the thread it falls to. */
static void like_caller(int i)
{
#if defined(__SSE2__)
    if (i > 0) _mm_setcsr(_mm_getcsr() | 0x8040); /* FTZ | DAZ */
#else
    (void)i;
#endif
}

/* Thread i's rows of the part: [lo, hi). */
static void thread_rows(const dnn_replicas *r, int i, int n, size_t *lo, size_t *hi)
{
    dnn_share((size_t)r->part->rows, i, n, 1, lo, hi);
}

static void pass_job(void *ctx, int i, int n)
{
    dnn_replicas *r = ctx;
    like_caller(i);
    const dnn_step_rows *p = r->part;
    dnn_net *net = r->team.nets[i];
    const dnn_layer *out = &net->layers[net->n_layers - 1];
    const dnn_config *c = &r->m->cfg;
    const int k = net->n_out;
    tally *t = &r->tallies[i];
    size_t lo, hi;
    thread_rows(r, i, n, &lo, &hi);
    const int b = (int)(hi - lo);
    t->loss = t->correct = 0.0;
    if (b == 0) { /* fewer rows than threads */
        if (r->training) memset(net->grads, 0, net->n_params * sizeof(float));
        return;
    }
    if (p->fill) p->fill(p->fill_ctx, lo, hi);
    const float *x = p->x + lo * (size_t)net->n_in, *tt = p->t ? p->t + lo * (size_t)k : NULL;
    const int32_t *y = p->y ? p->y + lo : NULL;
    const float *a;
    if (r->training) {
        a = dnn_net_forward_rows(net, x, b, p->key, p->row0 + lo);
        t->loss = dnn_loss_part(c->loss, out->act, out->slope, dnn_net_logits(net), a, b, p->total, k, y, tt,
                                dnn_net_output_grad(net));
        dnn_net_backward_rows(net, x, b);
    } else {
        a = dnn_net_forward(net, x, b, 0, NULL);
        t->loss = dnn_loss(c->loss, out->act, out->slope, dnn_net_logits(net), a, b, k, y, tt, NULL);
    }
    if (c->task == DNN_TASK_CLASSIFICATION) t->correct = dnn_count_correct(a, b, k, y);
}

/* Thread i's share of the parameters [r->lo, r->hi). */
static void thread_params(const dnn_replicas *r, int i, int n, size_t *lo, size_t *hi)
{
    size_t a, b;
    dnn_share(r->hi - r->lo, i, n, LINE, &a, &b);
    *lo = r->lo + a, *hi = r->lo + b;
}

/* Sums of the threads' tallies, in their order. */
static double total(const dnn_replicas *r, size_t field)
{
    double s = 0.0;
    for (int i = 0; i < r->n; i++) s += *(const double *)((const char *)&r->tallies[i] + field);
    return s;
}

static void run_update(dnn_replicas *r, size_t lo, size_t hi, int sum, int l2, int sumsq, int adam,
                       int round);

static double pass(dnn_replicas *r, const dnn_step_rows *p, int training, double *correct)
{
    /* the replicas read the bf16 weights the model's network rounds: round them before, not during */
    if (r->n > 1 && r->net->half && r->net->half_stale) {
        run_update(r, 0, r->net->n_params, 0, 0, 0, 0, 1);
        r->net->half_stale = 0;
    }
    r->part = p;
    r->training = training;
    dnn_workers_run(r->team.workers, pass_job, r);
    *correct += total(r, offsetof(tally, correct));
    return total(r, offsetof(tally, loss));
}

double dnn_replicas_gradient(dnn_replicas *r, const dnn_step_rows *p, double *correct)
{
    double loss = pass(r, p, 1, correct);
    r->pending = r->n > 1;
    return loss;
}

double dnn_replicas_score(dnn_replicas *r, const dnn_step_rows *p, double *correct)
{
    return pass(r, p, 0, correct);
}

/* ---- the step across processes, then the update ---- */

dnn_status dnn_replicas_sync(dnn_replicas *r, double *sums, int n, dnn_error *err)
{
    dnn_net *net = r->net;
    const int p = dnn_comm_size(r->comm);
    if (p == 1) return DNN_OK;
    if (r->pending) { /* the threads' first */
        run_update(r, 0, net->n_params, 1, 0, 0, 0, 0);
        r->pending = 0;
    }
    dnn_status st = r->parts ? dnn_comm_sum_part(r->comm, net->grads, r->parts, r->recv, err)
                             : dnn_comm_sum(r->comm, net->grads, net->n_params, err);
    if (!st) st = dnn_comm_sum_f64(r->comm, sums, n, err);
    if (!st && net->n_state) {
        st = dnn_comm_sum(r->comm, net->state, net->n_state, err);
        for (size_t i = 0; i < net->n_state; i++) net->state[i] /= (float)p;
    }
    return st;
}

static void penalty_job(void *ctx, int i, int n)
{
    dnn_replicas *r = ctx;
    size_t lo, hi;
    thread_params(r, i, n, &lo, &hi);
    r->tallies[i].sum = dnn_net_l2_penalty(r->net, lo, hi);
}

double dnn_replicas_penalty(dnn_replicas *r)
{
    if (!r->l2) return 0.0;
    r->lo = 0, r->hi = r->net->n_params;
    dnn_workers_run(r->team.workers, penalty_job, r);
    return total(r, offsetof(tally, sum));
}

/* The threads' gradients of [lo, hi) added up, in the threads' order, into out (out[0] for lo), which may be
 * the model's own gradients there. */
static void add_replicas(const dnn_replicas *r, size_t lo, size_t hi, float *out)
{
    const float *g0 = r->net->grads + lo, *g1 = r->team.nets[1]->grads + lo; /* out may be g0 */
    for (size_t q = 0; q < hi - lo; q++) out[q] = g0[q] + g1[q];
    for (int j = 2; j < r->n; j++) {
        const float *restrict gj = r->team.nets[j]->grads + lo;
        for (size_t q = 0; q < hi - lo; q++) out[q] += gj[q];
    }
}

/* The update of a share in one trip through memory, block by block: the threads' gradients added up, l2's
 * gradient, the squared norm (for clipping), the optimizer's rule, the bf16 copies of the weights, as the
 * job asks. A sum used at once goes to the thread's scratch block rather than back into the model's
 * gradients, so the lines another thread wrote are only read, never taken over. */
static void update_job(void *ctx, int i, int n)
{
    dnn_replicas *r = ctx;
    dnn_net *net = r->net;
    like_caller(i);
    size_t lo, hi;
    thread_params(r, i, n, &lo, &hi);
    double sumsq = 0.0;
    const int kept = r->with_sumsq || !r->with_adam; /* a later job reads the sum */
    for (size_t a = lo; a < hi; a += BLOCK) {
        const size_t b = hi - a > BLOCK ? a + BLOCK : hi;
        float *g = net->grads + a;
        if (r->with_sum) {
            if (!kept) g = r->scratch + (size_t)i * BLOCK;
            add_replicas(r, a, b, g);
        }
        if (r->with_l2) dnn_net_l2_grad(net, g, a, b);
        if (r->with_sumsq)
            for (size_t q = 0; q < b - a; q++) sumsq += (double)g[q] * g[q];
        if (r->with_adam) dnn_optim_update(r->opt, net->params, g, r->lr, r->scale, a, b);
        if (r->with_round) dnn_net_round_weights(net, a, b);
    }
    r->tallies[i].sum = sumsq;
}

static void run_update(dnn_replicas *r, size_t lo, size_t hi, int sum, int l2, int sumsq, int adam, int round)
{
    r->lo = lo, r->hi = hi;
    r->with_sum = sum, r->with_l2 = l2, r->with_sumsq = sumsq, r->with_adam = adam, r->with_round = round;
    dnn_workers_run(r->team.workers, update_job, r);
}

dnn_status dnn_replicas_update(dnn_replicas *r, double lr, dnn_error *err)
{
    dnn_net *net = r->net;
    const int half = net->half != NULL, sharded = r->parts != NULL, sum = r->pending;
    const size_t lo = r->part_lo, hi = r->part_hi;
    dnn_status st = DNN_OK;
    r->lr = lr;
    r->scale = 1.0f;
    r->pending = 0;
    dnn_optim_begin(r->opt);
    if (r->opt->cfg.clip_norm > 0) { /* the norm of the whole gradient first */
        run_update(r, lo, hi, sum, r->l2, 1, 0, 0);
        double sumsq = total(r, offsetof(tally, sum));
        if (sharded && (st = dnn_comm_sum_f64(r->comm, &sumsq, 1, err))) return st;
        r->scale = dnn_optim_clip_scale(r->opt, sumsq);
        run_update(r, lo, hi, 0, 0, 0, 1, half && !sharded);
    } else
        run_update(r, lo, hi, sum, r->l2, 0, 1, half && !sharded);
    if (sharded) {
        if ((st = dnn_comm_gather_parts(r->comm, net->params, r->parts, err))) return st;
        if (half) run_update(r, 0, net->n_params, 0, 0, 0, 0, 1);
    }
    if (half) net->half_stale = 0;
    return DNN_OK;
}

dnn_status dnn_replicas_gather_state(dnn_replicas *r, dnn_error *err)
{
    if (!r->parts) return DNN_OK;
    dnn_status st = DNN_OK;
    if (r->opt->m) st = dnn_comm_gather_parts(r->comm, r->opt->m, r->parts, err);
    if (!st && r->opt->v) st = dnn_comm_gather_parts(r->comm, r->opt->v, r->parts, err);
    return st;
}
