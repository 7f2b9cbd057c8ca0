/* A fixed team of threads that run one function together, each on its own share of the work: the training
 * step's replicas (replicas.h) and batched inference split a batch's rows across them. The team waits
 * blocked between jobs (a thread spinning there would slow the busy one beside it on this kind of CPU).
 * Not for reentrant use: one job at a time, started by the thread that created the team. */
#ifndef DNN_WORKERS_H
#define DNN_WORKERS_H

#include "dnn/error.h"

typedef struct dnn_workers dnn_workers;
/* fn(ctx, i, n) runs the share i (0 <= i < n) of a job of n threads. */
typedef void (*dnn_work_fn)(void *ctx, int i, int n);

/* A team of n threads: the caller and n - 1 started now (n = 1 starts none). */
dnn_status dnn_workers_create(dnn_workers **out, int n, dnn_error *err);
/* Stop and join the threads (NULL is fine). */
void dnn_workers_free(dnn_workers *w);
int dnn_workers_count(const dnn_workers *w); /* 1 for NULL */
/* Run fn on every thread of the team (share 0 on the caller's) and return when all have finished. NULL
 * runs share 0 of 1 on the caller's. */
void dnn_workers_run(dnn_workers *w, dnn_work_fn fn, void *ctx);

/* The CPUs this process may run on (its affinity mask; the online CPUs where that cannot be read), at
 * least 1. More threads than that in a team that waits for all of them at every job time-slices each job. */
int dnn_cpus(void);

/* Share i of n of count items, by the rule that the first count mod n shares take one more: [*lo, *hi).
 * With align > 1 the bounds fall on multiples of align (but for the end), so that threads writing
 * neighbouring shares of one array do not share cache lines. */
void dnn_share(size_t count, int i, int n, size_t align, size_t *lo, size_t *hi);

#endif
