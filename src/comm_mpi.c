/* The job on MPI. A program that no launcher started never initialises MPI and is a job of one, exactly as
 * a build without MPI. Errors come back as values (MPI_ERRORS_RETURN on the job's own communicator). */
#include <limits.h>
#include <mpi.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dnn/comm.h"

struct dnn_comm {
    int mpi;       /* MPI is initialised: a launcher started us */
    MPI_Comm comm; /* the job's: a duplicate of MPI_COMM_WORLD that returns errors */
    int rank, size;
    int machines, threads;
    int failed;
    char host[MPI_MAX_PROCESSOR_NAME + 1];
    int *counts, *displs; /* size each: the parts of a sharded sum or gather */
};

/* Elements per MPI call: counts are ints, and a model may hold more than INT_MAX floats. */
enum { CHUNK = 1 << 28 };

/* Whether a launcher started this process: Open MPI's mpirun, PMIx (srun --mpi=pmix, Open MPI 5), or PMI
 * (MPICH's hydra, srun). */
static int launched(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

static dnn_status mpi_fail(dnn_comm *c, int rc, const char *what, dnn_error *err)
{
    char msg[MPI_MAX_ERROR_STRING + 1] = "";
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    msg[len > 0 && len <= MPI_MAX_ERROR_STRING ? len : 0] = '\0';
    c->failed = 1;
    return dnn_fail(err, DNN_EIO,
                    "%s failed on process %d of %d (%s): %s; another process of the job may have died or "
                    "lost its connection",
                    what, c->rank, c->size, c->host, msg);
}

/* The CPUs this process may run on, and how many processes of its machine may run on some of them too:
 * each gets an equal share. With mpirun's default binding (a core each, for two processes) the sets are
 * disjoint; unbound, every process shares all of the machine's. */
static int default_threads(MPI_Comm local, int n_local)
{
    cpu_set_t mine;
    CPU_ZERO(&mine);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (sched_getaffinity(0, sizeof mine, &mine) != 0) /* more CPUs than a cpu_set_t holds */
        return online > n_local ? (int)(online / n_local) : 1;
    cpu_set_t *all = malloc((size_t)n_local * sizeof *all);
    int sharing = n_local;
    if (all && MPI_Allgather(&mine, (int)sizeof mine, MPI_BYTE, all, (int)sizeof mine, MPI_BYTE, local) ==
                   MPI_SUCCESS) {
        sharing = 0;
        for (int i = 0; i < n_local; i++) {
            cpu_set_t both;
            CPU_AND(&both, &mine, &all[i]);
            sharing += CPU_COUNT(&both) > 0;
        }
    }
    free(all);
    int cores = CPU_COUNT(&mine);
    return sharing > 0 && cores / sharing > 1 ? cores / sharing : 1;
}

/* The machines of the job and this process's default threads, from its machine's processes. */
static dnn_status survey(dnn_comm *c, dnn_error *err)
{
    MPI_Comm local;
    int rc = MPI_Comm_split_type(c->comm, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &local);
    if (rc != MPI_SUCCESS) return mpi_fail(c, rc, "MPI_Comm_split_type", err);
    int n_local = 1, local_rank = 0;
    MPI_Comm_size(local, &n_local);
    MPI_Comm_rank(local, &local_rank);
    c->threads = default_threads(local, n_local);
    MPI_Comm_free(&local);
    int first = local_rank == 0;
    rc = MPI_Allreduce(&first, &c->machines, 1, MPI_INT, MPI_SUM, c->comm);
    return rc == MPI_SUCCESS ? DNN_OK : mpi_fail(c, rc, "MPI_Allreduce (counting machines)", err);
}

dnn_status dnn_comm_init(dnn_comm **out, int *argc, char ***argv, dnn_error *err)
{
    dnn_comm *c = calloc(1, sizeof *c);
    *out = c;
    if (!c) return dnn_fail_oom(err, "the job", sizeof *c);
    c->size = c->machines = 1;
    if (!launched()) return DNN_OK;
    /* only the main thread talks to MPI; OpenBLAS's threads never do */
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return dnn_fail(err, DNN_EIO, "MPI_Init failed: this process cannot join its mpirun job");
    c->mpi = 1;
    int len = 0;
    MPI_Get_processor_name(c->host, &len);
    c->host[len > 0 && len <= MPI_MAX_PROCESSOR_NAME ? len : 0] = '\0';
    int rc = MPI_Comm_dup(MPI_COMM_WORLD, &c->comm);
    if (rc != MPI_SUCCESS) return mpi_fail(c, rc, "MPI_Comm_dup", err);
    MPI_Comm_set_errhandler(c->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(c->comm, &c->rank);
    MPI_Comm_size(c->comm, &c->size);
    c->counts = malloc((size_t)c->size * sizeof *c->counts);
    c->displs = malloc((size_t)c->size * sizeof *c->displs);
    if (!c->counts || !c->displs) return dnn_fail_oom(err, "the job's part table", (size_t)c->size * 8);
    return survey(c, err);
}

void dnn_comm_finalize(dnn_comm *c)
{
    if (!c) return;
    if (c->mpi) {
        if (!c->failed) MPI_Comm_free(&c->comm);
        MPI_Finalize();
    }
    free(c->counts);
    free(c->displs);
    free(c);
}

void dnn_comm_abort(dnn_comm *c, int code)
{
    if (c && c->mpi) MPI_Abort(MPI_COMM_WORLD, code);
}

int dnn_comm_rank(const dnn_comm *c)
{
    return c ? c->rank : 0;
}

int dnn_comm_size(const dnn_comm *c)
{
    return c ? c->size : 1;
}

int dnn_comm_threads(const dnn_comm *c)
{
    return c && c->mpi ? c->threads : 0;
}

int dnn_comm_failed(const dnn_comm *c)
{
    return c && c->failed;
}

const char *dnn_comm_library(char *buf, size_t n)
{
    char v[MPI_MAX_LIBRARY_VERSION_STRING + 1] = "";
    int len = 0;
    MPI_Get_library_version(v, &len); /* allowed before MPI_Init */
    v[len > 0 && len <= MPI_MAX_LIBRARY_VERSION_STRING ? len : 0] = '\0';
    v[strcspn(v, ",\n")] = '\0'; /* "Open MPI v4.1.4, package: ..." -> "Open MPI v4.1.4" */
    snprintf(buf, n, "%s", v);
    return buf;
}

const char *dnn_comm_describe(const dnn_comm *c, char *buf, size_t n)
{
    char lib[256];
    dnn_comm_library(lib, sizeof lib);
    if (!c || !c->mpi)
        snprintf(buf, n, "%s (not started by mpirun: one process)", lib);
    else
        snprintf(buf, n, "%s, %d process%s on %d machine%s", lib, c->size, c->size == 1 ? "" : "es",
                 c->machines, c->machines == 1 ? "" : "s");
    return buf;
}

static int alone(const dnn_comm *c)
{
    return !c || !c->mpi || c->size == 1;
}

dnn_status dnn_comm_bcast(dnn_comm *c, float *x, size_t n, dnn_error *err)
{
    if (alone(c)) return DNN_OK;
    for (size_t at = 0; at < n; at += CHUNK) {
        int k = (int)(n - at < CHUNK ? n - at : CHUNK);
        int rc = MPI_Bcast(x + at, k, MPI_FLOAT, 0, c->comm);
        if (rc != MPI_SUCCESS) return mpi_fail(c, rc, "MPI_Bcast (rank 0's parameters)", err);
    }
    return DNN_OK;
}

dnn_status dnn_comm_bcast_bytes(dnn_comm *c, uint8_t **buf, size_t *len, dnn_error *err)
{
    if (alone(c)) return DNN_OK;
    /* the length first; UINT64_MAX says rank 0 has nothing to send */
    uint64_t n = c->rank == 0 ? (*buf ? (uint64_t)*len : UINT64_MAX) : 0;
    int rc = MPI_Bcast(&n, 1, MPI_UINT64_T, 0, c->comm);
    if (rc != MPI_SUCCESS) return mpi_fail(c, rc, "MPI_Bcast (a file's length)", err);
    if (n == UINT64_MAX)
        return c->rank == 0 ? DNN_OK : dnn_fail(err, DNN_EIO, "rank 0 could not read the file to send");
    if (c->rank != 0) {
        *buf = n < SIZE_MAX ? malloc((size_t)n + 1) : NULL;
        if (!*buf) return dnn_fail_oom(err, "a file from rank 0", (size_t)n);
        *len = (size_t)n;
    }
    for (size_t at = 0; at < (size_t)n; at += CHUNK) {
        int k = (int)((size_t)n - at < CHUNK ? (size_t)n - at : CHUNK);
        rc = MPI_Bcast(*buf + at, k, MPI_BYTE, 0, c->comm);
        if (rc != MPI_SUCCESS) return mpi_fail(c, rc, "MPI_Bcast (a file)", err);
    }
    return DNN_OK;
}

dnn_status dnn_comm_sum(dnn_comm *c, float *x, size_t n, dnn_error *err)
{
    if (alone(c)) return DNN_OK;
    for (size_t at = 0; at < n; at += CHUNK) {
        int k = (int)(n - at < CHUNK ? n - at : CHUNK);
        int rc = MPI_Allreduce(MPI_IN_PLACE, x + at, k, MPI_FLOAT, MPI_SUM, c->comm);
        if (rc != MPI_SUCCESS) return mpi_fail(c, rc, "MPI_Allreduce (the gradients)", err);
    }
    return DNN_OK;
}

dnn_status dnn_comm_sum_f64(dnn_comm *c, double *x, int n, dnn_error *err)
{
    if (alone(c)) return DNN_OK;
    int rc = MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, c->comm);
    return rc == MPI_SUCCESS ? DNN_OK : mpi_fail(c, rc, "MPI_Allreduce (the loss and metrics)", err);
}

int dnn_comm_can_part(const dnn_comm *c, size_t n)
{
    return n <= INT_MAX && (alone(c) || c->counts);
}

/* MPI's counts and displacements of parts */
static void part_counts(dnn_comm *c, const size_t *parts)
{
    for (int r = 0; r < c->size; r++) {
        c->counts[r] = (int)(parts[r + 1] - parts[r]);
        c->displs[r] = (int)parts[r];
    }
}

dnn_status dnn_comm_sum_part(dnn_comm *c, float *x, const size_t *parts, float *tmp, dnn_error *err)
{
    if (alone(c)) return DNN_OK;
    part_counts(c, parts);
    int rc = MPI_Reduce_scatter(x, tmp, c->counts, MPI_FLOAT, MPI_SUM, c->comm);
    if (rc != MPI_SUCCESS) return mpi_fail(c, rc, "MPI_Reduce_scatter (the gradients)", err);
    memcpy(x + parts[c->rank], tmp, (size_t)c->counts[c->rank] * sizeof(float));
    return DNN_OK;
}

dnn_status dnn_comm_gather_parts(dnn_comm *c, float *x, const size_t *parts, dnn_error *err)
{
    if (alone(c)) return DNN_OK;
    part_counts(c, parts);
    int rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, x, c->counts, c->displs, MPI_FLOAT, c->comm);
    return rc == MPI_SUCCESS ? DNN_OK : mpi_fail(c, rc, "MPI_Allgatherv (the updated parameters)", err);
}

