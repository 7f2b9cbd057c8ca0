/* The option tables of the commands: they drive getopt_long, --help, typo suggestions, and the test that
 * checks --help and the man pages against what the parser accepts. */
#ifndef DNN_CLI_OPTIONS_H
#define DNN_CLI_OPTIONS_H

#include "cli.h"

/* dnntrain */
enum {
    T_CONFIG = 256,
    T_RESUME,
    T_OUT,
    T_OVERWRITE,
    T_SET,
    T_THREADS,
    T_SEED,
    T_MAX_MEMORY,
    T_UNTIL_EPOCH,
    T_PRECISION,
    T_QUIET,
    T_VERBOSE,
    T_HELP,
    T_VERSION
};
extern const cli_option DNNTRAIN_OPTIONS[];
extern const int DNNTRAIN_N_OPTIONS;
extern const char DNNTRAIN_USAGE[], DNNTRAIN_EXAMPLES[];

/* dnneval; the gates E_MIN_ACC..E_MAX_RMSE are consecutive */
enum {
    E_MODEL = 256,
    E_DATA,
    E_LABELS,
    E_HEADER,
    E_DELIMITER,
    E_LABEL,
    E_JSON,
    E_REPORT,
    E_PREDICT,
    E_PLOT,
    E_TOPK,
    E_INFO,
    E_EXPORT,
    E_MIN_ACC,
    E_MAX_LOSS,
    E_MIN_F1,
    E_MIN_R2,
    E_MAX_RMSE,
    E_THREADS,
    E_MAX_MEMORY,
    E_PRECISION,
    E_QUIET,
    E_VERBOSE,
    E_HELP,
    E_VERSION,
    E_EXPLAIN, /* explanations: src/cli/explain_flags.c */
    E_REPEATS,
    E_SCORING,
    E_GROUPS,
    E_STEPS,
    E_IG_METHOD,
    E_BASELINE,
    E_TARGET,
    E_EXPLAIN_SAMPLES,
    E_SANITY
};
extern const cli_option DNNEVAL_OPTIONS[];
extern const int DNNEVAL_N_OPTIONS;
extern const char DNNEVAL_USAGE[], DNNEVAL_EXAMPLES[];

/* dnntune */
enum {
    U_CONFIG = 256,
    U_OUT,
    U_JOBS,
    U_THREADS_PER_TRIAL,
    U_RESUME,
    U_OVERWRITE,
    U_QUIET,
    U_HELP,
    U_VERSION
};
extern const cli_option DNNTUNE_OPTIONS[];
extern const int DNNTUNE_N_OPTIONS;
extern const char DNNTUNE_USAGE[], DNNTUNE_EXAMPLES[];

/* Every command, for the test that holds each one's --help, man page (man/NAME.1) and README section
 * ("## NAME") against its option table: a new command is checked once it is listed here. */
typedef struct {
    const char *name;
    const cli_option *opts;
    int n_opts;
} cli_command;
extern const cli_command DNN_COMMANDS[];
extern const int DNN_N_COMMANDS;

#endif
