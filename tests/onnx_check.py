"""Check an ONNX export against onnx's own checker and compare three sets of predictions of the same rows:
ONNX Runtime's (ORT.csv), the C library's (LIB.csv, from examples/predict.c: [class,]values at 9 digits) and
dnneval --predict's (PRED.csv: index,[predicted,]values).

Usage: /usr/bin/python3 onnx_check.py MODEL.onnx PRED.csv LIB.csv ORT.csv N_FEATURES CLASSES|regression
Prints one line of measured differences; exits 1 on any failed check."""
import csv
import json
import sys

import numpy as np
import onnx
import onnx.numpy_helper

RTOL, ATOL = 1e-5, 1e-7  # as numpy.allclose: |a - b| <= ATOL + RTOL * magnitude


def main():
    model_path, pred_path, lib_path, ort_path, n_features, kind = sys.argv[1:7]
    n_features, classification = int(n_features), kind != "regression"
    failures = []

    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)  # raises on any violation, shapes inferred
    if model.ir_version != 7 or [(o.domain, o.version) for o in model.opset_import] != [("", 13)]:
        failures.append(f"IR {model.ir_version}, opsets {model.opset_import}")
    dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
    (inp,), (out,) = model.graph.input, model.graph.output
    meta = {p.key: p.value for p in model.metadata_props}
    n_out = len(json.loads(meta["classes"] if classification else meta["targets"]))
    if inp.name != "input" or dims(inp) != ["N", n_features]:
        failures.append(f"input {inp.name} {dims(inp)}")
    if out.name != "output" or dims(out) != ["N", n_out]:
        failures.append(f"output {out.name} {dims(out)}")
    if not meta.get("dnn_version") or meta.get("task") != ("classification" if classification else "regression"):
        failures.append(f"metadata {meta}")
    if classification and json.loads(meta["classes"]) != kind.split(","):
        failures.append(f"classes {meta['classes']}, expected {kind}")

    with open(pred_path) as f:
        pred = list(csv.reader(f))[1:]
    with open(lib_path) as f:
        lib = list(csv.reader(f))
    ort = np.loadtxt(ort_path, delimiter=",", ndmin=2)
    first = 2 if classification or n_out == 1 else 1  # index[,predicted], then the values
    want = np.array([[float(v) for v in r[first:]] for r in pred])
    got = np.array([[float(v) for v in r[1 if classification else 0:]] for r in lib])
    if not (ort.shape == got.shape == want.shape == (len(pred), n_out)):
        failures.append(f"shapes: ONNX Runtime {ort.shape}, library {got.shape}, dnneval {want.shape}")
        print("; ".join(failures))
        return 1

    # A regression value in the targets' units is a sum, standardised output / scale + shift: float rounding
    # is relative to its terms, so a value near 0 (a large shift cancelled) is compared relative to the shift.
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    shift = np.abs(inits.get("target_shift", np.zeros(n_out, dtype=np.float32))).astype(np.float64)

    def diff(a, b):
        """max |a - b|; max |a - b| / magnitude, magnitude = max(|a|, |b|, |shift|), over values not all 0;
        and whether every value is within ATOL + RTOL * magnitude (ATOL for probabilities near 0, whose
        relative error is their logits' absolute error)"""
        d = np.abs(a - b)
        m = np.maximum(np.maximum(np.abs(a), np.abs(b)), shift)
        return d.max(), (d[m > 0] / m[m > 0]).max(initial=0.0), bool((d <= ATOL + RTOL * m).all())

    ort_lib, ort_eval, lib_eval = diff(ort, got), diff(ort, want), diff(got, want)
    # dnneval prints probabilities with 6 significant digits (a relative rounding of up to 5e-6) and
    # regression values with 9: each side is compared to it within the same bounds
    for name, (_, rel, close) in [("ONNX Runtime vs the library", ort_lib), ("ONNX Runtime vs dnneval", ort_eval),
                                  ("the library vs dnneval", lib_eval)]:
        if not close:
            failures.append(f"{name}: a difference beyond {ATOL:g} + {RTOL:g} x the value (max relative {rel:.3g})")
    if classification:
        names = kind.split(",")
        classes = [r[0] for r in lib]
        if classes != [r[1] for r in pred]:
            failures.append("the library's predicted classes differ from dnneval's")
        if [names[i] for i in ort.argmax(axis=1)] != classes:
            failures.append("ONNX Runtime's most probable classes differ from the library's")
    print(f"{len(pred)} rows x {n_out}: max |ORT - library| {ort_lib[0]:.3g} (relative {ort_lib[1]:.3g}), "
          f"|ORT - dnneval| {ort_eval[0]:.3g} (relative {ort_eval[1]:.3g}), "
          f"|library - dnneval| {lib_eval[0]:.3g} (relative {lib_eval[1]:.3g})")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
