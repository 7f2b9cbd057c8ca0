// Run an ONNX model in ONNX Runtime (onnxruntime-node, CPU) on CSV rows of raw features (an empty field is
// NaN) and print its output, one CSV row per input row, with 9 significant digits.
// Usage: NODE_PATH=<cache>/node_modules node onnx_run.js MODEL.onnx ROWS.csv
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [model, rows] = process.argv.slice(2);
  const lines = fs.readFileSync(rows, 'utf8').split('\n').filter((l) => l.length > 0);
  const d = lines[0].split(',').length;
  const x = new Float32Array(lines.length * d);
  lines.forEach((l, i) => l.split(',').forEach((v, j) => { x[i * d + j] = v === '' ? NaN : Number(v); }));
  const session = await ort.InferenceSession.create(model);
  const out = await session.run({ input: new ort.Tensor('float32', x, [lines.length, d]) });
  const y = out.output;
  if (y.dims.length !== 2 || y.dims[0] !== lines.length) throw new Error(`output of shape [${y.dims}]`);
  const k = y.dims[1];
  const text = [];
  for (let i = 0; i < y.dims[0]; i++) {
    text.push(Array.from(y.data.subarray(i * k, (i + 1) * k), (v) => v.toPrecision(9)).join(','));
  }
  process.stdout.write(text.join('\n') + '\n');
}

main().catch((e) => { console.error(`onnx_run: ${e.message || e}`); process.exit(1); });
