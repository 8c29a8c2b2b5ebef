#!/usr/bin/env node
'use strict';
// Distribution benchmark: how long Handout takes to hand a stage out to many instances, next to `cp -r`
// doing the same copying on the same disk, and what one target costs on top of the task's fixed cost.
//
//   npm run build && npm run bench -- distribution [--runs N] [--targets N] [--fanout N] [--no-report] [--smoke]
//
// One `handout up` (embedded Temporal, PGlite catalog, fresh data directory) serves every run. Untimed
// setup: a source instance holding a deterministic 2,000-file, ~200 MiB tree (bench/lib/tree.js) and one
// small file, a snapshot `stage` of it, 50 + 500 empty target instances. Then, per run:
//   (a) big stage   `distribution distribute -p stage --files /files/tree` to 50 targets --wait
//                   vs `cp -r` of the same folder into 50 empty folders, and `cp -r` … then `sync`
//   (b) fan-out     `distribution distribute -p stage --files /files/notice/welcome.md` to 500 targets --wait,
//                   and the same to 1 target (the fixed cost every distribution pays)
// Each distribution is timed twice: the CLI's wall time (spawn → exit, `--wait` polling included) and the
// task's own started_at → finished_at. Where the time goes comes from the task's Temporal history and
// the CPU time the server processes used. Timings are measured here and only here; no test asserts them.

