/* The job's collective operations and data-parallel training on them, run by mpirun on 2 or more processes:
 * parts of a batch, sums and broadcasts, one error for the job, replicas that stay bit-identical, a replica
 * that drifts caught, a stop request on one process ending all at the same step, and N processes against one
 * within a stated tolerance. */
#include <cjson/cJSON.h>
#include <mpi.h>
#include <stdint.h>

#include "check.h"
#include "dnn/comm.h"
#include "dnn/rng.h"
#include "dnn/train.h"
#include "train_fixture.h"

static dnn_comm *comm;
static int rank, size;

/* Whether x[0..n) is the same, bit for bit, on every process (rank 0's copy is the reference). */
static int same_everywhere(const float *x, size_t n)
{
    float *ref = malloc(n * sizeof(float) + 1);
    memcpy(ref, x, n * sizeof(float));
    MPI_Bcast(ref, (int)n, MPI_FLOAT, 0, MPI_COMM_WORLD);
    int mine = memcmp(ref, x, n * sizeof(float)) == 0, all;
    MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    free(ref);
    return all;
}

static void test_part(void)
{
    for (size_t n = 0; n < 40; n++) {
        size_t lo, hi;
        dnn_batch_part(n, dnn_comm_rank(comm), dnn_comm_size(comm), &lo, &hi);
        unsigned long mine[2] = {lo, hi}, *all = malloc(2 * (size_t)size * sizeof *all);
        MPI_Allgather(mine, 2, MPI_UNSIGNED_LONG, all, 2, MPI_UNSIGNED_LONG, MPI_COMM_WORLD);
        /* in order, without gaps, covering [0, n), sizes within one of each other */
        int ok = all[0] == 0 && all[2 * (size - 1) + 1] == n;
        for (int r = 0; r < size; r++) {
            ok &= r == 0 || all[2 * r] == all[2 * r - 1];
            unsigned long k = all[2 * r + 1] - all[2 * r];
            ok &= k == n / (size_t)size || k == n / (size_t)size + 1;
        }
        CHECK_MSG(ok, "n = %zu", n);
        free(all);
    }
}

static void test_collectives(void)
{
    dnn_error err;
    enum { N = 1000 };
    float x[N];
    for (int i = 0; i < N; i++) x[i] = (float)(rank + 1) * (float)i;
    CHECK(dnn_comm_sum(comm, x, N, &err) == DNN_OK);
    int ok = 1;
    for (int i = 0; i < N; i++) ok &= x[i] == (float)(size * (size + 1) / 2) * (float)i;
    CHECK(ok);
    double d[2] = {0.5, (double)rank};
    CHECK(dnn_comm_sum_f64(comm, d, 2, &err) == DNN_OK);
    CHECK(d[0] == 0.5 * size && d[1] == size * (size - 1) / 2.0);
    uint64_t lo, hi;
    CHECK(dnn_comm_range(comm, 100 + (uint64_t)rank, &lo, &hi, &err) == DNN_OK);
    CHECK(lo == 100 && hi == 100 + (uint64_t)size - 1);
    for (int i = 0; i < N; i++) x[i] = rank == 0 ? (float)i : -1.0f;
    CHECK(dnn_comm_bcast(comm, x, N, &err) == DNN_OK);
    CHECK(x[N - 1] == (float)(N - 1) && same_everywhere(x, N));

    /* bytes from rank 0, and what the others hear when it has none to send */
    char hello[] = "a checkpoint";
    uint8_t *buf = rank == 0 ? (uint8_t *)hello : NULL;
    size_t len = rank == 0 ? sizeof hello : 0;
    CHECK(dnn_comm_bcast_bytes(comm, &buf, &len, &err) == DNN_OK);
    CHECK(len == sizeof hello && buf && memcmp(buf, hello, len) == 0);
    if (rank != 0) free(buf);
    buf = NULL;
    dnn_status st = dnn_comm_bcast_bytes(comm, &buf, &len, &err);
    CHECK(rank == 0 ? st == DNN_OK : st == DNN_EIO && buf == NULL);
}

/* One error for the job: the lowest failing rank's, everywhere; flags are or'ed. */
static void test_agree(void)
{
    dnn_error err = {0};
    int flag = rank == size - 1;
    CHECK(dnn_comm_agree(comm, DNN_OK, &flag, &err) == DNN_OK && flag == 1);
    dnn_status st = rank == 1 ? dnn_fail(&err, DNN_EDATA, "x.csv:7: bad row") : DNN_OK;
    st = dnn_comm_agree(comm, st, NULL, &err);
    CHECK(st == DNN_EDATA && err.code == DNN_EDATA);
    CHECK_MSG(strncmp(err.msg, "process 1 of ", 13) == 0 && strstr(err.msg, "): x.csv:7: bad row"), "%s",
              err.msg);
    /* every process fails (a bad config): rank 0's message, as one process would print it */
    st = dnn_fail(&err, DNN_ECONFIG, "c.json: seed: expected an integer (rank %d)", rank);
    st = dnn_comm_agree(comm, st, NULL, &err);
    CHECK(st == DNN_ECONFIG && strcmp(err.msg, "c.json: seed: expected an integer (rank 0)") == 0);
}

