// LiteRT.js (XNNPACK in WebAssembly) running a model's .tflite files, for the chapter's comparison.
// The files take int32 ids and mask of a fixed length (litert-torch converts with a static shape).
import { loadLiteRt, loadAndCompile, Tensor } from "./lib/litert/core.js";

const params = new URLSearchParams(location.search);
const isolated = self.crossOriginIsolated === true;
const threads = isolated ? Number(params.get("threads") || 1) : 1;
const compiled = new Map();
let runtime = null;

async function model(file) {
  // threaded binary only when isolated and asked for (it needs SharedArrayBuffer)
  runtime ??= loadLiteRt(new URL("./lib/litert/", import.meta.url).href, { threads: isolated && threads > 1 });
  await runtime;
  if (!compiled.has(file)) {
    compiled.set(file, loadAndCompile(new URL(file, import.meta.url).href,
                                      { accelerator: "wasm", cpuOptions: { numThreads: threads } }));
  }
  return compiled.get(file);
}

export async function run(file, ids, mask) {
  const m = await model(file);
  const inputs = [new Tensor(Int32Array.from(ids), [1, ids.length]), new Tensor(Int32Array.from(mask), [1, mask.length])];
  const t0 = performance.now();
  const out = await m.run(inputs);
  const ms = performance.now() - t0;
  const logits = Array.from(out[0].toTypedArray());
  inputs.forEach((t) => t.delete());
  out.forEach((t) => t.delete());
  return { logits, ms };
}

export async function bench(file, ids, mask, { runs = 50, warmup = 5, budgetMs = 3000 } = {}) {
  for (let i = 0; i < warmup; i++) await run(file, ids, mask);
  const times = [];
  const start = performance.now();
  while (times.length < runs && (times.length < 5 || performance.now() - start < budgetMs)) {
    times.push((await run(file, ids, mask)).ms);
  }
  return times;
}

window.litert = { run, bench, info: () => ({ isolated, threads }) };
