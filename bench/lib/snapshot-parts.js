#!/usr/bin/env node
'use strict';
// Parts of a Handout snapshot and restore, timed alone in a fresh Node process each, straight on the
// compiled store code (dist/), without the CLI, the API or Temporal. Used by bench/snapshot.js:
//
//   node bench/lib/snapshot-parts.js <part> '<json args>'
//
// prints one JSON line { ms, ...details }. The parts:
//   node-hash     read every file of args.tree and SHA-256 it in Node (1 MiB reads, 16 files in flight); nothing written
//   walk          list every folder and lstat every entry of args.tree, async, 32 in flight (a plain Node walk)
//   walk-sync     the same with synchronous calls in one thread: what the walk's worker threads do, alone
//   snapshot      snapshotTree(args.tree) into the blob store args.blobs (fsync: args.fsync; args.warm: after one
//                 untimed walk in the same process), with the stat cache
//                 args.cache (or none): exactly what the captureFiles activity runs. With args.profile, the
//                 main thread is sampled (V8 CPU profiler) and its time reported by category (see CATEGORIES).
//                 Every part reports the CPU time of the main thread and of all threads (`cpu`): the walk and
//                 materialize do their per-file system calls in worker threads (src/store/tree/fs-pool.ts)
//   keep-alive    BlobStore.keepAlive over every blob of args.blobs, a folder's worth (62) at a time: what a walk
//                 with a warm stat cache does per unchanged file (lstat in a worker thread, utimes only when old)
//   cache-io      StatCache.open(args.cache), one entry recorded, save(): loading and writing the stat cache once
//                 (save() writes nothing when nothing changed)
//   materialize   materializeTree(rootTree args.tree) from args.blobs into the empty folder args.target (fsync: args.fsync)

const { createHash } = require('node:crypto');
const { readdirSync, readFileSync } = require('node:fs');
const { lstat, open, readdir } = require('node:fs/promises');
const { join } = require('node:path');
const { performance } = require('node:perf_hooks');

// The compiled code under test: bench/snapshot.js points this at its frozen copy of dist/.
const DIST = process.env.HANDOUT_BENCH_DIST || join(__dirname, '..', '..', 'dist');

/**
 * Where the main thread's time goes, from a V8 CPU profile: each sample counts for the first category
 * its stack matches, from the innermost frame outwards ("GC" under the stat cache counts as GC).
 */
const CATEGORIES = [
  ['idle (waiting for the worker threads and I/O)', (f) => f.functionName === '(idle)'],
  ['garbage collection', (f) => f.functionName === '(garbage collector)'],
  ['worker thread messages (send jobs, take results)', (f) => f.functionName === 'postMessage' || f.url.endsWith('tree/fs-pool.js') || f.url.includes('messageport')],
  ['fs calls on the main thread (tree objects, cache file)', (f) => ['lstat', 'readdir', 'open', 'openFileHandle', 'close', 'stat', 'fstat', 'readlink', 'readFileUtf8', 'writeFile', 'rename'].includes(f.functionName)],
  ['stat cache (load, lookup, record, save)', (f) => f.url.endsWith('stat-cache.js')],
  ['tree objects (encode, hash, store)', (f) => ['encodeTreeEntries', 'encodeTree', 'canonicalJson', 'putBytes'].includes(f.functionName) || f.url.endsWith('tree/encode.js')],
  ['reused blobs of an old cache checked', (f) => f.functionName === 'keepAlive'],
  ['TaskPool / mapLimit bookkeeping', (f) => f.url.endsWith('tree/limit.js')],
  ['walk logic (snapshot.js, listing.js, anchor.js)', (f) => f.url.endsWith('tree/snapshot.js') || f.url.endsWith('tree/listing.js') || f.url.endsWith('tree/anchor.js')],
  ['V8 and Node internals', (f) => f.functionName === '(program)'],
];

/** CPU time (ms) so far of this process's main thread (Linux /proc; undefined elsewhere) and of all its threads. */
function cpuNow() {
  let main;
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    main = ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in 1/100 s (USER_HZ)
  } catch {
    main = undefined;
  }
  const all = process.cpuUsage();
  return { main, all: (all.user + all.system) / 1000 };
}

/** Runs `fn`, adding the CPU time it took to its result: `cpuMs` of the main thread and of all threads. */
async function withCpu(fn) {
  const before = cpuNow();
  const result = await fn();
  const after = cpuNow();
  return { ...result, cpuMs: { main: before.main === undefined ? undefined : after.main - before.main, all: after.all - before.all } };
}

function categorise(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const ms = {};
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] / 1000;
    total += dt;
    let name = 'other';
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const hit = CATEGORIES.find(([, match]) => match(byId.get(at).callFrame));
      if (hit) {
        name = hit[0];
        break;
      }
    }
    ms[name] = (ms[name] ?? 0) + dt;
  });
  return { totalMs: total, ms };
}

/** Runs `fn` under the V8 CPU profiler of this process (sampling every 250 µs). */
async function profiled(fn) {
  const { Session } = require('node:inspector');
  const session = new Session();
  session.connect();
  const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (err, r) => (err ? reject(err) : resolve(r))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 250 });
  await post('Profiler.start');
  let result;
  try {
    result = await fn();
  } finally {
    const { profile } = await post('Profiler.stop');
    session.disconnect();
    result = { ...result, cpu: categorise(profile) };
  }
  return result;
}

async function mapLimit(items, limit, fn) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function listFiles(root) {
  const files = [];
  const dirs = [''];
  while (dirs.length) {
    const rel = dirs.pop();
    for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) dirs.push(child);
      else if (e.isFile()) files.push(child);
    }
  }
  return files;
}

