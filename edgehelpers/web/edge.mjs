// The book's models in the browser: ONNX Runtime Web (WebAssembly) and tokenizers.js, all served
// from this folder. `window.edge` is what the page and the book's measurements call.
//
// Threads: WebAssembly threads need SharedArrayBuffer, which the browser grants only to a
// cross-origin isolated page (served with COOP same-origin and COEP require-corp). Without it the
// page runs on one thread and says so. `?threads=N` asks for N threads (isolated pages only).
import * as ort from "./lib/ort.wasm.min.mjs";
import { Tokenizer } from "./lib/tokenizers.min.mjs";
import { patchPrecompiled } from "./precompiled.mjs";

const params = new URLSearchParams(location.search);
const isolated = self.crossOriginIsolated === true;
const cores = navigator.hardwareConcurrency || 1;
const asked = Number(params.get("threads") || 0);
const threads = isolated ? (asked > 0 ? asked : Math.min(4, cores)) : 1;
const staticLength = Number(params.get("static") || 0);
ort.env.wasm.wasmPaths = new URL("./lib/", import.meta.url).href; // never a CDN
ort.env.wasm.numThreads = threads;
ort.env.wasm.proxy = false;

export class EdgeError extends Error {}

const here = (path) => new URL(path, import.meta.url).href;

async function fetchOk(path, what) {
  let response;
  try {
    response = await fetch(here(path));
  } catch (err) {
    throw new EdgeError(`could not fetch ${what} (${path}): ${err.message}; serve this folder over http (python tools/serve_web.py)`);
  }
  if (!response.ok) {
    throw new EdgeError(`${what} is missing from the bundle (${path}: HTTP ${response.status}); rebuild it with python tools/build_web_bundle.py`);
  }
  return response;
}

let manifestPromise = null;
export function manifest() {
  manifestPromise ??= fetchOk("models.json", "the bundle's manifest").then((r) => r.json());
  return manifestPromise;
}

const loaded = new Map();

// A model's tokenizer and ONNX Runtime session, loaded once.
export function load(name) {
  if (!loaded.has(name)) {
    loaded.set(name, (async () => {
      const m = await manifest();
      const spec = m.models[name];
      if (!spec) throw new EdgeError(`no model ${JSON.stringify(name)} in this bundle: choose one of ${Object.keys(m.models).join(", ")}`);
      const t0 = performance.now();
      const [tokJson, tokConfig] = await Promise.all([
        fetchOk(spec.tokenizer, `${name}'s tokenizer`).then((r) => r.json()),
        fetchOk(spec.tokenizer_config, `${name}'s tokenizer config`).then((r) => r.json()),
      ]);
      const tokenizer = new Tokenizer(tokJson, tokConfig);
      // ?tokenizer=stock keeps tokenizers.js's own approximation (the chapter counts what it changes)
      const patched = params.get("tokenizer") === "stock" ? 0 : patchPrecompiled(tokenizer, tokJson);
      const bytes = new Uint8Array(await (await fetchOk(spec.model, `${name}'s model`)).arrayBuffer());
      const options = { executionProviders: ["wasm"], graphOptimizationLevel: params.get("opt") || "all" };
      // ?static=N plans for batch 1 and N tokens only (the chapter measures whether that helps)
      if (staticLength) options.freeDimensionOverrides = { batch: 1, seq: staticLength };
      const session = await ort.InferenceSession.create(bytes, options);
      const padId = tokenizer.model.tokens_to_ids.get(tokConfig.pad_token) ?? 0;
      return { name, spec, tokenizer, session, patched, padId, loadMs: performance.now() - t0 };
    })());
  }
  return loaded.get(name);
}

