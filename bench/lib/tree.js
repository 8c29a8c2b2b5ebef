'use strict';
// The benchmark tree of bench/snapshot.js: a deterministic plan of files (paths and sizes) and
// deterministic, incompressible content (an AES-256-CTR keystream keyed by the file and a label), so
// every run and every machine writes exactly the same bytes.

const { createCipheriv, createHash } = require('node:crypto');
const { mkdirSync, writeFileSync, readFileSync, existsSync, rmSync } = require('node:fs');
const { join, dirname } = require('node:path');

const VERSION = 1;

/** Small, fast, seedable PRNG (mulberry32): the same seed gives the same sequence everywhere. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KiB = 1024;
const MiB = 1024 * 1024;

/** Default shape: 20,000 files, about 500 MiB, in 20 × 15 leaf folders (plus their 20 parents). */
const DEFAULT_SPEC = {
  version: VERSION,
  seed: 20260101,
  topDirs: 20,
  subDirs: 15,
  classes: [
    { name: 'small', count: 19_600, min: 1 * KiB, max: 16 * KiB },
    { name: 'medium', count: 390, min: 100 * KiB, max: 1 * MiB },
    { name: 'large', count: 10, min: 5 * MiB, max: 20 * MiB },
  ],
};

/** Every file of the tree: `{ index, rel, size, cls }`, in a fixed order. */
function plan(spec = DEFAULT_SPEC) {
  const rand = prng(spec.seed);
  const files = [];
  let index = 0;
  for (const cls of spec.classes) {
    for (let i = 0; i < cls.count; i++) {
      const size = cls.min + Math.floor(rand() * (cls.max - cls.min + 1));
      const top = Math.floor(rand() * spec.topDirs);
      const sub = Math.floor(rand() * spec.subDirs);
      const rel = `d${String(top).padStart(2, '0')}/s${String(sub).padStart(2, '0')}/${cls.name[0]}${String(index).padStart(5, '0')}.bin`;
      files.push({ index, rel, size, cls: cls.name });
      index++;
    }
  }
  return files;
}

/** `size` bytes of keystream for `label`: incompressible, deterministic. */
function content(label, size) {
  const key = createHash('sha256').update(`handout-bench-v${VERSION}:${label}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return cipher.update(Buffer.alloc(size));
}

/** Writes the whole tree into `root` (which must not exist yet). */
function generate(root, files) {
  mkdirSync(root, { recursive: true });
  const made = new Set();
  for (const f of files) {
    const dir = join(root, dirname(f.rel));
    if (!made.has(dir)) {
      mkdirSync(dir, { recursive: true });
      made.add(dir);
    }
    writeFileSync(join(root, f.rel), content(`file:${f.index}`, f.size));
  }
  return { files: files.length, dirs: made.size + new Set(files.map((f) => f.rel.split('/')[0])).size, bytes: files.reduce((s, f) => s + f.size, 0) };
}

/**
 * Generates the tree into `root` unless a complete one of the same spec is already there (the stamp
 * file beside it says so); returns whether it was generated now.
 */
function ensureTree(root, spec = DEFAULT_SPEC) {
  const stamp = `${root}.json`;
  const want = JSON.stringify(spec);
  if (existsSync(root) && existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return false;
  rmSync(stamp, { force: true });
  rmSync(root, { recursive: true, force: true });
  generate(root, plan(spec));
  writeFileSync(stamp, want); // written last: a generation cut short is redone next time
  return true;
}

/** The `count` files the incremental step rewrites: chosen by a fixed seed, spread over the whole tree. */
function changeSet(files, count, seed = 7) {
  const rand = prng(seed);
  const chosen = new Set();
  while (chosen.size < Math.min(count, files.length)) chosen.add(Math.floor(rand() * files.length));
  return [...chosen].sort((a, b) => a - b).map((i) => files[i]);
}

/** Rewrites each file of `changed` under `root` with new content of the same size. */
function applyChange(root, changed, label = 'change-1') {
  for (const f of changed) writeFileSync(join(root, f.rel), content(`${label}:${f.index}`, f.size));
}

module.exports = { DEFAULT_SPEC, plan, ensureTree, changeSet, applyChange, content, prng, KiB, MiB };
