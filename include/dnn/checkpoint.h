/* Checkpoints: one self-describing, little-endian file with a CRC-32 over everything, written atomically.
 *
 * Layout: magic "\x89DNN\r\n\x1a\n" | u32 format version | u32 section count | u64 file length |
 * sections (4-byte tag, u32 zero, u64 payload length, payload) | u32 CRC-32 of all bytes before it.
 * Sections: CONF (effective config, JSON), META (names and version, JSON), MODL (sizes), NORM (input and
 * target normalisation), IMPU (missing-value fill values), PARA (parameters), NSTA (network state), TRAI
 * (counters, generators, schedule, history), OPTM (optimizer moments), BEST (the best epoch's weights, with
 * early stopping's restore_best). */
#ifndef DNN_CHECKPOINT_H
#define DNN_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "dnn/error.h"
#include "dnn/model.h"
#include "dnn/train.h"

#define DNN_CHECKPOINT_VERSION 1

/* Serialise into a malloc'ed buffer (for tests and for writing). s may be NULL (a model without training
 * state). */
dnn_status dnn_checkpoint_encode(const dnn_model *m, const dnn_train_state *s, uint8_t **buf, size_t *len,
                                 dnn_error *err);
/* Encode and write atomically: the previous file at path survives any failure. */
dnn_status dnn_checkpoint_save(const char *path, const dnn_model *m, const dnn_train_state *s,
                               dnn_error *err);

/* Verify and decode; name is used in messages, max_memory is the budget the model must fit (0: the default).
 * With s NULL, the model to score: the best epoch's weights when the run kept them. With s, the model to
 * continue training (the last epoch's weights) and its training state, or s->opt == NULL when the file holds
 * a model without one. */
dnn_status dnn_checkpoint_decode(const char *name, const uint8_t *buf, size_t len, size_t max_memory,
                                 dnn_model *m, dnn_train_state *s, dnn_error *err);
dnn_status dnn_checkpoint_load(const char *path, size_t max_memory, dnn_model *m, dnn_train_state *s,
                               dnn_error *err);

const char *dnn_version(void);

#endif
