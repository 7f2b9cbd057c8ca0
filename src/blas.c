/* BLAS identification and threading, through OpenBLAS's extensions when it is the library we link. */
#include "dnn/blas.h"

#include <stdio.h>

#ifdef DNN_HAVE_OPENBLAS
/* exported by OpenBLAS, not declared by every cblas.h */
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);
extern int openblas_get_num_threads(void);
extern void openblas_set_num_threads(int);
/* OpenBLAS's pthreads server stops its threads (as before a fork); the next threaded product starts them
 * again. Weak: an OpenMP build of OpenBLAS has no such server. */
extern int blas_thread_shutdown_(void) __attribute__((weak));
#endif

const char *dnn_blas_name(char *buf, size_t n)
{
#ifdef DNN_HAVE_OPENBLAS
    snprintf(buf, n, "%s (core %s)", openblas_get_config(), openblas_get_corename());
#else
    snprintf(buf, n, "CBLAS");
#endif
    return buf;
}

int dnn_blas_threads(void)
{
#ifdef DNN_HAVE_OPENBLAS
    return openblas_get_num_threads();
#else
    return 1;
#endif
}

int dnn_blas_set_threads(int n)
{
#ifdef DNN_HAVE_OPENBLAS
    openblas_set_num_threads(n);
    return 0;
#else
    (void)n;
    return -1;
#endif
}

void dnn_blas_park(void)
{
#ifdef DNN_HAVE_OPENBLAS
    if (blas_thread_shutdown_) blas_thread_shutdown_();
#endif
}
