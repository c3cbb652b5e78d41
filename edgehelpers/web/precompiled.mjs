// SentencePiece's "Precompiled" normalizer, exactly as the Rust `tokenizers` library applies it.
//
// XLM-R's tokenizer.json (the e5 students of chapter 8) normalizes text with a character map that
// SentencePiece compiled into a double-array trie (Darts-clone). tokenizers.js approximates it with
// Unicode NFKC, which differs on a few Indic characters (nukta forms, some vowel signs), so its
// token ids drift from Python's. This module reads the real map and applies it the way
// `tokenizers` does: per grapheme cluster, the whole cluster replaced by the map's entry for its
// shortest matching prefix when the cluster is under 6 bytes, else character by character.

function decodeBase64(text) {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

// The map's layout: a little-endian uint32 with the trie's size in bytes, the trie's uint32 units,
// then the replacement strings, each ending in a zero byte.
export function parseCharsmap(base64) {
  const bytes = decodeBase64(base64);
  const view = new DataView(bytes.buffer);
  const trieBytes = view.getUint32(0, true);
  const units = new Uint32Array(trieBytes / 4);
  for (let i = 0; i < units.length; i++) units[i] = view.getUint32(4 + 4 * i, true);
  return { units, normalized: bytes.subarray(4 + trieBytes) };
}

// Darts-clone's unit fields
const hasLeaf = (u) => ((u >>> 8) & 1) === 1;
const value = (u) => u & 0x7fffffff;
const label = (u) => u & 0x800000ff;
const offset = (u) => (u >>> 10) << ((u & (1 << 9)) >>> 6);

// The values of every key in the trie that is a prefix of `key`, shortest first.
export function commonPrefixSearch(units, key) {
  const found = [];
  let pos = offset(units[0]);
  for (const c of key) {
    if (c === 0) break;
    pos ^= c;
    const unit = units[pos];
    if (unit === undefined || label(unit) !== c) break;
    pos ^= offset(unit);
    if (hasLeaf(unit)) found.push(value(units[pos]));
  }
  return found;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export function makeNormalizer(base64) {
  const { units, normalized } = parseCharsmap(base64);
  const replacement = (chunk) => {
    const hits = commonPrefixSearch(units, utf8.encode(chunk));
    if (hits.length === 0) return null;
    let end = hits[0];
    while (end < normalized.length && normalized[end] !== 0) end++;
    return fromUtf8.decode(normalized.subarray(hits[0], end));
  };
  const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });
  return (text) => {
    let out = "";
    for (const { segment } of graphemes.segment(text)) {
      if (utf8.encode(segment).length < 6) {
        const whole = replacement(segment);
        if (whole !== null) { out += whole; continue; }
      }
      for (const ch of segment) {
        const r = replacement(ch);
        out += r === null ? ch : r;
      }
    }
    return out;
  };
}

// Replace tokenizers.js's NFKC approximation in every Precompiled normalizer of `tokenizer`
// (on its own or inside a Sequence). Returns how many it replaced.
export function patchPrecompiled(tokenizer, tokenizerJson) {
  let patched = 0;
  const visit = (normalizer, config) => {
    if (!normalizer || !config) return;
    if (config.type === "Precompiled" && config.precompiled_charsmap) {
      normalizer.normalize = makeNormalizer(config.precompiled_charsmap);
      patched++;
    } else if (config.type === "Sequence") {
      (config.normalizers || []).forEach((c, i) => visit(normalizer.normalizers?.[i], c));
    }
  };
  visit(tokenizer.normalizer, tokenizerJson.normalizer);
  return patched;
}
