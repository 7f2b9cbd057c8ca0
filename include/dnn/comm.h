/* The processes that train one model together (an mpirun job) and the few collective operations that
 * data-parallel training needs. On MPI when dnn is built with it; without MPI, or when no launcher started
 * the program, the job is this process alone and every operation leaves its data as they are.
 * Every process of a job must make the same calls in the same order (they are collective). */
#ifndef DNN_COMM_H
#define DNN_COMM_H

#include <stddef.h>
#include <stdint.h>

#include "dnn/error.h"

typedef struct dnn_comm dnn_comm;

/* Join the job the program was started in: MPI when a launcher (mpirun, srun) started it, else a job of
 * one. Call once from main before any other thread starts, with main's argc and argv. */
dnn_status dnn_comm_init(dnn_comm **out, int *argc, char ***argv, dnn_error *err);
/* Leave the job and free c (NULL is fine). */
void dnn_comm_finalize(dnn_comm *c);
/* End every process of the job with code: for a failure the other processes cannot learn of by the
 * operations below (a lost process), which would leave them waiting for it. */
void dnn_comm_abort(dnn_comm *c, int code);

/* This process's number (0: the one that writes files) and the job's size; 0 and 1 for NULL. */
int dnn_comm_rank(const dnn_comm *c);
int dnn_comm_size(const dnn_comm *c);
/* BLAS threads for this process by default: the CPUs it may run on, shared among the processes of its
 * machine that may run on them too (at least 1); 0 for a job of one (the BLAS library's own default). */
int dnn_comm_threads(const dnn_comm *c);
/* Whether an operation failed: the other processes may be waiting, so the job must be aborted. */
int dnn_comm_failed(const dnn_comm *c);
/* "Open MPI v4.1.4, 2 processes on 1 machine", "not started by mpirun", "built without MPI". */
const char *dnn_comm_describe(const dnn_comm *c, char *buf, size_t n);
/* The MPI library's name and version, or "" without MPI. */
const char *dnn_comm_library(char *buf, size_t n);

/* Rank 0's x[0..n) to every process. */
dnn_status dnn_comm_bcast(dnn_comm *c, float *x, size_t n, dnn_error *err);
/* Rank 0's bytes to every process: rank 0 passes *buf and *len (*buf NULL when it has none to send, after
 * a failure of its own); the others get a malloc'ed copy, or NULL and an error when rank 0 sent none. */
dnn_status dnn_comm_bcast_bytes(dnn_comm *c, uint8_t **buf, size_t *len, dnn_error *err);
/* x[0..n) summed over the processes, in place, on every process. */
dnn_status dnn_comm_sum(dnn_comm *c, float *x, size_t n, dnn_error *err);
dnn_status dnn_comm_sum_f64(dnn_comm *c, double *x, int n, dnn_error *err);

/* The optimizer step sharded across the processes, each updating its part of the parameters: parts holds
 * size + 1 ascending offsets, process r's part being x[parts[r], parts[r + 1]); a part and parts[size] must
 * not exceed INT_MAX (dnn_comm_can_part). */
int dnn_comm_can_part(const dnn_comm *c, size_t n);
/* x summed over the processes, of which this process gets its own part alone, in place in x (the rest of x
 * is left as it was); tmp holds the largest part. Alone, nothing changes. */
dnn_status dnn_comm_sum_part(dnn_comm *c, float *x, const size_t *parts, float *tmp, dnn_error *err);
/* Every process's part of x to every process (each sends its own, in place). */
dnn_status dnn_comm_gather_parts(dnn_comm *c, float *x, const size_t *parts, dnn_error *err);
/* The smallest and largest of the processes' v. */
dnn_status dnn_comm_range(dnn_comm *c, uint64_t v, uint64_t *lo, uint64_t *hi, dnn_error *err);

/* Every process passes its status (and error); all return the status and message of the lowest-ranked
 * process that failed (DNN_OK when none did), so a job reports one error, once. *flag (may be NULL) becomes
 * whether any process's flag was set. */
dnn_status dnn_comm_agree(dnn_comm *c, dnn_status st, int *flag, dnn_error *err);

#endif