dnn_status dnn_comm_range(dnn_comm *c, uint64_t v, uint64_t *lo, uint64_t *hi, dnn_error *err)
{
    *lo = *hi = v;
    if (alone(c)) return DNN_OK;
    int rc = MPI_Allreduce(&v, lo, 1, MPI_UINT64_T, MPI_MIN, c->comm);
    if (rc == MPI_SUCCESS) rc = MPI_Allreduce(&v, hi, 1, MPI_UINT64_T, MPI_MAX, c->comm);
    return rc == MPI_SUCCESS ? DNN_OK : mpi_fail(c, rc, "MPI_Allreduce (the replicas' checksums)", err);
}

dnn_status dnn_comm_agree(dnn_comm *c, dnn_status st, int *flag, dnn_error *err)
{
    if (alone(c)) return st;
    /* one reduction: the maximum of minus the failing ranks is minus the lowest, and of the flags, any */
    int mine[2] = {st ? -c->rank : -c->size, flag && *flag}, all[2];
    int rc = MPI_Allreduce(mine, all, 2, MPI_INT, MPI_MAX, c->comm);
    if (rc != MPI_SUCCESS) return mpi_fail(c, rc, "MPI_Allreduce (agreeing on errors)", err);
    if (flag) *flag = all[1];
    int first = -all[0];
    if (first == c->size) return DNN_OK;
    /* the failing process's code and message, as it would print them alone; another's than rank 0's says
     * where it came from */
    struct {
        int code;
        char msg[sizeof err->msg];
    } e = {st, ""};
    if (c->rank == first) {
        if (first == 0)
            snprintf(e.msg, sizeof e.msg, "%s", err->msg);
        else
            snprintf(e.msg, sizeof e.msg, "process %d of %d (%.64s): %.900s", c->rank, c->size, c->host,
                     err->msg);
    }
    rc = MPI_Bcast(&e, (int)sizeof e, MPI_BYTE, first, c->comm);
    if (rc != MPI_SUCCESS) return mpi_fail(c, rc, "MPI_Bcast (an error)", err);
    err->code = (dnn_status)e.code;
    memcpy(err->msg, e.msg, sizeof err->msg);
    return (dnn_status)e.code;
}
