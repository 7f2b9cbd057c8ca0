/* What BLAS we run on, and its thread count. OpenBLAS's extensions are used when it is the library;
 * any other CBLAS works without them. */
#ifndef DNN_BLAS_H
#define DNN_BLAS_H

#include <stddef.h>

/* "OpenBLAS 0.3.21 ... (core Cooperlake)", or "CBLAS" when the library cannot say, written into buf. */
const char *dnn_blas_name(char *buf, size_t n);
/* Threads BLAS uses (1 when it cannot say). */
int dnn_blas_threads(void);
/* Set BLAS threads; returns 0, or -1 when the library has no such control. */
int dnn_blas_set_threads(int n);
/* Stop BLAS's idle threads now, for a while that runs one-threaded products on threads of its own: OpenBLAS's
 * wait spinning for a tenth of a second after their last product, on the cores those threads need. The next
 * threaded product starts them again. */
void dnn_blas_park(void);

#endif
