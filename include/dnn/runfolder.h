/* The run folder: one training run at a time (an flock'ed lock file), never mixed with another run's files,
 * and the numbered checkpoints kept to the last N by what the folder really holds. */
#ifndef DNN_RUNFOLDER_H
#define DNN_RUNFOLDER_H

#include <stddef.h>

#include "dnn/error.h"

typedef struct {
    char *dir;
    int lock_fd; /* -1 when not locked */
} dnn_run_folder;

/* Create dir (and its parents), check that it takes new files, and lock it for this process: a folder
 * another process holds is DNN_EIO naming that process's PID. The lock ends with the process, so a killed
 * run never blocks the next. Temporary files an interrupted write left behind are removed. */
dnn_status dnn_run_folder_open(dnn_run_folder *f, const char *dir, dnn_error *err);
void dnn_run_folder_close(dnn_run_folder *f);

/* Whether the folder holds files a run writes (checkpoints, logs, reports); the first found goes to what. */
int dnn_run_folder_has_run(const dnn_run_folder *f, char *what, size_t n);
/* Remove every file a run writes, and nothing else. */
dnn_status dnn_run_folder_clear(const dnn_run_folder *f, dnn_error *err);

/* The file name of epoch's numbered checkpoint ("ckpt-0007.bin"). */
void dnn_run_folder_numbered(int epoch, char *name, size_t n);
/* Remove all but the newest keep numbered checkpoints in the folder. */
void dnn_run_folder_prune(const dnn_run_folder *f, int keep);

#endif
