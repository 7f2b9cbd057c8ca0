/* dnneval's explanation flags: their values as given, checked as they are read, then turned into the
 * library's options once the model is loaded (class names, column names). */
#ifndef DNN_CLI_EXPLAIN_FLAGS_H
#define DNN_CLI_EXPLAIN_FLAGS_H

#include "dnn/explain.h"

typedef struct {
    dnn_explain_opts o;
    const char *methods, *target, *groups, *baseline_file;
    int any; /* an explanation flag other than --explain was given */
} explain_flags;

void explain_flags_init(explain_flags *x);
/* Take option c (an E_* id) with argument arg: 0 when taken, 1 when c is not an explanation flag, -1 after a
 * message on a bad value. */
int explain_flag(explain_flags *x, int c, const char *arg);
/* The options for model m: --target and --groups resolved against it (gs receives the groups). Returns 0,
 * or an exit code after a message. */
int explain_resolve(explain_flags *x, const dnn_model *m, dnn_feature_groups *gs);

#endif