// Token ids as Python's tokenizer gives them with truncation=True, max_length=spec.max_length.
export async function encode(name, text) {
  const { spec, tokenizer } = await load(name);
  if (typeof text !== "string" || text.trim() === "") {
    throw new EdgeError("the text is empty: type a headline (or a Hindi, Marathi or Telugu sentence) to classify");
  }
  let ids = tokenizer.encode(text).ids;
  const full = ids.length;
  if (full > spec.max_length) ids = [...ids.slice(0, spec.max_length - 1), ids[ids.length - 1]];
  return { ids, full, truncated: full > ids.length };
}

// The model's inputs for a batch of id rows of one length (mask: 1 for real tokens, 0 for padding).
function feeds(session, rows, masks) {
  const b = rows.length;
  const n = rows[0].length;
  const all = {
    input_ids: new ort.Tensor("int64", BigInt64Array.from(rows.flat(), BigInt), [b, n]),
    attention_mask: new ort.Tensor("int64", masks ? BigInt64Array.from(masks.flat(), BigInt) : new BigInt64Array(b * n).fill(1n), [b, n]),
    token_type_ids: new ort.Tensor("int64", new BigInt64Array(b * n), [b, n]),
  };
  const feed = {};
  for (const input of session.inputNames) {
    if (!(input in all)) throw new EdgeError(`the model wants an input called ${input}, which this page does not know`);
    feed[input] = all[input];
  }
  return feed;
}

// Logits of one sequence of ids, and the milliseconds session.run took.
export async function run(name, ids) {
  const { session, padId } = await load(name);
  const t0 = performance.now();
  let mask = null;
  if (staticLength && ids.length !== staticLength) {
    // a static-shape session takes exactly staticLength tokens: pad (masked out) or cut
    const n = Math.min(ids.length, staticLength);
    ids = [...ids.slice(0, n), ...new Array(staticLength - n).fill(padId)];
    mask = [[...new Array(n).fill(1), ...new Array(staticLength - n).fill(0)]];
  }
  const out = await session.run(feeds(session, [ids], mask));
  const ms = performance.now() - t0;
  return { logits: Array.from(out[session.outputNames[0]].data), ms };
}

// Logits of a padded batch (rows of equal length with their masks), as a flat array.
export async function runBatch(name, rows, masks) {
  const { session } = await load(name);
  const out = await session.run(feeds(session, rows, masks));
  return Array.from(out[session.outputNames[0]].data);
}

function softmax(xs) {
  const top = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - top));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

export async function classify(name, text) {
  const { spec } = await load(name);
  const t0 = performance.now();
  const enc = await encode(name, text);
  const { logits, ms } = await run(name, enc.ids);
  const probs = softmax(logits);
  const best = probs.indexOf(Math.max(...probs));
  return { label: spec.labels[best], index: best, probs, logits, ids: enc.ids, tokens: enc.ids.length,
           full: enc.full, truncated: enc.truncated, runMs: ms, totalMs: performance.now() - t0 };
}

export async function encodeMany(name, texts) {
  const out = [];
  for (const t of texts) out.push((await encode(name, t)).ids);
  return out;
}

export async function logitsMany(name, idsList) {
  const out = [];
  for (const ids of idsList) out.push((await run(name, ids)).logits);
  return out;
}

// Milliseconds of `runs` timed calls after `warmup` untimed ones (stops early past budgetMs).
export async function bench(name, ids, { runs = 50, warmup = 5, warmupMs = 0, budgetMs = 3000 } = {}) {
  const w0 = performance.now();
  for (let i = 0; i < warmup || performance.now() - w0 < warmupMs; i++) await run(name, ids);
  const times = [];
  const start = performance.now();
  while (times.length < runs && (times.length < 5 || performance.now() - start < budgetMs)) {
    times.push((await run(name, ids)).ms);
  }
  return times;
}

export function info() {
  return { isolated, threads, asked, cores, ortVersion: ort.env.versions?.web ?? "?", userAgent: navigator.userAgent };
}

window.edge = { load, encode, run, runBatch, classify, encodeMany, logitsMany, bench, info, manifest, EdgeError };