const PARTS = {
  async 'node-hash'({ tree }) {
    const files = await listFiles(tree);
    const t0 = performance.now();
    let bytes = 0;
    const buffer = () => Buffer.allocUnsafe(1 << 20);
    await mapLimit(files, 16, async (rel) => {
      const handle = await open(join(tree, rel), 'r');
      const hash = createHash('sha256');
      const buf = buffer();
      try {
        for (;;) {
          const { bytesRead } = await handle.read(buf, 0, buf.length, null);
          if (bytesRead === 0) break;
          hash.update(buf.subarray(0, bytesRead));
          bytes += bytesRead;
        }
      } finally {
        await handle.close();
      }
      hash.digest('hex');
    });
    return { ms: performance.now() - t0, files: files.length, bytes };
  },

  // What one fs worker thread does for a walk, alone: synchronous readdir and lstat of every entry.
  async 'walk-sync'({ tree }) {
    const { lstatSync, readdirSync: listSync } = require('node:fs');
    return withCpu(async () => {
      const t0 = performance.now();
      let entries = 0;
      const visit = (rel) => {
        for (const name of listSync(join(tree, rel))) {
          const child = rel ? `${rel}/${name}` : name;
          entries++;
          if (lstatSync(join(tree, child), { bigint: true }).isDirectory()) visit(child);
        }
      };
      visit('');
      return { ms: performance.now() - t0, entries };
    });
  },

  async walk({ tree }) {
    const t0 = performance.now();
    let entries = 0;
    const visit = async (rel) => {
      const names = await readdir(join(tree, rel));
      const subdirs = [];
      await mapLimit(names, 32, async (name) => {
        const child = rel ? `${rel}/${name}` : name;
        const st = await lstat(join(tree, child), { bigint: true });
        entries++;
        if (st.isDirectory()) subdirs.push(child);
      });
      await Promise.all(subdirs.map(visit));
    };
    await visit('');
    return { ms: performance.now() - t0, entries };
  },

  async snapshot({ tree, blobs, fsync, cache, profile, warm }) {
    const { snapshotTree } = require(join(DIST, 'store/tree/snapshot.js'));
    const { createLocalBlobStore } = require(join(DIST, 'store/blob-store.js'));
    const { StatCache } = require(join(DIST, 'store/stat-cache.js'));
    // With `warm`, one walk first, untimed, as a long-running server has done before its next snapshot:
    // the code is compiled and optimised and the worker threads are running.
    if (warm) {
      const store = await createLocalBlobStore(blobs, { fsync });
      if (cache) await StatCache.use(cache, (statCache) => snapshotTree(tree, store, statCache));
      else await snapshotTree(tree, store, null);
    }
    const work = () =>
      withCpu(async () => {
        const t0 = performance.now();
        const store = await createLocalBlobStore(blobs, { fsync });
        const statCache = cache ? await StatCache.open(cache) : null;
        // snapshotTree saves the cache and flushes the store itself, as captureFiles has it do.
        const r = await snapshotTree(tree, store, statCache);
        statCache?.release();
        return { ms: performance.now() - t0, rootTree: r.rootTree, files: r.files, dirs: r.dirs, bytes: r.bytes, hashed: r.hashedFiles, reused: r.reusedFiles };
      });
    return profile ? profiled(work) : work();
  },

  async 'keep-alive'({ blobs }) {
    const { createLocalBlobStore } = require(join(DIST, 'store/blob-store.js'));
    const refs = [];
    for (const shard of readdirSync(join(blobs, 'sha256'))) {
      for (const name of readdirSync(join(blobs, 'sha256', shard))) refs.push({ sha256: shard + name, size: -1 });
    }
    const store = await createLocalBlobStore(blobs);
    return withCpu(async () => {
      const t0 = performance.now();
      const batches = [];
      for (let i = 0; i < refs.length; i += 62) batches.push(refs.slice(i, i + 62));
      let missing = 0;
      await mapLimit(batches, 16, async (batch) => (missing += (await store.keepAlive(batch)).size));
      return { ms: performance.now() - t0, blobs: refs.length, missing };
    });
  },

  async 'cache-io'({ cache }) {
    const { StatCache } = require(join(DIST, 'store/stat-cache.js'));
    const probe = await lstat(cache, { bigint: true });
    return withCpu(async () => {
      const t0 = performance.now();
      const statCache = await StatCache.open(cache);
      const openMs = performance.now() - t0;
      // One change, or save() would rightly write nothing; the next walk prunes this path again.
      statCache.record('.bench-cache-io-probe', probe, '0'.repeat(64), probe.mtimeNs);
      await statCache.save();
      statCache.release();
      return { ms: performance.now() - t0, openMs, saveMs: performance.now() - t0 - openMs, entries: statCache.size };
    });
  },

  async materialize({ blobs, tree, target, fsync }) {
    const { materializeTree } = require(join(DIST, 'store/tree/materialize.js'));
    const { createLocalBlobStore } = require(join(DIST, 'store/blob-store.js'));
    return withCpu(async () => {
      const t0 = performance.now();
      const store = await createLocalBlobStore(blobs, { fsync });
      const r = await materializeTree(store, tree, target, { strategy: 'mirror', fsync });
      return { ms: performance.now() - t0, files: r.filesWritten, bytes: r.bytes, dirs: r.dirsCreated };
    });
  },
};

const [part, args] = process.argv.slice(2);
if (!PARTS[part]) {
  process.stderr.write(`Error: unknown part "${part}"; one of: ${Object.keys(PARTS).join(', ')}\n`);
  process.exit(1);
}
PARTS[part](JSON.parse(args ?? '{}')).then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (err) => {
    process.stderr.write(`Error: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
