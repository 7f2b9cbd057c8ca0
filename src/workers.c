/* A team of threads on a generation counter: a job bumps it, each thread runs its share and counts itself
 * out, and the last one out wakes the caller. Threads spin a moment before they block, since the next job
 * of a training step usually comes within microseconds. */
#include "dnn/workers.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define relax() _mm_pause()
#else
#define relax() ((void)0)
#endif

/* about 20 us of polling before a thread blocks: between a step's jobs, rarely longer */
enum { SPINS = 20000 };

typedef struct {
    struct dnn_workers *team;
    int i;
} member;

struct dnn_workers {
    int n, started;
    pthread_t *threads;
    member *members;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    atomic_uint gen;    /* jobs started */
    atomic_int pending; /* threads still running the current job */
    int quit;
    dnn_work_fn fn;
    void *ctx;
};

/* Wait until *a differs from old (spinning first, then on cond under w->mu); returns its new value. */
static unsigned wait_gen(struct dnn_workers *w, unsigned old)
{
    unsigned g;
    for (int k = 0; k < SPINS; k++) {
        if ((g = atomic_load_explicit(&w->gen, memory_order_acquire)) != old) return g;
        relax();
    }
    pthread_mutex_lock(&w->mu);
    while ((g = atomic_load_explicit(&w->gen, memory_order_acquire)) == old && !w->quit)
        pthread_cond_wait(&w->go, &w->mu);
    pthread_mutex_unlock(&w->mu);
    return g;
}

static void *thread_main(void *arg)
{
    member *me = arg;
    struct dnn_workers *w = me->team;
    unsigned seen = 0;
    for (;;) {
        unsigned g = wait_gen(w, seen);
        if (g == seen) break; /* quit */
        seen = g;
        w->fn(w->ctx, me->i, w->n);
        if (atomic_fetch_sub_explicit(&w->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&w->mu);
            pthread_cond_signal(&w->done);
            pthread_mutex_unlock(&w->mu);
        }
    }
    return NULL;
}

dnn_status dnn_workers_create(dnn_workers **out, int n, dnn_error *err)
{
    *out = NULL;
    if (n < 1) return dnn_fail(err, DNN_EINTERNAL, "a team of %d threads", n);
    struct dnn_workers *w = calloc(1, sizeof *w);
    if (!w) return dnn_fail_oom(err, "a team of threads", sizeof *w);
    w->n = n;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->go, NULL);
    pthread_cond_init(&w->done, NULL);
    w->threads = calloc((size_t)n, sizeof *w->threads);
    w->members = calloc((size_t)n, sizeof *w->members);
    if (!w->threads || !w->members) {
        dnn_workers_free(w);
        return dnn_fail_oom(err, "a team of threads", (size_t)n * sizeof *w->threads);
    }
    for (int i = 1; i < n; i++) {
        w->members[i] = (member){w, i};
        if (pthread_create(&w->threads[i], NULL, thread_main, &w->members[i])) {
            dnn_workers_free(w);
            return dnn_fail(err, DNN_EINTERNAL, "cannot start thread %d of %d", i + 1, n);
        }
        w->started = i;
    }
    *out = w;
    return DNN_OK;
}

void dnn_workers_free(dnn_workers *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->quit = 1;
    pthread_cond_broadcast(&w->go);
    pthread_mutex_unlock(&w->mu);
    for (int i = 1; i <= w->started; i++) pthread_join(w->threads[i], NULL);
    pthread_cond_destroy(&w->go);
    pthread_cond_destroy(&w->done);
    pthread_mutex_destroy(&w->mu);
    free(w->threads);
    free(w->members);
    free(w);
}

int dnn_workers_count(const dnn_workers *w)
{
    return w ? w->n : 1;
}

void dnn_workers_run(dnn_workers *w, dnn_work_fn fn, void *ctx)
{
    if (!w || w->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    w->fn = fn;
    w->ctx = ctx;
    atomic_store_explicit(&w->pending, w->n - 1, memory_order_relaxed);
    pthread_mutex_lock(&w->mu);
    atomic_fetch_add_explicit(&w->gen, 1, memory_order_release);
    pthread_cond_broadcast(&w->go);
    pthread_mutex_unlock(&w->mu);
    fn(ctx, 0, w->n);
    for (int k = 0; k < SPINS; k++) {
        if (atomic_load_explicit(&w->pending, memory_order_acquire) == 0) return;
        relax();
    }
    pthread_mutex_lock(&w->mu);
    while (atomic_load_explicit(&w->pending, memory_order_acquire) > 0) pthread_cond_wait(&w->done, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

void dnn_share(size_t count, int i, int n, size_t align, size_t *lo, size_t *hi)
{
    if (align < 1) align = 1;
    size_t units = (count + align - 1) / align, q = units / (size_t)n, r = units % (size_t)n;
    size_t a = (size_t)i * q + ((size_t)i < r ? (size_t)i : r), b = a + q + ((size_t)i < r);
    *lo = a * align < count ? a * align : count;
    *hi = b * align < count ? b * align : count;
}

int dnn_cpus(void)
{
#ifdef CPU_COUNT
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
