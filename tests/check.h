/* A minimal test harness: CHECK records a failure with its line and carries on; main returns the count. */
#ifndef DNN_TEST_CHECK_H
#define DNN_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures = 0;
static int check_skips = 0;

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                         \
            check_failures++;                                                                                \
        }                                                                                                    \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                                 \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);                         \
            fprintf(stderr, __VA_ARGS__);                                                                    \
            fputc('\n', stderr);                                                                             \
            check_failures++;                                                                                \
        }                                                                                                    \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                                \
    do {                                                                                                     \
        double check_a_ = (a), check_b_ = (b);                                                               \
        if (!(fabs(check_a_ - check_b_) <= (tol))) {                                                         \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.9g, %s = %.9g (tolerance %g)\n", __FILE__,     \
                    __LINE__, #a, check_a_, #b, check_b_, (double)(tol));                                    \
            check_failures++;                                                                                \
        }                                                                                                    \
    } while (0)

/* The status is as expected and the message contains every given fragment. */
#define CHECK_ERR(st, err, code, ...)                                                                        \
    do {                                                                                                     \
        const char *check_frags_[] = {__VA_ARGS__};                                                          \
        if ((st) != (code)) {                                                                                \
            fprintf(stderr, "%s:%d: expected status %d, got %d (%s)\n", __FILE__, __LINE__, (int)(code),     \
                    (int)(st), (err).msg);                                                                   \
            check_failures++;                                                                                \
        } else {                                                                                             \
            for (size_t check_i_ = 0; check_i_ < sizeof check_frags_ / sizeof *check_frags_; check_i_++)     \
                if (!strstr((err).msg, check_frags_[check_i_])) {                                            \
                    fprintf(stderr, "%s:%d: message lacks \"%s\": %s\n", __FILE__, __LINE__,                 \
                            check_frags_[check_i_], (err).msg);                                              \
                    check_failures++;                                                                        \
                }                                                                                            \
        }                                                                                                    \
    } while (0)

/* A scratch folder for a test's files, removed at the end. */
static char check_dir[64];

static inline const char *check_tmpdir(const char *name)
{
    snprintf(check_dir, sizeof check_dir, "/tmp/dnn_%s_XXXXXX", name);
    if (!mkdtemp(check_dir)) {
        perror(check_dir);
        exit(1);
    }
    return check_dir;
}

static inline void check_rmdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", check_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", check_dir);
}

/* A check that cannot run here (what is missing, and how to get it). Strict runs (scripts/test.sh sets
 * DNN_TEST_STRICT=1, CI sets CI=true) have everything installed, so there it is a failure; elsewhere the
 * test ends as skipped (exit 77), which ctest reports, rather than as passed. */
static inline void check_skip(const char *what)
{
    const char *strict = getenv("DNN_TEST_STRICT"), *ci = getenv("CI");
    if ((strict && strcmp(strict, "1") == 0) || (ci && strcmp(ci, "true") == 0)) {
        fprintf(stderr, "FAIL: cannot run under DNN_TEST_STRICT or CI: %s\n", what);
        check_failures++;
    } else {
        fprintf(stderr, "SKIPPED: %s\n", what);
        check_skips++;
    }
}

static inline int check_done(const char *name)
{
    if (check_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
        return 1;
    }
    if (check_skips) {
        fprintf(stderr, "%s: %d check(s) skipped (SKIPPED above), none failed\n", name, check_skips);
        return 77;
    }
    fprintf(stderr, "%s: all checks passed\n", name);
    return 0;
}

#endif