/* ---- training ---- */

/* Three noisy blobs in 5 dimensions, n rows; the last batch is a partial one. */
static int setup(fixture *f, const char *layers, int batch, int epochs)
{
    return fixture_setup(f, layers, NULL, batch, epochs,
                         3 + (uint64_t)rank); /* differently: the loop must broadcast */
}

static void teardown(fixture *f)
{
    fixture_teardown(f);
}

static dnn_status train(fixture *f, dnn_train_hooks *h, dnn_error *err)
{
    dnn_batches b;
    dnn_memory_batches mem;
    dnn_status st = dnn_batches_memory(&b, &mem, &f->ds, f->rows, f->ds.n - 23, f->rows + f->ds.n - 23, 23,
                                       (size_t)f->m.cfg.batch_size, dnn_comm_rank(h ? h->comm : NULL),
                                       dnn_comm_size(h ? h->comm : NULL), err);
    if (!st) st = dnn_train(&f->m, &f->s, &b, h, err);
    dnn_batches_memory_free(&mem);
    return st;
}

/* The hooks' context: what a process does to itself at a given step. */
typedef struct {
    fixture *f;
    int rank;      /* the process that acts */
    uint64_t step; /* after this step */
    int perturb;   /* nudge one weight */
    volatile sig_atomic_t stop;
    int fail_epoch; /* on_epoch fails on this rank */
} act;

static void on_batch(void *ctx, const dnn_progress *p)
{
    act *a = ctx;
    (void)p;
    if (rank != a->rank || a->f->s.step != a->step) return;
    if (a->perturb)
        a->f->m.net->params[7] += 1e-3f;
    else
        a->stop = 1;
}

static dnn_status on_epoch(void *ctx, const dnn_epoch_log *log, int improved, dnn_error *err)
{
    act *a = ctx;
    (void)improved;
    if (a->fail_epoch && rank == a->rank && log->epoch == a->fail_epoch)
        return dnn_fail(err, DNN_EIO, "runs/x/ckpt.bin: cannot write: No space left on device");
    return DNN_OK;
}

/* Replicas start from rank 0's parameters (each process initialised its own differently) and stay
 * identical through batchnorm, dropout, l2 and partial batches of fewer rows than processes. */
