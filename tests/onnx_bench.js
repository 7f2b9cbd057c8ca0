// onnx_bench.js MODEL.onnx [RUNS]: ONNX Runtime's latency (CPU, through its Node.js binding) for one row
// and for 10,000 rows of random values in [0, 255), medians over RUNS timings, printed like predict_bench.
// For scripts/bench.sh, with NODE_PATH pointing at the folder that holds onnxruntime-node.
'use strict';
const ort = require('onnxruntime-node');

const median = (v) => { const s = [...v].sort((a, b) => a - b); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };

async function main() {
  const [model, runsArg] = process.argv.slice(2);
  const runs = Math.max(1, Math.min(100, Number(runsArg) || 7));
  const session = await ort.InferenceSession.create(model);
  const d = session.inputMetadata[0].shape[1]; // [N, features]
  const big = 10000, singles = 2000;
  const x = new Float32Array(big * d).map(() => Math.floor(Math.random() * 25500) / 100);
  const one = [], many = [];
  for (let r = 0; r < runs; r++) {
    let t = process.hrtime.bigint();
    for (let i = 0; i < singles; i++) {
      await session.run({ input: new ort.Tensor('float32', x.subarray(i * d, (i + 1) * d), [1, d]) });
    }
    one.push(Number(process.hrtime.bigint() - t) / 1e9 / singles);
    t = process.hrtime.bigint();
    await session.run({ input: new ort.Tensor('float32', x, [big, d]) });
    many.push(Number(process.hrtime.bigint() - t) / 1e9);
  }
  const t1 = median(one), tb = median(many);
  console.log(`${(t1 * 1e6).toFixed(2)} us per 1-row call, ${(tb * 1e3).toFixed(2)} ms per ${big} rows (${Math.round(big / tb)} rows/s)`);
}

main().catch((e) => { console.error(`onnx_bench: ${e.message || e}`); process.exit(1); });