const { spawn, spawnSync } = require('node:child_process');
const { closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const { basename, join, relative } = require('node:path');
const { performance } = require('node:perf_hooks');
const { freePorts, tail, waitUntil, stop, healthy, stats, commandOutput, loadAverage, track, killTracked, sleep } = require('./lib/util');
const tree = require('./lib/tree.js');

const ROOT = join(__dirname, '..');
const REPORT = join(__dirname, 'reports', 'distribution.md');
const WORK = join(__dirname, 'work', 'distribution');
// The build under test, copied here at the start: other engineers' `npm test` rebuilds dist/ while this runs.
const APP = join(WORK, 'build');
const RUNS = join(WORK, 'runs');
// ext4 without a journal (this machine's) makes creating files slow for about a minute after many were
// deleted (see bench/reports/snapshot.md): after every deletion, nothing is timed for this long.
const AFTER_DELETE_WAIT_MS = 65_000;
const TASK_TIMEOUT_S = 3600;
const AIMS = { bigRatio: 1.2, perTargetMs: 20 };

// (a): 2,000 files, about 200 MiB, in 10 × 10 leaf folders; incompressible, deterministic content.
let SPEC = {
  version: 1,
  seed: 20261122,
  topDirs: 10,
  subDirs: 10,
  classes: [
    { name: 'small', count: 1_900, min: 2 * tree.KiB, max: 110 * tree.KiB },
    { name: 'medium', count: 100, min: 512 * tree.KiB, max: 1536 * tree.KiB },
  ],
};
let SOURCE = join(WORK, 'source');
const SMALL_FILE = '# Welcome\n\nThe first exercise sheet is in /files/tree. Hand it in by Friday.\n';

function parseArgs(argv) {
  const opts = { runs: 3, targets: 50, fanout: 500, singles: 3, partTimes: 20, profileTargets: 100, report: true, smoke: false };
  const count = (flag, value, min) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) fail(`${flag} must be a whole number ≥ ${min}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--runs') opts.runs = count(arg, argv[++i], 1);
    else if (arg === '--targets') opts.targets = count(arg, argv[++i], 1);
    else if (arg === '--fanout') opts.fanout = count(arg, argv[++i], 2);
    else if (arg === '--no-report') opts.report = false;
    // A tree 100 times smaller, a few targets, no waits and no report: only to check the benchmark itself.
    else if (arg === '--smoke') opts.smoke = true;
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write('Usage: npm run bench -- distribution [--runs N] [--targets N] [--fanout N] [--no-report] [--smoke]\n');
      process.exit(0);
    } else fail(`unknown option "${arg}" (try --help)`);
  }
  return opts;
}

function fail(message) {
  process.stderr.write(`Error: ${message}\n`);
  process.exit(1);
}

const log = (line) => process.stderr.write(`${line}\n`);

function cleanup() {
  killTracked();
  rmSync(RUNS, { recursive: true, force: true });
  rmSync(APP, { recursive: true, force: true });
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    log(`\n${signal}: stopping the benchmark`);
    cleanup();
    process.exit(130);
  });
}

/**
 * Runs a command to its end; resolves with its wall time (spawn → exit) and stdout, rejects on a non-zero
 * exit. Its stdout goes to a file, not a pipe: the handout CLI exits with process.exit() as soon as it has
 * printed, and Node then drops whatever a pipe has not taken yet (a 500-target task is ~250 KB of JSON).
 */
function run(cmd, args, { cwd = ROOT, env = process.env } = {}) {
  mkdirSync(RUNS, { recursive: true });
  const outFile = join(RUNS, `stdout-${process.pid}-${runCount++}.txt`);
  const out = openSync(outFile, 'w');
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = track(spawn(cmd, args, { cwd, env, stdio: ['ignore', out, 'pipe'] }));
    closeSync(out);
    let stderr = '';
    child.stderr.on('data', (c) => (stderr = (stderr + c).slice(-4000)));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      const ms = performance.now() - t0;
      const stdout = readFileSync(outFile, 'utf8');
      rmSync(outFile, { force: true });
      if (code === 0) resolve({ ms, stdout });
      else reject(new Error(`${[cmd, ...args].join(' ').slice(0, 300)} failed (${code ?? signal}):\n${stderr.trim() || stdout.trim()}`));
    });
  });
}
let runCount = 0;

const sh = (script, cwd = ROOT) => run('sh', ['-c', script], { cwd });
/** Flushes dirty pages, so that the next timed command does not pay for writes made before it. */
const syncDisk = () => spawnSync('sync');

/** CPU seconds (user + system) a process has used so far, from /proc; undefined if it is gone. */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

/** Deletes everything inside each folder (the folders stay), then waits out ext4's recently-deleted penalty. */
async function emptyFolders(dirs, waitMs) {
  for (const dir of dirs) for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
  syncDisk();
  if (waitMs) await sleep(waitMs);
}

// ---------------------------------------------------------------------------------------------------
// Handout: one `handout up`, driven through the real CLI (timed) and the HTTP API (bulk setup).

class Handout {
  static async start(cli, dataDir, nodeArgs = []) {
    const [port, temporalPort, uiPort] = await freePorts(3);
    mkdirSync(dataDir, { recursive: true });
    const env = {
      ...process.env,
      HANDOUT_DATA_DIR: dataDir,
      HANDOUT_PORT: String(port),
      HANDOUT_TEMPORAL_PORT: String(temporalPort),
      HANDOUT_TEMPORAL_UI_PORT: String(uiPort),
      TEMPORAL_CLI_PATH: cli,
      HANDOUT_TEMPORAL_INSTALL_DIR: process.env.HANDOUT_TEMPORAL_INSTALL_DIR || join(ROOT, '.temporal'),
    };
    // Embedded mode with the PGlite catalog and the default settings, whatever the caller's shell has set.
    for (const name of ['TEMPORAL_ADDRESS', 'DATABASE_URL', 'HANDOUT_HOST', 'TEMPORAL_UI_URL', 'HANDOUT_TEST_ACTIVITY_DELAY_MS', 'SMTP_URL', 'HANDOUT_DISTRIBUTION_CONCURRENCY']) delete env[name];
    const child = track(spawn(process.execPath, [...nodeArgs, join(APP, 'bin', 'handout.js'), 'up'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }));
    const output = tail(child);
    try {
      await waitUntil(child, 'handout up', () => healthy(`http://127.0.0.1:${port}/healthz`), output, { timeoutMs: 180_000, pollMs: 100 });
    } catch (err) {
      await stop(child);
      throw err;
    }
    const key = readFileSync(join(dataDir, 'admin-api-key'), 'utf8').trim();
    const temporalPid = Number(readFileSync(join(dataDir, 'temporal.pid'), 'utf8').trim());
    return new Handout(child, output, dataDir, `http://127.0.0.1:${port}`, key, `127.0.0.1:${temporalPort}`, temporalPid);
  }

  constructor(child, output, dataDir, url, key, temporalAddress, temporalPid) {
    Object.assign(this, { child, output, dataDir, url, key, temporalAddress, temporalPid });
    this.env = { ...process.env, HANDOUT_API_URL: url, HANDOUT_API_KEY: key, HANDOUT_CONFIG: join(dataDir, '..', 'cli-config.yaml') };
    delete this.env.HANDOUT_CONTEXT;
    this.ids = {};
  }

  /** `node bin/handout.js …args`, timed from spawn to exit; `-f json` output parsed (always a list). */
  async cli(args) {
    const r = await run(process.execPath, [join(APP, 'bin', 'handout.js'), ...args], { env: this.env }).catch((err) => {
      const state = this.child.exitCode !== null || this.child.signalCode !== null ? `exited (${this.child.exitCode ?? this.child.signalCode})` : 'running';
      throw new Error(`${err.message}\n[handout up ${state}; its last output:]\n${this.output()}`);
    });
    return { ms: r.ms, out: args.includes('json') ? JSON.parse(r.stdout) : r.stdout };
  }

  async api(method, path, body) {
    const response = await fetch(`${this.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${this.key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await response.json();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  }

  /** Creates instances through the API, `inFlight` tasks at a time; records each instance id. */
  async createInstances(slugs, inFlight = 24) {
    let next = 0;
    const worker = async () => {
      while (next < slugs.length) {
        const slug = slugs[next++];
        const started = await this.api('POST', '/orgs/bench/spaces/course/instances', { name: slug, slug });
        for (;;) {
          const task = await this.api('GET', `/tasks/${encodeURIComponent(started.task_id)}`);
          if (task.status === 'COMPLETED') {
            this.ids[slug] = task.result.instance_id;
            break;
          }
          if (task.status === 'FAILED' || task.status === 'CANCELLED') throw new Error(`creating ${slug}: ${task.status} ${task.error}`);
          await sleep(100);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(inFlight, slugs.length) }, worker));
  }

  filesDir(slug) {
    return join(this.dataDir, 'instances', this.ids[slug], 'files');
  }

  /** `distribution distribute … --wait -f json`, timed; the server processes' CPU time over the same span. */
  async distribute(files, targetSlugs) {
    const targets = targetSlugs.map((slug) => ({ org_slug: 'bench', space_slug: 'course', instance_slug: slug }));
    const cpu0 = [cpuSeconds(this.child.pid), cpuSeconds(this.temporalPid)];
    const load = loadAverage();
    const { ms, out } = await this.cli([
      'distribution', 'distribute', '-o', 'bench', '-s', 'course', '-i', 'src', '-p', 'stage', '--files', files,
      '--targets', JSON.stringify(targets), '--wait', '--timeout', String(TASK_TIMEOUT_S), '-f', 'json',
    ]);
    const cpu1 = [cpuSeconds(this.child.pid), cpuSeconds(this.temporalPid)];
    // The task as `tasks get` shows it afterwards (the same view `--wait` printed): its own start and end.
    const task = (await this.cli(['tasks', 'get', out[0].task_id, '-f', 'json'])).out[0];
    if (task.status !== 'COMPLETED') throw new Error(`the distribution ended ${task.status}: ${task.error}`);
    if (task.result.applied !== targetSlugs.length) throw new Error(`applied to ${task.result.applied} of ${targetSlugs.length} targets`);
    return { ms, task, taskMs: Date.parse(task.finished_at) - Date.parse(task.started_at), cpuHandout: cpu1[0] - cpu0[0], cpuTemporal: cpu1[1] - cpu0[1], load };
  }

  /**
   * Where a task's time went, from its Temporal history: per activity type the count, the summed and
   * median run time (started → closed) and the median wait for a worker (scheduled → started); workflow
   * tasks likewise; child workflows; and the span of the target activities.
   */
  async phases(workflowId) {
    const { Connection, Client } = require('@temporalio/client');
    this.connection ??= await Connection.connect({ address: this.temporalAddress });
    const client = new Client({ connection: this.connection });
    const { events } = await client.workflow.getHandle(workflowId).fetchHistory();
    const at = (e) => {
      const s = e.eventTime.seconds;
      return (typeof s === 'object' && s !== null ? s.toNumber() : Number(s)) * 1000 + (e.eventTime.nanos ?? 0) / 1e6;
    };
    const id = (v) => (typeof v === 'object' && v !== null ? v.toNumber() : Number(v));
    const scheduled = new Map();
    const started = new Map();
    const acc = {};
    const add = (name, runMs, waitMs) => {
      const a = (acc[name] ??= { count: 0, run: [], wait: [] });
      a.count++;
      a.run.push(runMs);
      if (waitMs !== undefined) a.wait.push(waitMs);
    };
    let firstTarget;
    let lastTarget;
    let wfTaskScheduled;
    let wfTaskStarted;
    for (const e of events) {
      const t = at(e);
      if (e.activityTaskScheduledEventAttributes) scheduled.set(id(e.eventId), { name: e.activityTaskScheduledEventAttributes.activityType.name, t });
      if (e.activityTaskStartedEventAttributes) started.set(id(e.activityTaskStartedEventAttributes.scheduledEventId), t);
      const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
      if (done) {
        const key = id(done.scheduledEventId);
        const s = scheduled.get(key);
        const st = started.get(key) ?? s.t;
        add(s.name, t - st, st - s.t);
        if (s.name === 'applyStageToTarget') {
          firstTarget = Math.min(firstTarget ?? s.t, s.t);
          lastTarget = Math.max(lastTarget ?? t, t);
        }
      }
      if (e.workflowTaskScheduledEventAttributes) wfTaskScheduled = t;
      if (e.workflowTaskStartedEventAttributes) wfTaskStarted = t;
      if (e.workflowTaskCompletedEventAttributes) add('workflow task', t - wfTaskStarted, wfTaskStarted - wfTaskScheduled);
      if (e.startChildWorkflowExecutionInitiatedEventAttributes) scheduled.set(id(e.eventId), { name: `child ${e.startChildWorkflowExecutionInitiatedEventAttributes.workflowType.name}`, t });
      if (e.childWorkflowExecutionCompletedEventAttributes) {
        const s = scheduled.get(id(e.childWorkflowExecutionCompletedEventAttributes.initiatedEventId));
        add(s.name, t - s.t);
      }
    }
    const summary = {};
    for (const [name, a] of Object.entries(acc)) {
      summary[name] = { count: a.count, sumMs: a.run.reduce((x, y) => x + y, 0), medianMs: stats(a.run).median, maxMs: stats(a.run).max, waitMedianMs: a.wait.length ? stats(a.wait).median : undefined };
    }
    return { events: events.length, workflowMs: at(events[events.length - 1]) - at(events[0]), targetsSpanMs: lastTarget - firstTarget, activities: summary };
  }

  async close() {
    await this.connection?.close().catch(() => undefined);
    await stop(this.child);
  }
}

// ---------------------------------------------------------------------------------------------------
// The rounds.

/** `cp -r` of the stage's folder into `n` fresh folders, one after the other; optionally then `sync`. */
function cpInto(from, baseDir, n, thenSync) {
  const script = `i=1; while [ $i -le ${n} ]; do mkdir -p "${baseDir}/c$i" && cp -r "${from}/." "${baseDir}/c$i/" || exit 1; i=$((i+1)); done${thenSync ? ' && sync' : ''}`;
  return sh(script);
}

async function bigRound(h, opts, runIndex, label, waitMs) {
  const targets = Array.from({ length: opts.targets }, (_, i) => `a${String(i + 1).padStart(3, '0')}`);
  const targetDirs = targets.map((slug) => h.filesDir(slug));
  const cpBase = join(RUNS, `cp-${label}`);
  const from = join(h.filesDir('src'), 'tree');
  const r = {};
  const steps = {
    handout: async () => {
      syncDisk();
      r.handout = await h.distribute('/files/tree', targets);
      r.phases = await h.phases(r.handout.task.task_id);
      const written = r.handout.task.targets.reduce((s, t) => s + t.files_written, 0);
      if (written !== opts.targets * opts.treeFiles) throw new Error(`the distribution wrote ${written} files, not ${opts.targets * opts.treeFiles}`);
      await emptyFolders(targetDirs, waitMs);
    },
    cp: async () => {
      syncDisk();
      r.loadCp = loadAverage();
      r.cp = await cpInto(from, cpBase, opts.targets, false);
      rmSync(cpBase, { recursive: true, force: true });
      syncDisk();
      if (waitMs) await sleep(waitMs);
    },
    cpSync: async () => {
      syncDisk();
      r.cpSync = await cpInto(from, cpBase, opts.targets, true);
      rmSync(cpBase, { recursive: true, force: true });
      syncDisk();
      if (waitMs) await sleep(waitMs);
    },
  };
  // Odd runs time Handout first, even runs last: whatever the order costs falls on both sides alike.
  const order = runIndex % 2 === 1 ? ['handout', 'cp', 'cpSync'] : ['cp', 'cpSync', 'handout'];
  for (const step of order) await steps[step]();
  return r;
}

async function fanoutRound(h, opts) {
  const targets = Array.from({ length: opts.fanout }, (_, i) => `b${String(i + 1).padStart(3, '0')}`);
  const r = { singles: [] };
  for (let i = 0; i < opts.singles; i++) {
    syncDisk();
    const one = await h.distribute('/files/notice/welcome.md', [targets[i % targets.length]]);
    one.phases = await h.phases(one.task.task_id);
    r.singles.push(one);
  }
  syncDisk();
  r.many = await h.distribute('/files/notice/welcome.md', targets);
  r.phases = await h.phases(r.many.task.task_id);
  return r;
}


// ---------------------------------------------------------------------------------------------------
// Where a target's time goes: parts of applyStageToTarget timed alone, each set in a fresh Node process
// of the frozen build (`node bench/distribution.js --part <json>`), on the stopped server's blob store.

async function part(args) {
  const env = { ...process.env, UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE || '16' };
  const r = await run(process.execPath, [__filename, '--part', JSON.stringify(args)], { env });
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

/** Runs inside the `--part` child: times `times` calls of one part, each into a fresh folder under `dir`. */
async function runPart({ name, blobsDir, stageSha256, warmupSha256, dir, times }) {
  const dist = join(APP, 'dist');
  const { createLocalBlobStore } = require(join(dist, 'store', 'blob-store.js'));
  const { readSnapshotObject } = require(join(dist, 'store', 'snapshot-objects.js'));
  const { materializeTree } = require(join(dist, 'store', 'file-tree.js'));
  const { syncFileSystem } = require(join(dist, 'store', 'tree', 'durability.js'));
  const blobs = await createLocalBlobStore(blobsDir);
  const filesTree = (await readSnapshotObject(blobs, stageSha256)).files_tree;
  mkdirSync(dir, { recursive: true });
  // One untimed materialize first: it starts the worker threads, which a running server has started long ago.
  await materializeTree(blobs, (await readSnapshotObject(blobs, warmupSha256)).files_tree, join(dir, 'warm-up'), { strategy: 'overwrite', fsync: false });
  const each = [];
  for (let i = 0; i < times; i++) {
    const target = join(dir, `t${i}`);
    const t0 = performance.now();
    if (name === 'materialize') await materializeTree(blobs, filesTree, target, { strategy: 'overwrite' });
    else if (name === 'materialize-no-fsync') await materializeTree(blobs, filesTree, target, { strategy: 'overwrite', fsync: false });
    else if (name === 'sync-f') await syncFileSystem(dir);
    else throw new Error(`unknown part ${name}`);
    each.push(performance.now() - t0);
  }
  return { name, ms: stats(each).median, min: stats(each).min, max: stats(each).max, times };
}

async function partsRound(dataDir, stages, opts, waitMs) {
  const blobsDir = join(dataDir, 'blobs');
  const base = join(RUNS, 'parts');
  const r = {};
  const small = { blobsDir, stageSha256: stages.small, warmupSha256: stages.small, times: opts.partTimes };
  syncDisk();
  r.smallFsync = await part({ ...small, name: 'materialize', dir: join(base, 'small-fsync') });
  syncDisk();
  r.smallNoFsync = await part({ ...small, name: 'materialize-no-fsync', dir: join(base, 'small-nofsync') });
  syncDisk();
  r.syncF = await part({ ...small, name: 'sync-f', dir: join(base, 'sync-f') });
  const big = { blobsDir, stageSha256: stages.big, warmupSha256: stages.small, times: 1 };
  syncDisk();
  r.bigFsync = await part({ ...big, name: 'materialize', dir: join(base, 'big-fsync') });
  syncDisk();
  r.bigNoFsync = await part({ ...big, name: 'materialize-no-fsync', dir: join(base, 'big-nofsync') });
  syncDisk();
  const cpOne = await sh(`mkdir -p '${join(base, 'cp-one')}' && cp -r '${SOURCE}/.' '${join(base, 'cp-one')}/'`);
  r.cpOne = { ms: cpOne.ms, min: cpOne.ms, max: cpOne.ms };
  rmSync(base, { recursive: true, force: true });
  syncDisk();
  if (waitMs) await sleep(waitMs);
  return r;
}

// ---------------------------------------------------------------------------------------------------
// Where the server's main thread spends a fan-out: a second `handout up` under `node --cpu-prof`, one
// small file to `n` targets (after one untimed warm-up distribution), the profile cut to that distribution.

/** The first frame of a sample's stack that says what the main thread was doing for Handout. */
function categoryOf(stack) {
  const text = stack.map((f) => `${f.url} ${f.functionName}`).join('\n');
  const leaf = stack[0].functionName;
  if (leaf === '(idle)') return 'idle (waiting for I/O, timers, other threads)';
  if (leaf === '(garbage collector)') return 'garbage collection';
  if (/store\/tree\/durability\.js/.test(text)) return 'spawning `sync -f` (durability.js: child_process.execFile)';
  if (/pglite/.test(text)) return 'PGlite (the catalog: SQL in WebAssembly)';
  if (/drizzle-orm/.test(text)) return 'drizzle (building queries, mapping rows)';
  if (/audit-log/.test(text)) return 'audit chain (hashing, canonical JSON)';
  if (/@temporalio/.test(text)) return 'Temporal SDK (worker, activations, payloads)';
  if (/store\/tree\/|blob-store/.test(text)) return 'materialize and blob store (main-thread part)';
  if (/fastify|pino|light-my-request/.test(text)) return 'HTTP API';
  if (/\/dist\//.test(text)) return 'other Handout code';
  return 'other (Node internals, program)';
}

function analyseProfile(file, fromUs, toUs) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const cache = new Map();
  const ms = {};
  let t = p.startTime;
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i];
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
    if (t < fromUs || t > toUs) continue;
    let c = cache.get(p.samples[i]);
    if (!c) {
      const stack = [];
      for (let n = byId.get(p.samples[i]); n; n = byId.get(parent.get(n.id))) stack.push(n.callFrame);
      c = categoryOf(stack);
      cache.set(p.samples[i], c);
    }
    ms[c] = (ms[c] ?? 0) + dt;
    total += dt;
  }
  return { ms, totalMs: total };
}

async function profileRound(cli, n) {
  const dir = join(RUNS, 'profile');
  const profDir = join(dir, 'cpu');
  const h = await Handout.start(cli, join(dir, 'handout'), ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--cpu-prof-interval', '250']);
  let measured;
  let doneAt;
  try {
    await h.cli(['orgs', 'create', '--slug', 'bench', '-n', 'Bench']);
    await h.cli(['spaces', 'create', '-o', 'bench', '--slug', 'course', '-n', 'Course']);
    const targets = Array.from({ length: n }, (_, i) => `p${String(i + 1).padStart(3, '0')}`);
    await h.createInstances(['src', ...targets]);
    mkdirSync(join(h.filesDir('src'), 'notice'));
    writeFileSync(join(h.filesDir('src'), 'notice', 'welcome.md'), SMALL_FILE);
    await h.cli(['snapshots', 'create', '-o', 'bench', '-s', 'course', '-i', 'src', '-n', 'stage', '--wait', '-f', 'json']);
    await h.distribute('/files/notice/welcome.md', targets); // warm-up: every code path used once
    measured = await h.distribute('/files/notice/welcome.md', targets);
    doneAt = performance.now();
  } finally {
    await h.close();
  }
  const exitedAt = performance.now();
  // The main thread's profile is the largest file; it ends when the process exits. The window is the
  // task's own length, ending when the CLI saw it finished (the profile's end minus the shutdown).
  const file = readdirSync(profDir).map((f) => join(profDir, f)).sort((x, y) => statSync(y).size - statSync(x).size)[0];
  const endTime = JSON.parse(readFileSync(file, 'utf8')).endTime;
  const endUs = endTime - (exitedAt - doneAt) * 1000;
  return { n, taskMs: measured.taskMs, ...analyseProfile(file, endUs - measured.taskMs * 1000, endUs) };
}

// ---------------------------------------------------------------------------------------------------
// Machine and report.

/**
 * Copies the build under test (bin/, dist/, scripts/, package.json) to APP, so that a rebuild of dist/ by
 * someone's `npm test` cannot change the code mid-run; node_modules still resolve from the project.
 */
function freezeBuild() {
  const stamp = () => ['dist/cli/main.js', 'dist/workflow-bundle.js', 'dist/activities/distribution.js'].map((f) => statSync(join(ROOT, f)).mtimeMs).join(',');
  for (let attempt = 1; ; attempt++) {
    const before = stamp();
    rmSync(APP, { recursive: true, force: true });
    for (const part of ['bin', 'dist', 'scripts', 'package.json']) cpSync(join(ROOT, part), join(APP, part), { recursive: true });
    if (stamp() === before) return new Date(statSync(join(ROOT, 'dist/workflow-bundle.js')).mtimeMs).toISOString();
    if (attempt >= 5) fail('dist/ kept changing while it was copied (a build running?); try again when it is done');
    spawnSync('sleep', ['10']);
  }
}

function filesystemOf(dir) {
  const line = commandOutput('findmnt', ['-n', '-o', 'SOURCE,FSTYPE,OPTIONS', '-T', dir]) ?? 'unknown';
  const df = commandOutput('df', ['-h', '--output=size,avail', dir])?.split('\n')[1]?.trim().split(/\s+/) ?? [];
  const [source, fstype, options] = line.split(/\s+/);
  let journal;
  try {
    journal = readdirSync('/proc/fs/jbd2').some((name) => name.startsWith(`${basename(source ?? '')}-`));
  } catch {
    journal = fstype === 'ext4' ? false : undefined;
  }
  return { source, fstype, options, size: df[0], avail: df[1], journal };
}

function machine(cli) {
  const dirty = commandOutput('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src', 'scripts', 'bin', 'package.json'], ROOT);
  const commit = commandOutput('git', ['rev-parse', '--short', 'HEAD'], ROOT);
  return {
    cores: commandOutput('nproc', [], ROOT) ?? String(os.cpus().length),
    cpu: os.cpus()[0]?.model?.trim() ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    coreutils: (commandOutput('cp', ['--version'], ROOT) ?? 'unknown').split('\n')[0],
    temporal: (commandOutput(cli, ['--version'], ROOT) ?? 'unknown').split('\n')[0],
    handout: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version,
    builtAt: freezeBuild(),
    commit: commit ? `${commit}${dirty ? ' (with uncommitted changes in src/, scripts/, bin/ or package.json)' : ''}` : 'unknown',
    date: new Date().toISOString(),
    fs: filesystemOf(WORK),
    uptimeBefore: commandOutput('uptime', [], ROOT) ?? loadAverage(),
  };
}

const s2 = (ms) => (ms / 1000).toFixed(2);
const ms1 = (ms) => ms.toFixed(1);
const MiB = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
const pct = (a, b) => `${Math.round((100 * a) / b)} %`;

function report(ctx) {
  const { m, opts, treeInfo, bigRows, ratios, fanRows, fan, bigPhases, fanPhases, singlePhases, loads, findings, elapsedMs } = ctx;
  const cell = (text) => String(text).replace(/\|/g, '\\|');
  const row = (r) => `| ${cell(r.name)} | ${cell(r.what)} | ${s2(r.median)} | ${s2(r.min)} | ${s2(r.max)} |`;
  const ratioRow = (r) => `| ${r.name} | ${r.value.toFixed(2)}× | ${r.aim ? `≤ ${r.aim.toFixed(1)}×` : '(context)'} | ${r.aim ? (r.value <= r.aim ? 'met' : 'not met') : ''} |`;
  const phaseTable = (p) => [
    '| step | count | summed run time (s) | median run (ms) | max run (ms) | median wait for a worker (ms) |',
    '|---|---:|---:|---:|---:|---:|',
    ...Object.entries(p.activities)
      .sort((a, b) => b[1].sumMs - a[1].sumMs)
      .map(([name, a]) => `| ${name} | ${a.count} | ${s2(a.sumMs)} | ${ms1(a.medianMs)} | ${ms1(a.maxMs)} | ${a.waitMedianMs === undefined ? '' : ms1(a.waitMedianMs)} |`),
  ];
  const lines = [
    '# Distribution benchmark',
    '',
    `How long Handout takes to distribute (a) a ${MiB(treeInfo.bytes)}, ${treeInfo.files.toLocaleString('en')}-file stage to ${opts.targets} instances, next to \`cp -r\``,
    `of the same folder into ${opts.targets} folders on the same disk, and (b) one small file to ${opts.fanout} instances: the total, the`,
    'cost per target, and how much of it is the fixed cost of any distribution. Produced by `bench/distribution.js`.',
    '',
    '## Machine',
    '',
    `- cores (\`nproc\`): ${m.cores}; CPU: ${m.cpu}; memory: ${m.memoryGiB} GiB`,
    `- OS: ${m.os}`,
    `- filesystem of the work directory (\`bench/work/distribution\`): ${m.fs.fstype}${m.fs.journal === false ? ' **without a journal** (no `/proc/fs/jbd2` entry)' : m.fs.journal ? ' with a journal' : ''} on ${m.fs.source} (${m.fs.options}), ${m.fs.size} (${m.fs.avail} free at the start).`,
    '  Handout\'s data directory (blob store, instance files), the source tree and the `cp -r` copies all live there.',
    `- Node.js: ${m.node}; ${m.coreutils}; Temporal CLI: ${m.temporal}`,
    `- Handout: ${m.handout}; HEAD at the start: ${m.commit}; the build measured is \`dist/\` as built at ${m.builtAt}, copied with`,
    '  `bin/`, `scripts/` and `package.json` to `bench/work/distribution/build` at the start and run from there.',
    `- date: ${m.date}; the whole benchmark took ${(elapsedMs / 60000).toFixed(1)} min`,
    `- \`uptime\` at the start: \`${m.uptimeBefore}\``,
    `- \`uptime\` at the end: \`${m.uptimeAfter}\``,
    `- load average (1, 5, 15 min) just before each timed command: ${loads.join('; ')}. The machine is shared: other engineers'`,
    '  tests and benchmarks may run at the same time, and anything they do shows in these numbers; both sides of each',
    '  comparison run back to back inside each run, so it hits them alike.',
    '',
    '## The stages',
    '',
    `- (a) \`/files/tree\`: ${treeInfo.files.toLocaleString('en')} files, ${MiB(treeInfo.bytes)} (${treeInfo.bytes.toLocaleString('en')} bytes) in ${treeInfo.dirs} folders: ` +
      treeInfo.classes.map((c) => `${c.count.toLocaleString('en')} ${c.name} files of ${c.range} (${MiB(c.bytes)})`).join(', ') + '; contents an AES-256-CTR keystream (incompressible, deterministic).',
    `- (b) \`/files/notice/welcome.md\`: one file of ${Buffer.byteLength(SMALL_FILE)} bytes.`,
    '- Both are distributed from the snapshot `stage` of the source instance (taken once, untimed), with the default strategy',
    `  (\`overwrite\`), no auto-snapshot, no notification, and the default \`HANDOUT_DISTRIBUTION_CONCURRENCY\` (${opts.concurrency} targets at a time).`,
    `  Freezing the current state instead (distributing \`development\`) would add a staging snapshot of the source: that snapshot took ${s2(ctx.snapshotMs)} s here.`,
    '',
    `## (a) ${MiB(treeInfo.bytes)} to ${opts.targets} targets vs cp -r (${plural(ctx.bigRuns, 'run')}, seconds)`,
    '',
    '| scenario | what is timed | median | min | max |',
    '|---|---|---:|---:|---:|',
    ...bigRows.map(row),
    '',
    '| ratio (medians) | value | aim | |',
    '|---|---:|---:|---|',
    ...ratios.map(ratioRow),
    '',
    `## (b) one small file to ${opts.fanout} targets (${plural(ctx.fanRuns, 'run')}; the 1-target distribution ${plural(ctx.singleRuns, 'time')})`,
    '',
    '| scenario | what is timed | median | min | max |',
    '|---|---|---:|---:|---:|',
    ...fanRows.map(row),
    '',
    '| per target (medians) | ms | aim | |',
    '|---|---:|---:|---|',
    `| amortised: ${opts.fanout}-target task time / ${opts.fanout} | ${ms1(fan.amortisedTask)} | ≤ ${AIMS.perTargetMs} | ${fan.amortisedTask <= AIMS.perTargetMs ? 'met' : 'not met'} |`,
    `| amortised: ${opts.fanout}-target CLI wall time / ${opts.fanout} | ${ms1(fan.amortisedCli)} | ≤ ${AIMS.perTargetMs} | ${fan.amortisedCli <= AIMS.perTargetMs ? 'met' : 'not met'} |`,
    `| marginal: (${opts.fanout}-target − 1-target task time) / ${opts.fanout - 1} | ${ms1(fan.marginalTask)} | (context) | |`,
    `| fixed cost: the 1-target task time | ${ms1(fan.fixedTask)} | (context) | |`,
    '',
    '## Where the time goes',
    '',
    'From each task\'s Temporal history (median run of each kind; every activity from its start to its end, and how long it',
    'waited for a worker after it was scheduled; "workflow task" is the worker running the workflow code after each event),',
    'and the CPU time the two server processes used while the CLI waited (from `/proc/<pid>/stat`; the machine has',
    `${m.cores} cores, so ${m.cores} CPU-seconds per second is everything).`,
    '',
    `### (a) ${opts.targets} targets, ${MiB(treeInfo.bytes)} each (run with the median task time: ${bigPhases.events} history events)`,
    '',
    ...phaseTable(bigPhases),
    '',
    `### (b) ${opts.fanout} targets, one small file (run with the median task time: ${fanPhases.events} history events)`,
    '',
    ...phaseTable(fanPhases),
    '',
    `### (b) 1 target, one small file (the fixed cost; ${singlePhases.events} history events)`,
    '',
    ...phaseTable(singlePhases),
    '',
    '| task | CLI wall (s) | task started → finished (s) | CPU s, handout up | CPU s, Temporal server | CPU use of the 2 cores |',
    '|---|---:|---:|---:|---:|---:|',
    ...ctx.cpuRows.map((c) => `| ${c.name} | ${s2(c.cli)} | ${s2(c.task)} | ${c.handout.toFixed(1)} | ${c.temporal.toFixed(1)} | ${pct((c.handout + c.temporal) * 1000, c.cli * Number(m.cores))} |`),
    '',
    `### The server's main thread during a ${ctx.profile.n}-target fan-out (V8 CPU profile)`,
    '',
    `A second \`handout up\` run under \`node --cpu-prof\` (sampled every 250 µs), ${ctx.profile.n} fresh targets, one small file, after one`,
    `untimed warm-up distribution to the same targets; the profile cut to the measured task (${s2(ctx.profile.taskMs)} s). The main`,
    'thread runs the API, the catalog (PGlite), the Temporal worker\'s activities and every child process spawn; workflow code and',
    'file writes run on other threads.',
    '',
    '| main thread | ms | per target (ms) | share |',
    '|---|---:|---:|---:|',
    ...Object.entries(ctx.profile.ms)
      .sort((a, b) => b[1] - a[1])
      .map(([name, v]) => `| ${cell(name)} | ${Math.round(v)} | ${(v / ctx.profile.n).toFixed(1)} | ${pct(v, ctx.profile.totalMs)} |`),
    '',
    `### Parts of a target timed alone (a fresh Node process each, after one untimed materialize that starts its worker threads; on the stopped server's blob store, no API, catalog or Temporal; median of ${opts.partTimes} calls for the small stage, one for the big one)`,
    '',
    '| part | what is timed | median (ms) | min (ms) | max (ms) |',
    '|---|---|---:|---:|---:|',
    ...ctx.partRows.map((r) => `| ${cell(r.name)} | ${cell(r.what)} | ${ms1(r.median)} | ${ms1(r.min)} | ${ms1(r.max)} |`),
    '',
    '### Findings',
    '',
    ...findings.map((f) => `- ${f}`),
    '',
    '## How it is measured',
    '',
    '- One `node bin/handout.js up` (the frozen copy, see Machine) serves every run: embedded Temporal dev server on free ports,',
    '  PGlite catalog, a fresh data directory. Untimed setup: org `bench`, space `course`, the source instance `src` and the',
    `  ${opts.targets} + ${opts.fanout} empty target instances (through the HTTP API, 24 creations in flight); the tree copied with \`cp -r\``,
    '  into `src`\'s files folder, the small file written beside it, and `snapshots create -n stage --wait`.',
    '- Every distribution is `handout distribution distribute -o bench -s course -i src -p stage --files <path> --targets <JSON>',
    '  --wait -f json`: "CLI wall" is spawn → exit of that command (Node start of the CLI, the API call that checks and starts',
    '  the task, the task, and `--wait` polling, which backs off); "task" is the task\'s own `started_at` → `finished_at`',
    '  (the workflow\'s start and close times in Temporal), printed by the same command. The benchmark checks every target was',
    '  applied and (a) that every file was written.',
    `- (a) \`cp -r\`: \`mkdir -p <dir>/c$i && cp -r <src files>/tree/. <dir>/c$i/\` for i = 1…${opts.targets}, one after the other, in one`,
    '  `sh`; "then sync" appends `sync`. A Handout target counts as done only once its files are durable: with `overwrite`,',
    '  one `sync -f` (syncfs of the whole file system) after the target\'s last write (`dist/store/tree/durability.js`), or for',
    '  a small write (at most 32 files in 16 folders, as in (b)) an fsync of each file before its rename and of each changed folder;',
    '  `cp -r` syncs nothing, so "cp -r, then sync" is the durable equivalent (context).',
    '- Between the measurements of (a) the copies and the targets\' files are deleted, then `sync`, then nothing is timed for',
    `  ${AFTER_DELETE_WAIT_MS / 1000} s: on ext4 without a journal, creating files within a minute of deleting many is slow`,
    '  (`recently_deleted()` in `fs/ext4/ialloc.c`; see `bench/reports/snapshot.md`). Odd runs time Handout first, even runs',
    '  last. `sync` runs before every timed command, so none pays for earlier writes. Everything is warm in the page cache:',
    '  the blobs were just written by the snapshot, the source folder by the copy.',
    '- (b) per run: the 1-target distribution (to a different target each time), then the',
    `  ${opts.fanout}-target one. The targets already hold the file from earlier runs; \`overwrite\` rewrites it anyway.`,
    '',
    '## Reproduce',
    '',
    '```',
    'npm run build',
    `npm run bench -- distribution${opts.argv.length ? ` ${opts.argv.join(' ')}` : ''}`,
    '```',
    '',
    'The tree is generated into `bench/work/distribution/source` (git-ignored) on the first run and reused while its spec is',
    `unchanged. (a) needs about ${ctx.needGiB.toFixed(0)} GiB free on that filesystem at its peak (checked at the start).`,
    '',
  ];
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------

async function main() {
  if (process.argv[2] === '--part') {
    process.stdout.write(`${JSON.stringify(await runPart(JSON.parse(process.argv[3])))}\n`);
    return;
  }
  const opts = parseArgs(process.argv.slice(2));
  opts.argv = process.argv.slice(2).filter((a) => a !== '--no-report');
  let waitMs = AFTER_DELETE_WAIT_MS;
  if (opts.smoke) {
    opts.report = false;
    SPEC = { ...SPEC, classes: SPEC.classes.map((c) => ({ ...c, count: Math.ceil(c.count / 100) })) };
    SOURCE = join(WORK, 'source-smoke');
    opts.targets = Math.min(opts.targets, 3);
    opts.fanout = Math.min(opts.fanout, 10);
    opts.runs = 1;
    opts.singles = 1;
    opts.partTimes = 3;
    opts.profileTargets = 10;
    waitMs = 0;
  }
  for (const built of ['dist/cli/main.js', 'dist/workflow-bundle.js', 'dist/activities/distribution.js']) {
    if (!existsSync(join(ROOT, built))) fail(`${built} is missing: run "npm run build" first`);
  }
  for (const tool of ['cp', 'sh', 'sync', 'uptime']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) fail(`${tool} is not on PATH`);
  }
  const { ensureTemporalBinaries } = require('../scripts/temporal-binaries.js');
  const cli = ensureTemporalBinaries({ needTestServer: false }).cli;
  mkdirSync(WORK, { recursive: true });
  const m = machine(cli);
  const t0 = performance.now();

  const files = tree.plan(SPEC);
  opts.treeFiles = files.length;
  const treeBytes = files.reduce((s, f) => s + f.size, 0);
  // Peak use: one side's targets (or copies), the source folder, its snapshot blobs and the generated tree.
  const needGiB = ((opts.targets + 3) * treeBytes) / 2 ** 30;
  const freeGiB = Number(commandOutput('df', ['-B1', '--output=avail', WORK])?.split('\n')[1] ?? 0) / 2 ** 30;
  if (freeGiB < needGiB + 5) fail(`about ${needGiB.toFixed(0)} GiB (+5 GiB margin) must be free on the filesystem of ${relative(ROOT, WORK)}, only ${freeGiB.toFixed(0)} GiB are`);
  if (existsSync(RUNS)) {
    log(`removing ${relative(ROOT, RUNS)} left by an earlier run, then waiting ${waitMs / 1000} s`);
    rmSync(RUNS, { recursive: true, force: true });
    syncDisk();
    await sleep(waitMs);
  }
  const generated = tree.ensureTree(SOURCE, SPEC);
  log(`${generated ? 'generated' : 'reusing'} the tree: ${files.length} files, ${MiB(treeBytes)}`);

  const h = await Handout.start(cli, join(RUNS, 'handout'));
  const big = [];
  const fans = [];
  let snapshotMs;
  try {
    // The server's default (the benchmark leaves HANDOUT_DISTRIBUTION_CONCURRENCY unset), from its own config code.
    opts.concurrency = require(join(APP, 'dist', 'runtime', 'config.js')).loadServerConfig({}).distributionConcurrency;
    log(`handout up at ${h.url}; creating ${1 + opts.targets + opts.fanout} instances`);
    await h.cli(['orgs', 'create', '--slug', 'bench', '-n', 'Bench']);
    await h.cli(['spaces', 'create', '-o', 'bench', '--slug', 'course', '-n', 'Course']);
    const ts = performance.now();
    await h.createInstances(['src']);
    await h.createInstances([...Array.from({ length: opts.targets }, (_, i) => `a${String(i + 1).padStart(3, '0')}`), ...Array.from({ length: opts.fanout }, (_, i) => `b${String(i + 1).padStart(3, '0')}`)]);
    log(`created the instances in ${s2(performance.now() - ts)} s`);
    const src = h.filesDir('src');
    await sh(`mkdir -p '${src}/tree' && cp -r '${SOURCE}/.' '${src}/tree/'`);
    mkdirSync(join(src, 'notice'));
    writeFileSync(join(src, 'notice', 'welcome.md'), SMALL_FILE);
    syncDisk();
    const snap = await h.cli(['snapshots', 'create', '-o', 'bench', '-s', 'course', '-i', 'src', '-n', 'stage', '--wait', '--timeout', String(TASK_TIMEOUT_S), '-f', 'json']);
    snapshotMs = snap.ms;
    log(`snapshot "stage" of the source: ${s2(snap.ms)} s`);

    for (let i = 1; i <= opts.runs; i++) {
      const r = await bigRound(h, opts, i, String(i), waitMs);
      big.push(r);
      log(
        `(a) run ${i}/${opts.runs}: handout ${s2(r.handout.ms)} s (task ${s2(r.handout.taskMs)} s), cp -r ${s2(r.cp.ms)} s, cp -r + sync ${s2(r.cpSync.ms)} s; ` +
          `ratio ${(r.handout.ms / r.cp.ms).toFixed(2)}×; load ${loadAverage()}`,
      );
      const f = await fanoutRound(h, opts);
      fans.push(f);
      log(
        `(b) run ${i}/${opts.runs}: ${opts.fanout} targets ${s2(f.many.ms)} s (task ${s2(f.many.taskMs)} s, ${ms1(f.many.taskMs / opts.fanout)} ms per target); ` +
          `1 target ${f.singles.map((s) => `${s2(s.ms)} s (task ${s2(s.taskMs)} s)`).join(', ')}; load ${loadAverage()}`,
      );
    }
  } finally {
    await h.close();
  }
  const stages = { big: big[0].handout.task.result.stage_sha256, small: fans[0].many.task.result.stage_sha256 };
  const parts = await partsRound(h.dataDir, stages, opts, waitMs);
  log(
    `parts: materialize 1 small file ${ms1(parts.smallFsync.ms)} ms (no fsync ${ms1(parts.smallNoFsync.ms)} ms), sync -f ${ms1(parts.syncF.ms)} ms; ` +
      `the big stage into one folder ${s2(parts.bigFsync.ms)} s (no fsync ${s2(parts.bigNoFsync.ms)} s), cp -r ${s2(parts.cpOne.ms)} s; load ${loadAverage()}`,
  );
  const profile = await profileRound(cli, opts.profileTargets);
  log(`profile: ${opts.profileTargets} targets, task ${s2(profile.taskMs)} s; main thread: ${Object.entries(profile.ms).sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, v]) => `${k} ${Math.round(v)} ms`).join(', ')}`);

  // ---- summarise
  const scen = (name, what, list, pick) => ({ name, what, ...stats(list.map(pick)) });
  const bigRows = [
    scen(`Handout, ${opts.targets} targets: CLI wall`, '`distribution distribute -p stage --files /files/tree --wait`', big, (r) => r.handout.ms),
    scen(`Handout, ${opts.targets} targets: task`, 'the task\'s started_at → finished_at', big, (r) => r.handout.taskMs),
    scen(`cp -r into ${opts.targets} folders`, '`cp -r` of the same folder, one copy after the other', big, (r) => r.cp.ms),
    scen(`cp -r into ${opts.targets} folders, then sync (context)`, 'the same, then `sync`: as durable as Handout\'s writes', big, (r) => r.cpSync.ms),
  ];
  const med = Object.fromEntries(bigRows.map((r) => [r.name, r.median]));
  const ratios = [
    { name: 'Handout CLI wall / cp -r', value: bigRows[0].median / bigRows[2].median, aim: AIMS.bigRatio },
    { name: 'Handout task / cp -r', value: bigRows[1].median / bigRows[2].median, aim: AIMS.bigRatio },
    { name: 'Handout CLI wall / (cp -r, then sync)', value: bigRows[0].median / bigRows[3].median },
    // Each run's own ratio (both sides timed back to back): steadier when the load changes between runs.
    { name: `median of each run's Handout CLI wall / cp -r (${big.map((r) => (r.handout.ms / r.cp.ms).toFixed(2)).join(', ')})`, value: stats(big.map((r) => r.handout.ms / r.cp.ms)).median, aim: AIMS.bigRatio },
  ];
  const singles = fans.flatMap((f) => f.singles);
  const fanRows = [
    scen(`Handout, ${opts.fanout} targets: CLI wall`, '`distribution distribute -p stage --files /files/notice/welcome.md --wait`', fans, (f) => f.many.ms),
    scen(`Handout, ${opts.fanout} targets: task`, 'the task\'s started_at → finished_at', fans, (f) => f.many.taskMs),
    scen('Handout, 1 target: CLI wall', 'the same to one target: the fixed cost', singles, (s) => s.ms),
    scen('Handout, 1 target: task', 'the task\'s started_at → finished_at', singles, (s) => s.taskMs),
  ];
  const fan = {
    amortisedTask: fanRows[1].median / opts.fanout,
    amortisedCli: fanRows[0].median / opts.fanout,
    fixedTask: fanRows[3].median,
    marginalTask: (fanRows[1].median - fanRows[3].median) / (opts.fanout - 1),
  };
  const medianBy = (list, pick) => {
    const sorted = [...list].sort((a, b) => pick(a) - pick(b));
    return sorted[Math.floor((sorted.length - 1) / 2)];
  };
  const bigMid = medianBy(big, (r) => r.handout.taskMs);
  const fanMid = medianBy(fans, (f) => f.many.taskMs);
  const singleMid = medianBy(singles, (s) => s.taskMs);
  const cpuRows = [
    { name: `(a) ${opts.targets} targets`, cli: bigMid.handout.ms, task: bigMid.handout.taskMs, handout: bigMid.handout.cpuHandout, temporal: bigMid.handout.cpuTemporal },
    { name: `(b) ${opts.fanout} targets`, cli: fanMid.many.ms, task: fanMid.many.taskMs, handout: fanMid.many.cpuHandout, temporal: fanMid.many.cpuTemporal },
    { name: '(b) 1 target', cli: singleMid.ms, task: singleMid.taskMs, handout: singleMid.cpuHandout, temporal: singleMid.cpuTemporal },
  ];
  const loads = [...big.flatMap((r) => [r.handout.load, r.loadCp]), ...fans.map((f) => f.many.load)];

  // ---- findings, computed from the numbers above
  const findings = [];
  const A = bigMid.phases.activities;
  const apply = A.applyStageToTarget;
  const cpPerFolder = med[`cp -r into ${opts.targets} folders`] / opts.targets;
  findings.push(
    `**(a)** ${ratios[0].value.toFixed(2)}× \`cp -r\` by CLI wall time (aim ≤ ${AIMS.bigRatio}×: ${ratios[0].value <= AIMS.bigRatio ? 'met' : 'not met'}), ` +
      `${ratios[2].value.toFixed(2)}× \`cp -r\` then \`sync\`. The ${opts.targets} target activities (applyStageToTarget) ran ${s2(apply.sumMs)} s in all, ` +
      `median ${s2(apply.medianMs)} s each, ${opts.concurrency} at a time, against ${s2(cpPerFolder)} s per folder for \`cp -r\` one at a time; ` +
      `from the first target scheduled to the last finished ${s2(bigMid.phases.targetsSpanMs)} s of the task's ${s2(bigMid.handout.taskMs)} s ` +
      `(buildStage ${s2(A.buildStage?.sumMs ?? 0)} s, publishStage ${s2(A.publishStage?.sumMs ?? 0)} s, audit ${s2(A.appendAudit?.sumMs ?? 0)} s). ` +
      `Handout and Temporal used ${(bigMid.handout.cpuHandout + bigMid.handout.cpuTemporal).toFixed(1)} CPU-seconds over the ${s2(bigMid.handout.ms)} s.`,
  );
  const F = fanMid.phases.activities;
  const S = singleMid.phases.activities;
  findings.push(
    `**(b)** ${ms1(fan.amortisedTask)} ms per target amortised over the task (aim ≤ ${AIMS.perTargetMs} ms: ${fan.amortisedTask <= AIMS.perTargetMs ? 'met' : 'not met'}), ` +
      `${ms1(fan.marginalTask)} ms marginal; the fixed cost of a distribution (1 target) is ${s2(fan.fixedTask)} s of task time and ${s2(fanRows[2].median)} s of CLI wall time. ` +
      `Each target activity ran a median ${ms1(F.applyStageToTarget.medianMs)} ms and waited a median ${ms1(F.applyStageToTarget.waitMedianMs)} ms for a worker; ` +
      `the workflow ran ${F['workflow task'].count} workflow tasks (median ${ms1(F['workflow task'].medianMs)} ms each, waiting ${ms1(F['workflow task'].waitMedianMs)} ms). ` +
      `With ${opts.concurrency} targets in flight, ${opts.fanout} targets × ${ms1(F.applyStageToTarget.medianMs)} ms / ${opts.concurrency} would be ` +
      `${s2((opts.fanout * F.applyStageToTarget.medianMs) / opts.concurrency)} s of pure activity time; the task took ${s2(fanMid.many.taskMs)} s. ` +
      `CPU: handout up ${fanMid.many.cpuHandout.toFixed(1)} s and the Temporal server ${fanMid.many.cpuTemporal.toFixed(1)} s over the ${s2(fanMid.many.ms)} s.`,
  );
  findings.push(
    `**Fixed cost** (1 target, task ${s2(singleMid.taskMs)} s): ` +
      Object.entries(S)
        .sort((a, b) => b[1].sumMs - a[1].sumMs)
        .map(([name, a]) => `${name} ${ms1(a.sumMs)} ms${a.count > 1 ? ` (${a.count}×)` : ''}`)
        .join(', ') +
      `; the CLI adds ${s2(singleMid.ms - singleMid.taskMs)} s (its Node start, the request that checks every target, \`--wait\` polling).`,
  );

  const partRow = (name, what, r) => ({ name, what, median: r.ms, min: r.min, max: r.max });
  const partRows = [
    partRow('materializeTree, small stage', 'the one-file stage into a fresh folder, as applyFiles does it (durable: a small write, so the file and its folder are fsync\'ed)', parts.smallFsync),
    partRow('materializeTree, small stage, no fsync', 'the same with `fsync: false`: no `sync -f`', parts.smallNoFsync),
    partRow('`sync -f` alone', '`syncFileSystem()`: `execFile(\'sync\', [\'-f\', dir])` from Node, nothing written before', parts.syncF),
    partRow(`materializeTree, ${MiB(treeBytes)} stage`, 'the big stage into one fresh folder, durable', parts.bigFsync),
    partRow(`materializeTree, ${MiB(treeBytes)} stage, no fsync`, 'the same with `fsync: false`', parts.bigNoFsync),
    partRow('`cp -r`, one folder', 'the same tree copied once by `cp -r`', parts.cpOne),
  ];
  findings.push(
    `**Parts alone**: one small file materialized durably takes ${ms1(parts.smallFsync.ms)} ms, of which making it durable (an fsync of the file and of its folder) ` +
      `is about ${ms1(parts.smallFsync.ms - parts.smallNoFsync.ms)} ms (without it ${ms1(parts.smallNoFsync.ms)} ms; a \`sync -f\` child, which a larger write uses, alone ${ms1(parts.syncF.ms)} ms). ` +
      `The big stage into one folder: ${s2(parts.bigFsync.ms)} s durable, ${s2(parts.bigNoFsync.ms)} s without fsync, \`cp -r\` ${s2(parts.cpOne.ms)} s.`,
  );

  const perTarget = (re) => Object.entries(profile.ms).filter(([k]) => re.test(k)).reduce((sum, [, v]) => sum + v, 0) / profile.n;
  findings.push(
    `**Main thread** (CPU profile, ${profile.n} targets, task ${s2(profile.taskMs)} s = ${ms1(profile.taskMs / profile.n)} ms per target): spawning \`sync -f\` children ` +
      `${ms1(perTarget(/sync -f/))} ms per target (a small write fsyncs its file and folder instead), the catalog ${ms1(perTarget(/PGlite|drizzle/))} ms per target, ` +
      `Temporal's worker ${ms1(perTarget(/Temporal/))} ms, idle ${pct(profile.ms[Object.keys(profile.ms).find((k) => k.startsWith('idle'))] ?? 0, profile.totalMs)} of the time ` +
      `(waiting for fsyncs, file writes in the worker threads and Temporal).`,
  );

  m.uptimeAfter = commandOutput('uptime', [], ROOT) ?? loadAverage();
  const text = report({
    m, opts, treeInfo: treeInfoOf(files), bigRows, ratios, fanRows, fan, bigPhases: bigMid.phases, fanPhases: fanMid.phases, singlePhases: singleMid.phases,
    cpuRows, partRows, profile, loads, findings, elapsedMs: performance.now() - t0, bigRuns: big.length, fanRuns: fans.length, singleRuns: singles.length, snapshotMs, needGiB,
  });
  process.stdout.write(`\n${text}`);
  if (opts.report) {
    mkdirSync(join(__dirname, 'reports'), { recursive: true });
    writeFileSync(REPORT, text);
    log(`\nreport written to ${relative(ROOT, REPORT)}`);
  }
}

function treeInfoOf(files) {
  const range = (b) => (b >= tree.MiB ? `${b / tree.MiB} MiB` : `${b / tree.KiB} KiB`);
  return {
    files: files.length,
    bytes: files.reduce((s, f) => s + f.size, 0),
    dirs: new Set(files.map((f) => f.rel.split('/').slice(0, 2).join('/'))).size + new Set(files.map((f) => f.rel.split('/')[0])).size,
    classes: SPEC.classes.map((c) => ({ name: c.name, count: c.count, range: `${range(c.min)}–${range(c.max)}`, bytes: files.filter((f) => f.cls === c.name).reduce((s, f) => s + f.size, 0) })),
  };
}

// A `--part` child must not clean up: the parent's build and run folders are still in use.
const isPart = process.argv[2] === '--part';
main().then(
  () => {
    if (!isPart) cleanup();
    process.exit(0);
  },
  (err) => {
    if (!isPart) cleanup();
    process.stderr.write(`Error: ${err instanceof Error ? (process.env.HANDOUT_DEBUG ? err.stack : err.message) : String(err)}\n`);
    process.exit(1);
  },
);