static void test_replicas(void)
{
    fixture f;
    if (setup(&f,
              "{\"type\": \"dense\", \"units\": 16, \"activation\": \"relu\", \"l2\": 0.001}, "
              "{\"type\": \"batchnorm\"}, {\"type\": \"dropout\", \"rate\": 0.2}",
              /* 180 training rows in batches of 11: the last has 4 */ 11, 3)) {
        check_failures++;
        return;
    }
    dnn_error err;
    dnn_train_hooks h = {.comm = comm};
    CHECK(train(&f, &h, &err) == DNN_OK);
    CHECK(same_everywhere(f.m.net->params, f.m.net->n_params));
    CHECK(same_everywhere(f.m.net->state, f.m.net->n_state));
    CHECK(same_everywhere(f.s.opt->m, f.s.opt->n) && same_everywhere(f.s.opt->v, f.s.opt->n));
    double h0[2] = {f.s.history[2].loss, f.s.history[2].val_accuracy}, h1[2] = {h0[0], h0[1]};
    MPI_Bcast(h1, 2, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    CHECK(h0[0] == h1[0] && h0[1] == h1[1]); /* the logs are the whole batch's, the same everywhere */
    CHECK(f.s.history[2].val_accuracy > 0.6);
    teardown(&f);
}

/* A replica that drifts is caught at the epoch's end, on every process, before anything is written. The drift
 * comes after the epoch's last step (180 rows in batches of 20: step 18 ends epoch 2): a sharded update
 * sends every parameter from the process that owns it at each step, which would heal an earlier one. */
static void test_drift(void)
{
    fixture f;
    if (setup(&f, "{\"type\": \"dense\", \"units\": 8, \"activation\": \"relu\"}", 20, 3)) {
        check_failures++;
        return;
    }
    act a = {.f = &f, .rank = size - 1, .step = 18, .perturb = 1};
    int epochs_seen = 0;
    dnn_error err;
    dnn_train_hooks h = {.on_batch = on_batch, .ctx = &a, .comm = comm};
    dnn_status st = train(&f, &h, &err);
    epochs_seen = f.s.epoch;
    CHECK_MSG(st == DNN_EINTERNAL && strstr(err.msg, "after epoch 2 the") &&
                  strstr(err.msg, "processes hold different parameters"),
              "%d %s", st, err.msg);
    CHECK(epochs_seen == 2);
    teardown(&f);
}

/* A stop request on one process ends every process after the same step; a hook failing on one process
 * ends every process with its error. */
static void test_stop_and_failure(void)
{
    fixture f;
    if (setup(&f, "{\"type\": \"dense\", \"units\": 8, \"activation\": \"relu\"}", 20, 3)) {
        check_failures++;
        return;
    }
    act a = {.f = &f, .rank = size - 1, .step = 13};
    dnn_error err;
    dnn_train_hooks h = {.on_batch = on_batch, .ctx = &a, .stop = &a.stop, .comm = comm};
    dnn_status st = train(&f, &h, &err);
    unsigned long step = f.s.step, ref = step;
    MPI_Bcast(&ref, 1, MPI_UNSIGNED_LONG, 0, MPI_COMM_WORLD);
    /* asked after step 13, carried to every process by step 14's sums */
    CHECK_MSG(st == DNN_EINTERRUPTED && step == 14 && ref == 14, "%d after step %lu", st, step);
    CHECK(same_everywhere(f.m.net->params, f.m.net->n_params));
    a.stop = 0;
    a.rank = 0;
    a.fail_epoch = 2;
    a.step = 0;
    h.on_epoch = on_epoch;
    st = train(&f, &h, &err);
    CHECK_MSG(st == DNN_EIO && strstr(err.msg, "No space left") && f.s.epoch == 2, "%d %s", st, err.msg);
    teardown(&f);
}

/* N processes against one on the same global batches: only the order of the sums differs. After one step
 * (one batch of all 180 training rows) and after 5 epochs of batches of 20 (45 steps) the weights stay within
 * 1e-6 and 1e-5 of one process's, and the logged loss within 1e-7 (measured with 2 and 3 processes: 3e-8
 * and 1.8e-7, and 5e-9). */
static void test_against_one(void)
{
    const char *net = "{\"type\": \"dense\", \"units\": 16, \"activation\": \"tanh\", \"l2\": 0.001}, "
                      "{\"type\": \"dropout\", \"rate\": 0.2}";
    const struct {
        int epochs, batch;
        double tolerance;
        const char *what;
    } runs[] = {{1, 180, 1e-6, "one step"}, {5, 20, 1e-5, "5 epochs"}};
    for (int i = 0; i < 2; i++) {
        fixture f, g;
        if (setup(&f, net, runs[i].batch, runs[i].epochs) || setup(&g, net, runs[i].batch, runs[i].epochs)) {
            check_failures++;
            return;
        }
        dnn_error err;
        dnn_train_hooks h = {.comm = comm};
        CHECK(train(&f, &h, &err) == DNN_OK);
        /* one process alone, from rank 0's initial parameters */
        dnn_comm_bcast(comm, g.m.net->params, g.m.net->n_params, &err);
        CHECK(train(&g, NULL, &err) == DNN_OK);
        double worst = 0;
        for (size_t j = 0; j < f.m.net->n_params; j++)
            worst = fmax(worst, fabs((double)f.m.net->params[j] - g.m.net->params[j]));
        int e = runs[i].epochs - 1;
        double dloss = fabs(f.s.history[e].loss - g.s.history[e].loss);
        if (rank == 0)
            printf("%d processes against one after %s: max |weight difference| %.3g, loss difference %.3g\n",
                   size, runs[i].what, worst, dloss);
        CHECK(worst <= runs[i].tolerance && dloss <= 1e-7);
        teardown(&f);
        teardown(&g);
    }
}

int main(int argc, char **argv)
{
    dnn_error err;
    if (dnn_comm_init(&comm, &argc, &argv, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    rank = dnn_comm_rank(comm), size = dnn_comm_size(comm);
    if (size < 2) {
        fprintf(stderr, "test_comm must run under mpirun with at least 2 processes (it has %d)\n", size);
        dnn_comm_finalize(comm);
        return 1;
    }
    test_part();
    test_collectives();
    test_agree();
    test_replicas();
    test_drift();
    test_stop_and_failure();
    test_against_one();
    int failures = check_failures, all;
    MPI_Allreduce(&failures, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    dnn_comm_finalize(comm);
    return all != 0;
}
