/* ONNX export: a model's whole inference path (missing-value filling, normalisation, layers, target units)
 * as one ONNX graph, IR version 7 and opset 13, which ONNX Runtime 1.x and onnx 1.12's checker accept.
 *
 * Input "input", float [N, n_features]: raw features, NaN where missing (a convolutional model's rows are
 * reshaped to [N, C, H, W] before its first image layer). Output "output", float [N, C]: class
 * probabilities (both classes of a single sigmoid unit) or regression values in the targets' units. The
 * metadata (metadata_props) names the dnn version, the task, the classes, features and targets. */
#ifndef DNN_ONNX_H
#define DNN_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "dnn/error.h"
#include "dnn/model.h"

#define DNN_ONNX_IR_VERSION 7
#define DNN_ONNX_OPSET      13

/* Serialise the model into a malloc'ed buffer of protobuf bytes (an onnx.ModelProto). */
dnn_status dnn_onnx_encode(const dnn_model *m, uint8_t **buf, size_t *len, dnn_error *err);
/* Encode and write to path atomically. */
dnn_status dnn_onnx_save(const char *path, const dnn_model *m, dnn_error *err);

#endif
