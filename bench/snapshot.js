#!/usr/bin/env node
'use strict';
// Snapshot benchmark: how long Handout takes to snapshot and restore a large files tree, next to git
// and plain tools doing the same work on the same disk.
//
//   npm run build && npm run bench -- snapshot [--runs N] [--no-cold] [--profile-runs N] [--no-report]
//
// The tree: 20,000 files, about 500 MiB (bench/lib/tree.js), generated once into
// bench/work/snapshot/source. Each run starts a fresh `handout up` on a fresh data directory (empty
// blob store, no stat cache) and times, always from spawn to exit of one command:
//   full         `handout snapshots create -n full --wait` on an instance holding the tree
//                vs `git init && git add -A && git commit` on a copy, and `sha256sum` over the same files
//   incremental  200 files (1 %) rewritten, then `snapshots create -n incr --wait`
//                vs `git add -A && git commit` of the same change
//   restore      `snapshots restore -p incr --target-… <empty instance> --wait` vs `cp -r` into an empty folder
// Optionally the same "full" trio again with the page cache dropped before each command (cold), and
// then parts of Handout's work timed alone (bench/lib/snapshot-parts.js) to show where its time goes.
// Timings are measured here and only here; no test asserts them.

const { spawn, spawnSync } = require('node:child_process');
const { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, accessSync, constants, cpSync, statSync, openSync, closeSync } = require('node:fs');
const os = require('node:os');
const { basename, join, relative } = require('node:path');
const { performance } = require('node:perf_hooks');
const { freePorts, tail, waitUntil, stop, healthy, stats, commandOutput, loadAverage, track, killTracked } = require('./lib/util');
const tree = require('./lib/tree.js');

const ROOT = join(__dirname, '..');
const REPORT = join(__dirname, 'reports', 'snapshot.md');
const WORK = join(__dirname, 'work', 'snapshot');
let SOURCE = join(WORK, 'source');
let SPEC = tree.DEFAULT_SPEC;
const PARTS_SCRIPT = join(__dirname, 'lib', 'snapshot-parts.js');
// The build under test, copied here at the start: other engineers' `npm test` rebuilds dist/ while this runs.
const APP = join(WORK, 'build');
// What bin/handout.js sets for itself (libuv's thread pool size); the parts timed alone get the same.
const THREADPOOL = process.env.UV_THREADPOOL_SIZE || '16';
// Every run's scratch space; nothing in it is deleted before all measurements are done (the report's
// "How it is measured" says why: on ext4 without a journal, creating files soon after deleting many is slow).
const RUNS = join(WORK, 'runs');
// After deleting, how long to wait before timing anything (ext4 without a journal: see the report).
const AFTER_DELETE_WAIT_MS = 65_000;
let CHANGED_FILES = 200;
const AIMS = { full: 1.5, incremental: 1.0, restore: 1.3 };
/** A baseline's run counts as at full speed within this factor of its fastest run (see atFullSpeed). */
const FULL_SPEED = 1.25;
/**
 * File creation on the work filesystem is probed around each comparison: PROBE_FILES empty files created
 * in a fresh folder. On ext4 without a journal, for a minute or more after many files were deleted (by
 * anything on the machine: other engineers' test runs too), creating one costs 10–40× as much (see the
 * report's method), and every comparison here creates files on both sides: cp -r and a restore then
 * time the kernel's inode allocator, not the copy. A run whose probe took over SLOW_CREATE_US per file
 * (measured on the project's machines: 20–45 µs per file without a recent delete, 120–900 µs within a
 * few minutes of one) is left out of that comparison's judgement.
 */
const PROBE_FILES = 500;
const SLOW_CREATE_US = 100;
/**
 * An aim is met when the ratio of the medians and the ratio in the runs with the baseline at full speed
 * (and file creation at normal speed) both are within it; with no such run it is not judged, so not met.
 */
const aimMet = (ratio) => ratio.value <= ratio.aim && ratio.fast.runs > 0 && ratio.fast.value <= ratio.aim;
const TASK_TIMEOUT_S = 3600;

function parseArgs(argv) {
  const opts = { runs: 3, cold: true, profileRuns: undefined, report: true };
  const count = (flag, value, min) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) fail(`${flag} must be a whole number ≥ ${min}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--runs') opts.runs = count(arg, argv[++i], 1);
    else if (arg === '--profile-runs') opts.profileRuns = count(arg, argv[++i], 0);
    else if (arg === '--no-cold') opts.cold = false;
    else if (arg === '--no-report') opts.report = false;
    // A tree 100 times smaller, and no report: only to check that the benchmark works end to end.
    else if (arg === '--smoke') opts.smoke = true;
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write('Usage: npm run bench -- snapshot [--runs N] [--no-cold] [--profile-runs N] [--no-report] [--smoke]\n(--smoke: a tree 100 times smaller and no report, to check the benchmark itself)\n');
      process.exit(0);
    } else fail(`unknown option "${arg}" (try --help)`);
  }
  opts.profileRuns ??= opts.runs;
  return opts;
}

function fail(message) {
  process.stderr.write(`Error: ${message}\n`);
  process.exit(1);
}

const log = (line) => process.stderr.write(`${line}\n`);


function cleanup() {
  killTracked();
  if (!holdsWorkLock) return; // another run's folders: not ours to delete
  rmSync(RUNS, { recursive: true, force: true });
  rmSync(APP, { recursive: true, force: true });
  rmSync(LOCK, { force: true });
}

/**
 * One benchmark at a time on the work folder: a second run would time its commands beside the first
 * one's, and its start (freezing the build, removing leftovers) and its end would delete the other's
 * build and runs. The lock names its process; one whose process is gone is taken over.
 */
const LOCK = join(WORK, 'lock');
let holdsWorkLock = false;
function holdWorkLock() {
  for (;;) {
    try {
      writeFileSync(LOCK, String(process.pid), { flag: 'wx' });
      holdsWorkLock = true;
      return;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    const holder = Number(readFileSync(LOCK, 'utf8').trim());
    let alive = false;
    try {
      process.kill(holder, 0);
      alive = holder > 0;
    } catch (err) {
      alive = err.code === 'EPERM';
    }
    if (alive) fail(`another snapshot benchmark (pid ${holder}) is running on ${relative(ROOT, WORK)}; wait for it, or stop it`);
    rmSync(LOCK, { force: true });
  }
}

/** A fresh, empty scratch folder for one round. */
function roundDir(label) {
  const dir = join(RUNS, label);
  mkdirSync(dir, { recursive: true });
  return dir;
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

/** Runs a command to its end; resolves with its wall time (spawn → exit) and stdout, rejects on a non-zero exit. */
function run(cmd, args, { cwd = ROOT, env = process.env } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = track(spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr = (stderr + c).slice(-4000)));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const ms = performance.now() - t0;
      if (code === 0) resolve({ ms, stdout });
      else reject(new Error(`${[cmd, ...args].join(' ')} failed (${code ?? signal}):\n${stderr.trim() || stdout.trim()}`));
    });
  });
}

const sh = (script, cwd, env) => run('sh', ['-c', script], { cwd, env });

/** How long the Handout processes must have been idle before a baseline is timed, and the most the benchmark waits for that (`settle`). */
const SETTLE_QUIET_MS = 200;
const SETTLE_MAX_MS = 5000;

/** Flushes dirty pages, so that the next timed command does not pay for writes made before it. */
const syncDisk = () => spawnSync('sync');

/** µs per file to create PROBE_FILES empty files in the fresh folder `probe-<label>` of `dir` (kept until the end, like everything). */
function creationProbe(dir, label) {
  const probe = join(dir, `probe-${label}`);
  mkdirSync(probe);
  const t0 = performance.now();
  for (let i = 0; i < PROBE_FILES; i++) closeSync(openSync(join(probe, `f${i}`), 'wx'));
  return ((performance.now() - t0) * 1000) / PROBE_FILES;
}

/** The probes of a run (`r.createUs`), by key, with the comparison each stands before. */
const PROBES = { full: 'full', incr: 'incremental', restore: 'restore' };

/** A run's probes for the per-run table: µs per file, each over SLOW_CREATE_US marked as slowed. */
const creationCells = (r) => Object.keys(PROBES).map((k) => (r.createUs[k] > SLOW_CREATE_US ? `${Math.round(r.createUs[k])} *slowed*` : String(Math.round(r.createUs[k])))).join(' / ');

let canDropCaches = false;
function dropCaches() {
  syncDisk();
  writeFileSync('/proc/sys/vm/drop_caches', '3');
}

// ---------------------------------------------------------------------------------------------------
// Handout: a fresh `handout up` per run, driven through the real CLI.

class Handout {
  static async start(cli, dataDir) {
    if (!existsSync(join(APP, 'bin', 'handout.js'))) throw new Error(`the frozen build in ${relative(ROOT, APP)} is gone (deleted by another process meanwhile)`);
    const [port, temporalPort, uiPort] = await freePorts(3);
    mkdirSync(dataDir, { recursive: true });
    const env = { ...process.env, HANDOUT_DATA_DIR: dataDir, HANDOUT_PORT: String(port), HANDOUT_TEMPORAL_PORT: String(temporalPort), HANDOUT_TEMPORAL_UI_PORT: String(uiPort), TEMPORAL_CLI_PATH: cli, HANDOUT_TEMPORAL_INSTALL_DIR: process.env.HANDOUT_TEMPORAL_INSTALL_DIR || join(ROOT, '.temporal') };
    // Embedded mode with the PGlite catalog: nothing external, whatever the caller's shell has set.
    for (const name of ['TEMPORAL_ADDRESS', 'DATABASE_URL', 'HANDOUT_HOST', 'TEMPORAL_UI_URL', 'HANDOUT_TEST_ACTIVITY_DELAY_MS']) delete env[name];
    const child = track(spawn(process.execPath, [join(APP, 'bin', 'handout.js'), 'up'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }));
    const output = tail(child);
    try {
      await waitUntil(child, 'handout up', () => healthy(`http://127.0.0.1:${port}/healthz`), output, { timeoutMs: 180_000, pollMs: 100 });
    } catch (err) {
      await stop(child);
      throw err;
    }
    const key = readFileSync(join(dataDir, 'admin-api-key'), 'utf8').trim();
    return new Handout(child, output, dataDir, `http://127.0.0.1:${port}`, key, `127.0.0.1:${temporalPort}`);
  }

  constructor(child, output, dataDir, url, key, temporalAddress) {
    Object.assign(this, { child, output, dataDir, url, key, temporalAddress });
    this.env = { ...process.env, HANDOUT_API_URL: url, HANDOUT_API_KEY: key, HANDOUT_CONFIG: join(dataDir, '..', 'cli-config.yaml') };
    delete this.env.HANDOUT_CONTEXT;
  }

  /** `handout …args` as npm links it (the launcher bin/handout), timed from spawn to exit; `json` parses `-f json` output (always a list). */
  async cli(args) {
    const r = await run(join(APP, 'bin', 'handout'), args, { env: this.env }).catch((err) => {
      const state = this.child.exitCode !== null || this.child.signalCode !== null ? `exited (${this.child.exitCode ?? this.child.signalCode})` : 'running';
      throw new Error(`${err.message}\n[handout up ${state}; its last output:]\n${this.output()}`);
    });
    return { ms: r.ms, out: args.includes('json') ? JSON.parse(r.stdout) : r.stdout };
  }

  async setup() {
    await this.cli(['orgs', 'create', '--slug', 'bench', '-n', 'Bench']);
    await this.cli(['spaces', 'create', '-o', 'bench', '--slug', 'course', '-n', 'Course']);
    const ids = {};
    for (const slug of ['src', 'dst', 'idle']) {
      const { out } = await this.cli(['instances', 'create', '-o', 'bench', '-s', 'course', '-n', slug, '--slug', slug, '--wait', '--timeout', '600', '-f', 'json']);
      ids[slug] = out[0].result.instance_id;
      if (!/^[0-9a-f-]{36}$/.test(ids[slug] ?? '')) throw new Error(`instances create gave no instance_id: ${JSON.stringify(out)}`);
    }
    this.ids = ids;
  }

  filesDir(slug) {
    return join(this.dataDir, 'instances', this.ids[slug], 'files');
  }

  /** `snapshots create --wait`: the CLI's wall time and the finished task. */
  /**
   * Waits until `handout up` and its Temporal server have used no CPU for SETTLE_QUIET_MS (at most
   * SETTLE_MAX_MS), and returns how long that took. A snapshot answers before its stat cache is saved
   * (a few MB of JSON, tens of ms of CPU), so a baseline timed right after it would share the machine
   * with that save; each baseline waits for this first.
   */
  async settle() {
    const pids = [this.child.pid];
    const temporalPid = Number(readFileSync(join(this.dataDir, 'temporal.pid'), 'utf8').trim());
    if (temporalPid > 0) pids.push(temporalPid);
    const ticks = () => pids.reduce((sum, pid) => {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return sum + Number(fields[11]) + Number(fields[12]);
    }, 0);
    const t0 = performance.now();
    let last = ticks();
    let quietSince = performance.now();
    while (performance.now() - quietSince < SETTLE_QUIET_MS && performance.now() - t0 < SETTLE_MAX_MS) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const now = ticks();
      if (now - last > 1) quietSince = performance.now(); // more than one clock tick (10 ms) of CPU meanwhile
      last = now;
    }
    return performance.now() - t0;
  }

  async snapshot(instance, name) {
    const { ms, out } = await this.cli(['snapshots', 'create', '-o', 'bench', '-s', 'course', '-i', instance, '-n', name, '--wait', '--timeout', String(TASK_TIMEOUT_S), '-f', 'json']);
    return { ms, task: out[0] };
  }

  async restore(name, target) {
    const { ms, out } = await this.cli([
      'snapshots', 'restore', '-o', 'bench', '-s', 'course', '-i', 'src', '-p', name,
      '--target-org', 'bench', '--target-space', 'course', '--target-instance', target, '--wait', '--timeout', String(TASK_TIMEOUT_S), '-f', 'json',
    ]);
    return { ms, task: out[0] };
  }

  /**
   * Where a task's time went, from its Temporal history: the workflow from its first to its last event,
   * each activity from scheduled to completed (retries included), each child workflow likewise. A local
   * activity leaves only a marker with its completion time: the quick captures (run at the same time,
   * first thing in their workflow task) count from that task's start, each other one from the previous
   * marker's completion (the snapshot workflow runs them one after the other). The quick captures are
   * counted as captureFiles and captureTables, the steps they stand for.
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
    const phases = {};
    const add = (name, ms) => (phases[name] = (phases[name] ?? 0) + ms);
    const QUICK = { captureFilesQuickly: 'captureFiles', tablesIfUnchanged: 'captureTables' };
    let taskStarted = 0;
    let lastLocal = 0;
    for (const e of events) {
      if (e.workflowTaskStartedEventAttributes) taskStarted = at(e);
      const marker = e.markerRecordedEventAttributes;
      if (marker?.markerName === 'core_local_activity' && marker.details?.data?.payloads?.[0]) {
        const data = JSON.parse(Buffer.from(marker.details.data.payloads[0].data).toString('utf8'));
        const done = Number(data.complete_time.seconds) * 1000 + (data.complete_time.nanos ?? 0) / 1e6;
        add(QUICK[data.activity_type] ?? data.activity_type, done - (QUICK[data.activity_type] ? taskStarted : Math.max(taskStarted, lastLocal)));
        lastLocal = Math.max(lastLocal, done);
      }
      if (e.activityTaskScheduledEventAttributes) scheduled.set(id(e.eventId), { name: e.activityTaskScheduledEventAttributes.activityType.name, t: at(e) });
      const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes;
      if (done) {
        const s = scheduled.get(id(done.scheduledEventId));
        if (s) add(s.name, at(e) - s.t);
      }
      if (e.startChildWorkflowExecutionInitiatedEventAttributes) scheduled.set(id(e.eventId), { name: `child ${e.startChildWorkflowExecutionInitiatedEventAttributes.workflowType.name}`, t: at(e) });
      if (e.childWorkflowExecutionCompletedEventAttributes) {
        const s = scheduled.get(id(e.childWorkflowExecutionCompletedEventAttributes.initiatedEventId));
        if (s) add(s.name, at(e) - s.t);
      }
    }
    phases.workflow = at(events[events.length - 1]) - at(events[0]);
    return phases;
  }

  async close() {
    await this.connection?.close().catch(() => undefined);
    await stop(this.child);
  }
}

const taskMs = (task) => Date.parse(task.finished_at) - Date.parse(task.created_at);

// ---------------------------------------------------------------------------------------------------
// The baselines.

const GIT_ENV = {
  ...process.env,
  // No user or system configuration (it could turn on fsync, hooks, signing…); the identity via the environment.
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'Bench',
  GIT_AUTHOR_EMAIL: 'bench@example.org',
  GIT_COMMITTER_NAME: 'Bench',
  GIT_COMMITTER_EMAIL: 'bench@example.org',
};
// `git commit` with more than gc.auto (6,700) loose objects starts a detached `git gc --auto`, which
// would repack 500 MB in the background while the next command is timed: switched off.
const GIT = 'git -c gc.auto=0 -c maintenance.auto=false';
const gitFull = (dir) => sh(`${GIT} init -q && ${GIT} add -A && ${GIT} commit -q -m x`, dir, GIT_ENV);
const gitIncremental = (dir) => sh(`${GIT} add -A && ${GIT} commit -q -m y`, dir, GIT_ENV);
// Context: git made as durable as a snapshot, whose blobs, tree objects and catalog row are on disk before
// it answers: `core.fsync=committed` (git 2.36+) fsyncs the loose objects and the refs a commit writes.
const GIT_DURABLE = `${GIT} -c core.fsync=committed`;
const gitIncrementalDurable = (dir) => sh(`${GIT_DURABLE} add -A && ${GIT_DURABLE} commit -q -m y`, dir, GIT_ENV);
/**
 * A clone of `from`, for the durable commit of the same change: a local clone, whose objects are hard
 * links (cheap, and immutable), not `--shared`: through the original's object store as an alternate,
 * the clone would find the change's objects already written by the plain commit and write none (so it
 * did, 0.11 s against git's 0.23). Its index is refreshed a second after the checkout: entries written in
 * the same second as the index are "racily clean" to git, which would hash those files again at the next
 * `add` (unlike in the repository itself, whose files were copied seconds before its first commit).
 */
const gitClone = (from, to) => sh(`${GIT} clone -q '${from}' '${to}' && sleep 1 && ${GIT} -C '${to}' update-index -q --refresh`, ROOT, GIT_ENV);
const sha256sum = (dir) => sh('find . -type f -print0 | xargs -0 sha256sum > /dev/null', dir);
const cpTree = (from, to) => sh(`mkdir -p '${to}' && cp -r '${from}/.' '${to}/'`, ROOT);

// ---------------------------------------------------------------------------------------------------
// One run.

async function warmRound(cli, label, files, changed, changedAgain, copiesFirst) {
  const dir = roundDir(label);
  const handout = await Handout.start(cli, join(dir, 'handout'));
  try {
    await handout.setup();
    const src = handout.filesDir('src');
    await cpTree(SOURCE, src);
    await cpTree(SOURCE, join(dir, 'git'));
    const r = { createUs: {} };

    // A snapshot of an instance without files: the fixed cost of a snapshot task.
    syncDisk();
    r.empty = await handout.snapshot('idle', 'empty');
    r.emptyPhases = await handout.phases(r.empty.task.task_id);

    r.createUs.full = creationProbe(dir, 'full');
    syncDisk();
    r.sha256sum = await sha256sum(src);
    syncDisk();
    r.full = await handout.snapshot('src', 'full');
    r.fullPhases = await handout.phases(r.full.task.task_id);
    r.settledMs = [await handout.settle()];
    syncDisk();
    r.gitFull = await gitFull(join(dir, 'git'));
    await gitClone(join(dir, 'git'), join(dir, 'git-durable'));

    tree.applyChange(src, changed);
    tree.applyChange(join(dir, 'git'), changed);
    tree.applyChange(join(dir, 'git-durable'), changed);
    r.createUs.incr = creationProbe(dir, 'incr');
    syncDisk();
    r.incr = await handout.snapshot('src', 'incr');
    r.incrPhases = await handout.phases(r.incr.task.task_id);
    r.settledMs.push(await handout.settle());
    syncDisk();
    r.gitIncr = await gitIncremental(join(dir, 'git'));
    syncDisk();
    r.gitIncrDurable = await gitIncrementalDurable(join(dir, 'git-durable'));

    // The restore and its baselines each create 20,000 files, and what the file system's inode allocator
    // has been through (see the report's method) may weigh on whichever comes first: every other run puts
    // the copies first, so neither side always meets it.
    const restore = async () => {
      syncDisk();
      r.restore = await handout.restore('incr', 'dst');
      r.restorePhases = await handout.phases(r.restore.task.task_id);
      if (r.restore.task.result?.files_written !== files.length) throw new Error(`the restore wrote ${r.restore.task.result?.files_written} files, not ${files.length}`);
      r.settledMs.push(await handout.settle());
    };
    const copies = async () => {
      syncDisk();
      r.cp = await cpTree(src, join(dir, 'cp'));
      // Context: cp -r made as durable as Handout's restore (which syncs its file system at the end) by a `sync` after it.
      syncDisk();
      r.cpSync = await sh(`mkdir -p '${join(dir, 'cp-sync')}' && cp -r '${src}/.' '${join(dir, 'cp-sync')}/' && sync`, ROOT);
    };
    r.copiesFirst = copiesFirst;
    // Probed before and after: the allocator's state can change within the pair (a delete elsewhere).
    const before = creationProbe(dir, 'restore-before');
    if (copiesFirst) await copies().then(restore);
    else await restore().then(copies);
    r.createUs.restore = Math.max(before, creationProbe(dir, 'restore-after'));

    // Context: another 1 % changed and snapshotted right away, by a server that has just taken
    // snapshots (the incremental above is the first after the full one, with git's full commit between).
    // The server has had nothing to do since it settled after the restore.
    tree.applyChange(src, changedAgain, 'change-2');
    tree.applyChange(join(dir, 'git'), changedAgain, 'change-2');
    syncDisk();
    r.incrAgain = await handout.snapshot('src', 'incr-again');
    r.settledMs.push(await handout.settle());
    syncDisk();
    r.gitIncrAgain = await gitIncremental(join(dir, 'git'));

    // Context: that change undone, the instance put back to `incr` by a restore into itself (its safety
    // snapshot included; the files it still holds as they were are left alone), vs `git reset --hard`
    // to the commit before, which rewrites the files its index says differ.
    syncDisk();
    r.restoreBack = await handout.restore('incr', 'src');
    const back = r.restoreBack.task.result;
    if (back?.files_written + back?.files_unchanged !== files.length || back?.files_written < changedAgain.length) {
      throw new Error(`the restore into the changed instance wrote ${back?.files_written} files and left ${back?.files_unchanged}, not at least ${changedAgain.length} of ${files.length}`);
    }
    r.settledMs.push(await handout.settle());
    syncDisk();
    r.gitResetBack = await sh(`${GIT} reset -q --hard HEAD~1`, join(dir, 'git'), GIT_ENV);
    r.loadAfter = loadAverage();
    return r;
  } finally {
    await handout.close();
  }
}

async function coldRound(cli, label) {
  const dir = roundDir(label);
  const handout = await Handout.start(cli, join(dir, 'handout'));
  try {
    await handout.setup();
    const src = handout.filesDir('src');
    await cpTree(SOURCE, src);
    await cpTree(SOURCE, join(dir, 'git'));
    const r = {};
    dropCaches();
    r.sha256sum = await sha256sum(src);
    dropCaches();
    r.full = await handout.snapshot('src', 'full');
    r.settledMs = [await handout.settle()];
    dropCaches();
    r.gitFull = await gitFull(join(dir, 'git'));
    return r;
  } finally {
    await handout.close();
  }
}

/** Runs a round; a failed one is recorded (a finding, not noise to hide) and tried once more. */
const failures = [];
async function attempt(what, label, fn) {
  try {
    return await fn(label.replace(/[^a-z0-9]+/gi, '-'));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    failures.push({ what, label, message });
    log(`${label}: ${what} failed, trying once more: ${message.split('\n').slice(0, 3).join(' | ')}`);
    return fn(`${label.replace(/[^a-z0-9]+/gi, '-')}-retry`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Where Handout's time goes: parts timed alone, in a fresh process each (bench/lib/snapshot-parts.js).

async function part(name, args) {
  const env = { ...process.env, UV_THREADPOOL_SIZE: THREADPOOL, HANDOUT_BENCH_DIST: join(APP, 'dist') };
  const r = await run(process.execPath, [PARTS_SCRIPT, name, JSON.stringify(args)], { env });
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

async function profileRound(label, files, changed) {
  const dir = roundDir(label);
  {
    const t = join(dir, 'tree');
    await cpTree(SOURCE, t);
    const r = {};
    syncDisk();
    r.walk = await part('walk', { tree: t });
    syncDisk();
    r.walkSync = await part('walk-sync', { tree: t });
    syncDisk();
    r.nodeHash = await part('node-hash', { tree: t });
    syncDisk();
    r.noFsync = await part('snapshot', { tree: t, blobs: join(dir, 'blobs-nofsync'), fsync: false, cache: null });
    syncDisk();
    r.full = await part('snapshot', { tree: t, blobs: join(dir, 'blobs'), fsync: true, cache: join(dir, 'stat-cache.json') });
    tree.applyChange(t, changed);
    syncDisk();
    r.incr = await part('snapshot', { tree: t, blobs: join(dir, 'blobs'), fsync: true, cache: join(dir, 'stat-cache.json') });
    syncDisk();
    r.unchanged = await part('snapshot', { tree: t, blobs: join(dir, 'blobs'), fsync: true, cache: join(dir, 'stat-cache.json') });
    syncDisk();
    r.unchangedNoFsync = await part('snapshot', { tree: t, blobs: join(dir, 'blobs'), fsync: false, cache: join(dir, 'stat-cache.json') });
    syncDisk();
    r.unchangedWarm = await part('snapshot', { tree: t, blobs: join(dir, 'blobs'), fsync: true, cache: join(dir, 'stat-cache.json'), warm: true });
    syncDisk();
    r.unchangedProfile = await part('snapshot', { tree: t, blobs: join(dir, 'blobs'), fsync: true, cache: join(dir, 'stat-cache.json'), profile: true });
    syncDisk();
    r.keepAlive = await part('keep-alive', { blobs: join(dir, 'blobs') });
    syncDisk();
    r.cacheIo = await part('cache-io', { cache: join(dir, 'stat-cache.json') });
    syncDisk();
    r.materialize = await part('materialize', { blobs: join(dir, 'blobs'), tree: r.incr.rootTree, target: join(dir, 'out-fsync'), fsync: true });
    syncDisk();
    r.materializeNoFsync = await part('materialize', { blobs: join(dir, 'blobs'), tree: r.incr.rootTree, target: join(dir, 'out-nofsync'), fsync: false });
    if (r.materialize.files !== files.length) throw new Error(`materialize wrote ${r.materialize.files} files, not ${files.length}`);
    return r;
  }
}

// ---------------------------------------------------------------------------------------------------
// Machine and report.

/**
 * Copies the build under test (bin/, dist/, scripts/, package.json) to APP, so that a rebuild of dist/ by
 * someone's `npm test` cannot change the code mid-run; node_modules still resolve from the project. A
 * copy taken while a build was writing is noticed (the build's files changed meanwhile) and taken again.
 */
function freezeBuild() {
  const stamp = () => ['dist/cli/main.js', 'dist/workflow-bundle.js', 'dist/store/tree/snapshot.js'].map((f) => statSync(join(ROOT, f)).mtimeMs).join(',');
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
  const device = (d) => commandOutput('stat', ['-c', '%d', d]);
  // An ext3/ext4 journal shows as /proc/fs/jbd2/<device>-<inode>.
  let journal;
  try {
    journal = readdirSync('/proc/fs/jbd2').some((name) => name.startsWith(`${basename(source ?? '')}-`));
  } catch {
    journal = fstype === 'ext4' ? false : undefined;
  }
  return { source, fstype, options, size: df[0], avail: df[1], journal, tmpSame: device(dir) === device(os.tmpdir()) };
}

/** Median wall time (ms) of `node -e 0` in `env`: what any Node command, the CLI's included, costs before its first line runs. */
function nodeStartMs(env) {
  const times = [];
  for (let i = 0; i < 11; i++) {
    const t0 = performance.now();
    spawnSync(process.execPath, ['-e', '0'], { env });
    times.push(performance.now() - t0);
  }
  return stats(times).median;
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
    nodeStartMs: nodeStartMs(process.env),
    // Node 20 reads and parses the extra certificates at start, whatever the command does with TLS.
    nodeStartWithoutExtraCertsMs: process.env.NODE_EXTRA_CA_CERTS ? nodeStartMs(Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_EXTRA_CA_CERTS'))) : undefined,
    git: commandOutput('git', ['--version'], ROOT) ?? 'unknown',
    coreutils: (commandOutput('sha256sum', ['--version'], ROOT) ?? 'unknown').split('\n')[0],
    temporal: (commandOutput(cli, ['--version'], ROOT) ?? 'unknown').split('\n')[0],
    handout: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version,
    builtAt: freezeBuild(),
    commit: commit ? `${commit}${dirty ? ' (with uncommitted changes in src/, scripts/, bin/ or package.json)' : ''}` : 'unknown',
    date: new Date().toISOString(),
    fs: filesystemOf(WORK),
    loadBefore: loadAverage(),
    uptimeBefore: commandOutput('uptime', []) ?? 'unknown',
    previous: previousReport(),
  };
}

/**
 * The medians and ratios of the report this run replaces (parsed from its tables), to show what changed;
 * undefined when there is none or it cannot be read.
 */
function previousReport() {
  let text;
  try {
    text = readFileSync(REPORT, 'utf8');
  } catch {
    return undefined;
  }
  const section = (title) => text.split(/^## /m).find((part) => part.startsWith(title)) ?? '';
  const table = (body) =>
    body
      .split('\n')
      .filter((line) => line.startsWith('| ') && !line.startsWith('| scenario') && !line.startsWith('| ratio'))
      .map((line) => line.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.trim()));
  const medians = Object.fromEntries(table(section('Results')).map((cells) => [cells[0], Number(cells[2])]));
  const ratios = Object.fromEntries(table(section('Ratios')).map((cells) => [cells[0], Number(cells[1].replace('×', ''))]));
  const head = /HEAD at the start: ([0-9a-f]+)/.exec(text)?.[1];
  const date = /- date: (\S+);/.exec(text)?.[1];
  return Object.keys(medians).length ? { medians, ratios, head, date } : undefined;
}

const s2 = (ms) => (ms / 1000).toFixed(2);
const pct = (a, b) => `${Math.round((100 * a) / b)} %`;
const MiB = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

function report(ctx) {
  const { m, opts, treeInfo, rows, ratios, perRun, creation, unsteady, coldRows, coldRatios, details, breakdown, parts, findings, elapsedMs, warmRuns, coldRuns, settled } = ctx;
  const cell = (text) => text.replace(/\|/g, '\\|');
  const row = (r) => `| ${cell(r.name)} | ${cell(r.what)} | ${s2(r.median)} | ${s2(r.min)} | ${s2(r.max)} |`;
  const ratioRow = (r) =>
    `| ${r.name} | ${r.value.toFixed(2)}× | ${r.fast ? (r.fast.runs ? `${r.fast.value.toFixed(2)}× (${r.fast.runs} of ${warmRuns})` : `not judged (0 of ${warmRuns})`) : ''} | ${r.aim ? `≤ ${r.aim.toFixed(1)}×` : '(context)'} | ${r.aim ? (aimMet(r) ? 'met' : 'not met') : ''} |`;
  const lines = [
    '# Snapshot benchmark',
    '',
    'How long Handout takes to snapshot a 20,000-file, ~500 MiB files tree (full, then after 1 % of the files',
    'changed) and to restore it into an empty instance, next to `git`, `sha256sum` and `cp -r` doing the same work',
    'on the same disk. Produced by `bench/snapshot.js`.',
    '',
    '## Machine',
    '',
    `- cores (\`nproc\`): ${m.cores}; CPU: ${m.cpu}; memory: ${m.memoryGiB} GiB`,
    `- OS: ${m.os}`,
    `- filesystem of the work directory (\`bench/work/snapshot\`): ${m.fs.fstype}${m.fs.journal === false ? ' **without a journal** (no `/proc/fs/jbd2` entry)' : m.fs.journal ? ' with a journal' : ''} on ${m.fs.source} (${m.fs.options}), ${m.fs.size} (${m.fs.avail} free);`,
    `  \`os.tmpdir()\` is ${m.fs.tmpSame ? 'on the same filesystem' : 'on another filesystem'}. Everything (source tree, Handout's data directory with`,
    '  its instance files and blob store, git repositories, copies) lives on this one filesystem.',
    `- Node.js: ${m.node}; ${m.git}; ${m.coreutils}; Temporal CLI: ${m.temporal}`,
    `- Node.js start (\`node -e 0\`, median of 11): ${Math.round(m.nodeStartMs)} ms` +
      (m.nodeStartWithoutExtraCertsMs === undefined
        ? ''
        : `; ${Math.round(m.nodeStartWithoutExtraCertsMs)} ms without \`NODE_EXTRA_CA_CERTS\`, which this environment sets (\`${process.env.NODE_EXTRA_CA_CERTS}\`): Node 20 parses those certificates at start. The benchmark leaves the environment as it is; the launcher \`bin/handout\` starts a client command without that variable (the CLI trusts the file itself for an https API), \`handout up\` with it`),
    `- Handout: ${m.handout}; HEAD at the start: ${m.commit}; the build measured is \`dist/\` as built at ${m.builtAt}, copied with`,
    '  `bin/`, `scripts/` and `package.json` to `bench/work/snapshot/build` at the start and run from there (other engineers\'',
    `  \`npm test\` rebuilds \`dist/\` meanwhile); \`UV_THREADPOOL_SIZE\` ${THREADPOOL} (what \`bin/handout.js\` sets) for Handout and the parts alone`,
    `- date: ${m.date}; the measurements took ${(elapsedMs / 60000).toFixed(1)} min (then the run folders are deleted)`,
    `- load average (1, 5, 15 min) before / after: ${m.loadBefore} / ${m.loadAfter}; \`uptime\` before: \`${m.uptimeBefore}\`, after: \`${m.uptimeAfter}\`;`,
    '  at the end of each run in the table "What the Handout tasks reported". The machine (2 cores) is shared with other',
    '  engineers\' test runs: both sides of each comparison run back to back inside each run, so other work hits',
    '  them alike, but the absolute numbers are only as quiet as the machine was.',
    '',
    '## The tree',
    '',
    `${treeInfo.files.toLocaleString('en')} files, ${MiB(treeInfo.bytes)} (${treeInfo.bytes.toLocaleString('en')} bytes) in ${treeInfo.dirs} folders (20 × 15 leaf folders`,
    'under 20 top-level ones): ' + treeInfo.classes.map((c) => `${c.count.toLocaleString('en')} ${c.name} files of ${c.range} (${MiB(c.bytes)})`).join(', ') + '.',
    'Contents are an AES-256-CTR keystream keyed by the file number (deterministic, incompressible). The incremental',
    `step rewrites ${treeInfo.changed.files} files chosen by a fixed seed (${treeInfo.changed.nonSmall} of them not small; ${MiB(treeInfo.changed.bytes)} in all) with new`,
    'content of the same size, identically on both sides.',
    '',
    `## Results (warm page cache, ${warmRuns} runs, seconds)`,
    '',
    '| scenario | what is timed | median | min | max |',
    '|---|---|---:|---:|---:|',
    ...rows.map(row),
    '',
    '## Ratios (Handout / baseline, medians)',
    '',
    `The aims are judged on both the ratio of the medians and the median of the ratios taken within the runs in which`,
    `the baseline ran at full speed (within ${FULL_SPEED}× of its fastest run) and the file system created files at normal`,
    `speed (a probe right before the comparison, and for the restore right after it too, at most ${SLOW_CREATE_US} µs per`,
    'file; see "File creation"): a baseline slowed in some runs by the state the machine was in cannot carry a ratio',
    'under its aim. With no such run, the aim is not judged, and so not met.',
    '',
    '| ratio | value | in the runs with the baseline at full speed | aim | |',
    '|---|---:|---:|---:|---|',
    ...ratios.map(ratioRow),
    '',
    '### The same ratios, taken within each run',
    '',
    'Each ratio of one run\'s Handout time to the same run\'s baseline (timed right after it; in runs marked "copies',
    'first", `cp -r` and `cp -r`, then `sync` ran right before the restore), and their median.',
    '',
    `| run | ${perRun.names.join(' | ')} | file creation, µs per file: full / incremental / restore | load average after the run |`,
    `|---|${perRun.names.map(() => '---:|').join('')}---|---|`,
    ...perRun.runs.map((r) => `| ${r.run}${r.copiesFirst ? ' (copies first)' : ''} | ${r.values.map((v) => `${v.toFixed(2)}×`).join(' | ')} | ${r.createUs} | ${r.load} |`),
    `| median | ${perRun.medians.map((v) => `${v.toFixed(2)}×`).join(' | ')} | | |`,
    '',
    ...(unsteady.length
      ? [
          `**Unsteady baselines:** ${unsteady.map((r) => `${r.name} took ${s2(r.min)}–${s2(r.max)} s`).join(', ')} (slowest over twice the fastest): other work on the`,
          'machine, or the state it was in, disturbed them (file creation is probed, see "File creation"; on a freshly started',
          'virtual machine, writing new page cache is also slower until its memory has been used once), and a ratio over their',
          'median is only as good as that median. Read the per-run ratios, and the runs with the lowest load, with that in mind.',
          '',
        ]
      : []),
    '## File creation',
    '',
    `Before each comparison the benchmark creates ${PROBE_FILES} empty files in a fresh folder of the work directory and`,
    'times it (for the restore also right after its comparison, the slower of the two counts). On ext4 without a journal',
    'creating a file right after many were deleted costs 10–40× as much (see "How it is measured"), and every comparison',
    'here creates files on both sides; a run whose probe took over ' + SLOW_CREATE_US + ' µs per file is left out of that',
    `comparison's judgement (the cell marked *slowed*). Medians over the runs: ${creation.summary}; ${creation.slowed} of ${warmRuns}`,
    'runs had a probe slowed.',
    '',
    ...(m.previous
      ? [
          `## Compared with the previous report (HEAD ${m.previous.head ?? 'unknown'}, ${m.previous.date ?? 'date unknown'})`,
          '',
          'Medians in seconds, as that report gave them and as measured now; the machine\'s load differed (see both reports).',
          '',
          '| scenario | before | now | now / before |',
          '|---|---:|---:|---:|',
          ...rows.filter((r) => m.previous.medians[r.name] !== undefined).map((r) => `| ${cell(r.name)} | ${m.previous.medians[r.name].toFixed(2)} | ${s2(r.median)} | ${(r.median / 1000 / m.previous.medians[r.name]).toFixed(2)} |`),
          '',
          '| ratio | before | now | aim |',
          '|---|---:|---:|---:|',
          ...ratios.filter((r) => m.previous.ratios[r.name] !== undefined).map((r) => `| ${r.name} | ${m.previous.ratios[r.name].toFixed(2)}× | ${r.value.toFixed(2)}× | ${r.aim ? `≤ ${r.aim.toFixed(1)}×` : '(context)'} |`),
          '',
        ]
      : []),
    ...(coldRows
      ? [
          `## Cold page cache (${coldRuns} runs, seconds)`,
          '',
          'The same "full" comparison with `sync; echo 3 > /proc/sys/vm/drop_caches` before each command, on a fresh',
          '`handout up` and fresh copies. Dropping the cache also evicts Handout\'s and git\'s own code, so the CLI\'s',
          'start-up (and the server\'s first reads) are cold too.',
          '',
          '| scenario | what is timed | median | min | max |',
          '|---|---|---:|---:|---:|',
          ...coldRows.map(row),
          '',
          '| ratio | value | aim | |',
          '|---|---:|---:|---|',
          ...coldRatios.map(ratioRow),
          '',
        ]
      : ['## Cold page cache', '', 'Not run (`--no-cold`, or `/proc/sys/vm/drop_caches` is not writable here): every run above is warm.', '']),
    '## What the Handout tasks reported',
    '',
    '| run | full: files / bytes / hashed / reused | incremental: files / hashed / reused (reused share) | restore: files written / removed, safety snapshot | load average after the run |',
    '|---|---|---|---|---|',
    ...details.map(
      (d) =>
        `| ${d.run} | ${d.full.files} / ${d.full.bytes} / ${d.full.hashed_files} / ${d.full.reused_files} | ${d.incr.files} / ${d.incr.hashed_files} / ${d.incr.reused_files} (${((100 * d.incr.reused_files) / d.incr.files).toFixed(1)} %) | ${d.restore.files_written} / ${d.restore.files_removed}, \`${d.restore.safety_snapshot}\` | ${d.load} |`,
    ),
    '',
    '## Where Handout\'s time goes',
    '',
    '### Inside the tasks (from their Temporal histories, medians, seconds)',
    '',
    'Each activity from scheduled to completed, the workflow from its first to its last history event, and "CLI,',
    'API and wait" = the CLI\'s wall time minus the workflow (Node start of the CLI, the API call that starts the',
    'workflow, and `--wait`: a long poll, `GET /tasks/:id?wait_ms=…`, answered once the workflow has closed).',
    '',
    '| task | CLI wall | workflow | ' + breakdown.columns.join(' | ') + ' | CLI, API and wait |',
    '|---|---:|---:|' + breakdown.columns.map(() => '---:|').join('') + '---:|',
    ...breakdown.rows.map((b) => `| ${b.name} | ${s2(b.cli)} | ${s2(b.workflow)} | ${breakdown.columns.map((c) => (b.phases[c] === undefined ? '' : s2(b.phases[c]))).join(' | ')} | ${s2(b.cli - b.workflow)} |`),
    '',
    ...(parts
      ? [
          `### Parts timed alone (${parts.runs} run${parts.runs === 1 ? '' : 's'}, median seconds; each a fresh Node process on a copy of the tree, no CLI, API or Temporal)`,
          '',
          '| part | what is timed | median | min | max |',
          '|---|---|---:|---:|---:|',
          ...parts.rows.map(row),
          '',
          'CPU time of some of these parts (medians, seconds): the main thread, and all threads of the process.',
          '',
          '| part | wall | CPU, main thread | CPU, all threads |',
          '|---|---:|---:|---:|',
          ...parts.threads.map((t) => `| ${t.name} | ${s2(t.wall)} | ${s2(t.main)} | ${s2(t.all)} |`),
          '',
          `Main-thread time of "snapshotTree unchanged" by category (V8 CPU profile of one more such walk in a fresh process, sampled every 250 µs; medians, ms; the walk took ${s2(parts.cpu.wallMs)} s):`,
          '',
          '| category | ms | share |',
          '|---|---:|---:|',
          ...parts.cpu.rows.map((c) => `| ${c.name} | ${Math.round(c.ms)} | ${pct(c.ms, parts.cpu.totalMs)} |`),
          '',
        ]
      : []),
    '### Findings',
    '',
    ...findings.map((f) => `- ${f}`),
    '',
    '## Failed runs',
    '',
    ...(failures.length === 0
      ? ['None: every run succeeded at the first attempt.']
      : ['A failed run is retried once and is not part of the timings. Each is listed here:', '', ...failures.map((f) => `- ${f.label}, ${f.what}: ${f.message.split('\n').filter(Boolean).slice(0, 4).join(' / ').replace(/\|/g, '\\|')}`)]),
    '',
    '## How it is measured',
    '',
    '- Every number is the wall time of one command, from `spawn` to its exit, timed by the benchmark (Node',
    '  `performance.now()`); medians, minimum and maximum over the runs. Nothing else runs in the benchmark meanwhile.',
    '- Each run starts a fresh `node bin/handout.js up` (of the frozen copy, see Machine) (embedded Temporal on free ports, PGlite catalog, fresh',
    '  `HANDOUT_DATA_DIR`: empty blob store, no stat cache). Start-up, `orgs/spaces/instances create` and putting the',
    '  tree in place are not timed: the tree is copied with `cp -r` straight into',
    '  `<data>/instances/<instance id>/files/` (the id from `instances create --wait -f json`, `result.instance_id`), and',
    '  into a plain folder for git. `sync` runs before every timed command, so none pays for earlier writes; the',
    '  files were just written, so their pages are in the page cache (warm) unless the cold variant drops it.',
    `- Before each baseline timed after a Handout command, the benchmark waits until \`handout up\` and its Temporal server have used`,
    `  no CPU for ${SETTLE_QUIET_MS} ms (a snapshot answers before its stat cache is saved, which then takes tens of ms of CPU): that wait`,
    `  took ${Math.round(settled.median)} ms in the median, ${Math.round(settled.max)} ms at most (capped at ${SETTLE_MAX_MS} ms), and is not timed.`,
    '- `handout` is the command as npm links it, the launcher `bin/handout` of the frozen copy, run directly.',
    '- **full**: `handout snapshots create -o bench -s course -i src -n full --wait -f json` (CLI wall time, which',
    '  includes the CLI\'s own Node start and its wait for the task) vs `git init -q && git add -A && git commit -q -m x` in a',
    '  fresh repository holding a copy of the same tree, and vs `find . -type f -print0 | xargs -0 sha256sum > /dev/null`',
    '  over the instance\'s files.',
    `- **incremental**: the same ${treeInfo.changed.files} files rewritten in the instance and in the git copy (not timed), then`,
    '  `snapshots create -n incr --wait` vs `git add -A && git commit -q -m y`. Context: the same change committed by',
    '  git made as durable as a snapshot (`-c core.fsync=committed`: its loose objects and refs fsynced), in a local',
    '  clone of the repository made after its full commit (objects hard-linked, not shared: it writes the change\'s',
    '  objects itself; index refreshed a second later so that no entry is "racily clean"), timed right after the plain commit.',
    '- **restore**: `snapshots restore -p incr --target-org bench --target-space course --target-instance dst --wait`',
    '  into an empty instance vs `cp -r <files>/. <empty folder>/`. **A Handout restore first takes a safety snapshot of',
    '  the target** (here of an empty instance, taken by the restore\'s own workflow in its first workflow task), and that is part of the',
    '  measured operation. Handout checks the restore wrote every file. Every other run (marked "copies first") times',
    '  `cp -r` and `cp -r`, then `sync` before the restore instead of after it: each side creates 20,000 files, and',
    '  whichever comes first meets the file system as the run left it.',
    `- **incremental again** (context): at the end of the run, ${treeInfo.changed.files} files chosen by another fixed seed rewritten on both`,
    '  sides, then `snapshots create -n incr-again --wait` vs `git add -A && git commit`. The incremental above is the',
    '  first snapshot after the full one, with git\'s full commit (seconds of other work) in between; this one follows',
    '  a server that has just worked, and the restore and two copies of the tree that ran before it, which slow both',
    '  sides. The aim is judged on the incremental above.',
    '- **restore of a changed instance** (context): then that change undone on both sides: `snapshots restore -p incr',
    '  --target-instance src --wait` (the instance into itself; its safety snapshot first, then only the files that differ',
    '  from the snapshot are written, the others left alone on the word of the stat cache) vs `git reset -q --hard HEAD~1`',
    '  (git rewrites the files its index says differ). Handout checks the restore wrote at least the changed files and',
    '  left the rest.',
    '- git runs with no user or system configuration (`GIT_CONFIG_GLOBAL=/dev/null`, `GIT_CONFIG_NOSYSTEM=1`), identity',
    '  from `GIT_AUTHOR_*`/`GIT_COMMITTER_*`, and `-c gc.auto=0 -c maintenance.auto=false`: otherwise the first commit',
    '  (20,000+ loose objects > `gc.auto` 6,700) starts a detached `git gc --auto` that repacks the whole repository',
    '  in the background, after the timed command has returned, and would slow whatever is timed next.',
    '- Durability differs: every blob and tree object Handout stores is on disk before its name exists (a snapshot\'s',
    '  new blobs are written to temp files, made durable together by one `sync -f` (syncfs) of the blob store\'s file',
    '  system, or an `fdatasync` each when only a few are new, then linked into place and their folders synced), and',
    '  the catalog row is committed after that; a restore ends with one `sync -f` of the target\'s file system before',
    '  its activity completes; the stat cache is written without a sync (a checksum makes a torn one count as empty).',
    '  git 2.39 by default does not sync loose objects (`core.fsync` default leaves them out): the row "git incremental,',
    '  durable" turns that on; `cp -r` and `sha256sum` sync nothing. The row "cp -r,',
    '  then sync" shows what a restore-equivalent durable copy costs; it is context, not an aim. `sync` and `sync -f`',
    '  flush the whole machine or file system, so other work on it can add to that row and to the restore.',
    '- "empty snapshot" is `snapshots create` of an instance with no files: the fixed cost of a snapshot task (CLI,',
    '  API, Temporal, four activities) that every snapshot pays, whatever its size.',
    '- Nothing is deleted until every measurement is done (each run keeps its own folder under `bench/work/snapshot/runs`,',
    '  removed at the end), and leftovers of an interrupted run are removed first, followed by a minute\'s wait.',
    ...(m.fs.fstype === 'ext4' && m.fs.journal === false
      ? [
          '  The reason: on ext4 without a journal, creating an inode skips inodes deleted in the last 60 s (6 min while',
          '  their inode-table block is still dirty), checking them one by one (`recently_deleted()` in `fs/ext4/ialloc.c`).',
          '  While this benchmark was being built, `cp -r` of the tree right after deleting a copy of it took 5–8 s, all of',
          '  it kernel time, and `perf record` put over 70 % of it in `recently_deleted()`; without a recent delete it took',
          '  0.5–1 s. Creating 20,000 files (blobs, restored files, git objects, copies) is what every timed operation',
          '  here does, so deleting between runs would add seconds of noise to whichever came first. Other engineers\'',
          '  test runs delete files on this filesystem too, which this benchmark cannot prevent: it probes file creation',
          '  around each comparison instead, and leaves a run whose probe was slowed out of that comparison\'s judgement',
          '  (see "File creation"). On 2026-12-07, in runs started within a minute of 40,000 files being deleted on this',
          '  filesystem, `cp -r` of the tree took 2.2–2.5 s and the restore 1.9–2.9 s (restore / cp -r 0.92×), and',
          '  `perf record` of `cp -r` and of `materializeTree` in that state put 57–70 % of their CPU in',
          '  `recently_deleted()` and the block lookups it makes: both sides timed the allocator, not the copy.',
        ]
      : []),
    '- The parts timed alone call the compiled store code (`dist/store/tree/snapshot.js` `snapshotTree`,',
    '  `dist/store/tree/materialize.js` `materializeTree`, `dist/store/blob-store.js`, `dist/store/stat-cache.js`) directly,',
    '  from `bench/lib/snapshot-parts.js`, on a fresh copy of the tree, in the order listed. A fresh process pays for',
    '  compiling its code and starting the worker threads; the "warm" row walks once untimed first, as a running',
    '  server has. CPU is the time the process\'s threads spent on a core (user + system), from `/proc` and',
    '  `process.cpuUsage()`: the main thread, and all threads (the file-system worker threads, V8\'s compiler and',
    '  garbage-collector threads, libuv\'s thread pool).',
    '',
    '## Reproduce',
    '',
    '```',
    'npm run build',
    `npm run bench -- snapshot${opts.argv.length ? ` ${opts.argv.join(' ')}` : ''}`,
    '```',
    '',
    `The tree is generated into \`bench/work/snapshot/source\` (git-ignored) on the first run and reused while its spec is`,
    `unchanged. Nothing is deleted before the end, so the runs need about ${ctx.needGiB.toFixed(0)} GiB free on that filesystem (checked at the start).`,
    '',
  ];
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  opts.argv = process.argv.slice(2).filter((a) => a !== '--no-report');
  if (opts.smoke) {
    opts.report = false;
    SPEC = { ...tree.DEFAULT_SPEC, classes: tree.DEFAULT_SPEC.classes.map((c) => ({ ...c, count: Math.ceil(c.count / 100) })) };
    SOURCE = join(WORK, 'source-smoke');
    CHANGED_FILES = 2;
  }
  for (const built of ['dist/cli/main.js', 'dist/workflow-bundle.js', 'dist/store/tree/snapshot.js']) {
    if (!existsSync(join(ROOT, built))) fail(`${built} is missing: run "npm run build" first`);
  }
  for (const tool of ['git', 'sha256sum', 'cp', 'find', 'xargs', 'sync']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) fail(`${tool} is not on PATH`);
  }
  const { ensureTemporalBinaries } = require('../scripts/temporal-binaries.js');
  const cli = ensureTemporalBinaries({ needTestServer: false }).cli;
  mkdirSync(WORK, { recursive: true });
  holdWorkLock();
  // Leftovers of an earlier, interrupted run are deleted first, and then nothing is timed for a minute:
  // on ext4 without a journal, creating files soon after many were deleted is slow. Before the build is
  // frozen (machine()), so nothing of it can go with them.
  if (existsSync(RUNS)) {
    const left = readdirSync(RUNS).map((name) => `${name} (${new Date(statSync(join(RUNS, name)).mtimeMs).toISOString()})`);
    log(`removing ${relative(ROOT, RUNS)} left by an earlier run (${left.join(', ') || 'empty'}), then waiting ${AFTER_DELETE_WAIT_MS / 1000} s`);
    rmSync(RUNS, { recursive: true, force: true });
    syncDisk();
    await new Promise((r) => setTimeout(r, AFTER_DELETE_WAIT_MS));
  }
  const m = machine(cli);
  const t0 = performance.now();
  try {
    accessSync('/proc/sys/vm/drop_caches', constants.W_OK);
    canDropCaches = true;
  } catch {
    canDropCaches = false;
  }
  if (opts.cold && !canDropCaches) {
    log('cannot write /proc/sys/vm/drop_caches: the cold variant is skipped');
    opts.cold = false;
  }

  log(`snapshot benchmark: ${opts.runs} warm runs${opts.cold ? `, ${opts.runs} cold runs` : ''}, ${opts.profileRuns} profile runs; work directory ${relative(ROOT, WORK)} (${m.fs.fstype} on ${m.fs.source})`);
  const files = tree.plan(SPEC);
  const changed = tree.changeSet(files, CHANGED_FILES);
  const changedAgain = tree.changeSet(files, CHANGED_FILES, 8);
  const tg = performance.now();
  const generated = tree.ensureTree(SOURCE, SPEC);
  log(generated ? `generated the tree in ${s2(performance.now() - tg)} s` : 'the tree is already generated; reusing it');
  const classes = SPEC.classes.map((c) => {
    const range = (b) => (b >= tree.MiB ? `${b / tree.MiB} MiB` : `${b / tree.KiB} KiB`);
    return { name: c.name, count: c.count, range: `${range(c.min)}–${range(c.max)}`, bytes: files.filter((f) => f.cls === c.name).reduce((s, f) => s + f.size, 0) };
  });
  const treeInfo = {
    files: files.length,
    bytes: files.reduce((s, f) => s + f.size, 0),
    dirs: new Set(files.map((f) => f.rel.split('/').slice(0, 2).join('/'))).size + new Set(files.map((f) => f.rel.split('/')[0])).size,
    classes,
    changed: { files: changed.length, bytes: changed.reduce((s, f) => s + f.size, 0), nonSmall: changed.filter((f) => f.cls !== 'small').length },
  };

  const needGiB = opts.runs * 4.1 + (opts.cold ? opts.runs * 2.1 : 0) + opts.profileRuns * 3.1;
  const freeGiB = Number(commandOutput('df', ['-B1', '--output=avail', WORK])?.split('\n')[1] ?? 0) / 2 ** 30;
  if (freeGiB < needGiB + 2) fail(`about ${needGiB.toFixed(0)} GiB must be free on the filesystem of ${relative(ROOT, WORK)} (nothing is deleted before the end), only ${freeGiB.toFixed(0)} GiB are`);

  // Rounds interleaved (warm, cold, parts, warm, …) so that other work on the machine spreads over all alike.
  const warm = [];
  const cold = [];
  const prof = [];
  for (let i = 1; i <= Math.max(opts.runs, opts.profileRuns); i++) {
    if (i <= opts.runs) {
      const label = `warm run ${i}/${opts.runs}`;
      const r = await attempt('warm run', label, (dir) => warmRound(cli, dir, files, changed, changedAgain, i % 2 === 0));
      warm.push(r);
      log(
        `${label}: full ${s2(r.full.ms)} s, git ${s2(r.gitFull.ms)} s, sha256sum ${s2(r.sha256sum.ms)} s; incremental ${s2(r.incr.ms)} s, git ${s2(r.gitIncr.ms)} s (durable ${s2(r.gitIncrDurable.ms)} s); ` +
          `restore ${s2(r.restore.ms)} s, cp -r ${s2(r.cp.ms)} s (cp -r + sync ${s2(r.cpSync.ms)} s); empty snapshot ${s2(r.empty.ms)} s; incremental again ${s2(r.incrAgain.ms)} s, git ${s2(r.gitIncrAgain.ms)} s; ` +
          `restore back ${s2(r.restoreBack.ms)} s (${r.restoreBack.task.result.files_written} written, ${r.restoreBack.task.result.files_unchanged} left alone), git reset ${s2(r.gitResetBack.ms)} s; load ${loadAverage()}`,
      );
    }
    if (opts.cold && i <= opts.runs) {
      const label = `cold run ${i}/${opts.runs}`;
      const r = await attempt('cold run', label, (dir) => coldRound(cli, dir));
      cold.push(r);
      log(`${label}: full ${s2(r.full.ms)} s, git ${s2(r.gitFull.ms)} s, sha256sum ${s2(r.sha256sum.ms)} s; load ${loadAverage()}`);
    }
    if (i <= opts.profileRuns) {
      const label = `parts run ${i}/${opts.profileRuns}`;
      const r = await attempt('parts run', label, (dir) => profileRound(dir, files, changed));
      prof.push(r);
      log(
        `${label}: snapshotTree ${s2(r.full.ms)} s (no fsync ${s2(r.noFsync.ms)} s), node hash ${s2(r.nodeHash.ms)} s, incremental ${s2(r.incr.ms)} s, ` +
          `unchanged ${s2(r.unchanged.ms)} s, materialize ${s2(r.materialize.ms)} s (no fsync ${s2(r.materializeNoFsync.ms)} s); load ${loadAverage()}`,
      );
    }
  }

  // ---- summarise
  const S = (list, pick) => stats(list.map(pick));
  const scen = (name, what, list, pick) => ({ name, what, ...S(list, pick) });
  const rows = [
    scen('Handout full snapshot', '`snapshots create --wait`, empty blob store and stat cache', warm, (r) => r.full.ms),
    scen('git full', '`git init && git add -A && git commit`, fresh repository', warm, (r) => r.gitFull.ms),
    scen('sha256sum', '`find … | xargs -0 sha256sum` over the same files', warm, (r) => r.sha256sum.ms),
    scen('Handout incremental snapshot', `\`snapshots create --wait\` after ${CHANGED_FILES} files changed`, warm, (r) => r.incr.ms),
    scen('git incremental', '`git add -A && git commit` of the same change', warm, (r) => r.gitIncr.ms),
    scen('git incremental, durable (context)', '`git -c core.fsync=committed add -A && … commit` of the same change, in a clone of the repository: as durable as a snapshot', warm, (r) => r.gitIncrDurable.ms),
    scen('Handout restore', '`snapshots restore --target-instance <empty> --wait` (includes the safety snapshot)', warm, (r) => r.restore.ms),
    scen('cp -r', '`cp -r` of the tree into an empty folder', warm, (r) => r.cp.ms),
    scen('cp -r, then sync (context)', '`cp -r … && sync`: a copy as durable as the restore', warm, (r) => r.cpSync.ms),
    scen('Handout empty snapshot (context)', '`snapshots create --wait` of an instance with no files', warm, (r) => r.empty.ms),
    scen('Handout incremental again (context)', `as the incremental, ${CHANGED_FILES} files (another seed) changed, at the end of the run`, warm, (r) => r.incrAgain.ms),
    scen('git incremental again (context)', '`git add -A && git commit` of that change', warm, (r) => r.gitIncrAgain.ms),
    scen('Handout restore of a changed instance (context)', '`snapshots restore -p incr` into the instance itself, after that change (includes the safety snapshot)', warm, (r) => r.restoreBack.ms),
    scen('git reset --hard (context)', '`git reset --hard HEAD~1`: the same change undone', warm, (r) => r.gitResetBack.ms),
  ];
  const med = Object.fromEntries(rows.map((r) => [r.name, r.median]));
  // An aim is judged on the medians and, as well, on the runs in which the baseline ran at full speed
  // (within FULL_SPEED of its fastest run) and the file system created files at normal speed (its probe
  // within SLOW_CREATE_US): a baseline slowed by the machine's state in some runs (cp -r after the file
  // system has just deleted much) must not carry a ratio under its aim.
  const atFullSpeed = (handout, baseline, probe) => {
    const fastest = Math.min(...warm.map(baseline));
    const runs = warm.filter((r) => baseline(r) <= fastest * FULL_SPEED && probe(r) <= SLOW_CREATE_US);
    return { value: runs.length ? stats(runs.map((r) => handout(r) / baseline(r))).median : NaN, runs: runs.length };
  };
  const ratios = [
    { name: 'full / git', value: med['Handout full snapshot'] / med['git full'], aim: AIMS.full, fast: atFullSpeed((r) => r.full.ms, (r) => r.gitFull.ms, (r) => r.createUs.full) },
    { name: 'full / sha256sum', value: med['Handout full snapshot'] / med.sha256sum },
    { name: 'incremental / git', value: med['Handout incremental snapshot'] / med['git incremental'], aim: AIMS.incremental, fast: atFullSpeed((r) => r.incr.ms, (r) => r.gitIncr.ms, (r) => r.createUs.incr) },
    { name: 'incremental / git, durable (context)', value: med['Handout incremental snapshot'] / med['git incremental, durable (context)'] },
    { name: 'restore / cp -r', value: med['Handout restore'] / med['cp -r'], aim: AIMS.restore, fast: atFullSpeed((r) => r.restore.ms, (r) => r.cp.ms, (r) => r.createUs.restore) },
    { name: 'restore / (cp -r, then sync)', value: med['Handout restore'] / med['cp -r, then sync (context)'] },
    { name: 'incremental again / git (context)', value: med['Handout incremental again (context)'] / med['git incremental again (context)'] },
    { name: 'restore of a changed instance / git reset --hard (context)', value: med['Handout restore of a changed instance (context)'] / med['git reset --hard (context)'] },
  ];
  let coldRows;
  let coldRatios;
  if (cold.length) {
    coldRows = [
      scen('Handout full snapshot, cold', 'as above, page cache dropped first', cold, (r) => r.full.ms),
      scen('git full, cold', 'as above, page cache dropped first', cold, (r) => r.gitFull.ms),
      scen('sha256sum, cold', 'as above, page cache dropped first', cold, (r) => r.sha256sum.ms),
    ];
    coldRatios = [
      { name: 'full / git, cold', value: coldRows[0].median / coldRows[1].median },
      { name: 'full / sha256sum, cold', value: coldRows[0].median / coldRows[2].median },
    ];
  }

  const details = warm.map((r, i) => ({ run: i + 1, full: r.full.task.result, incr: r.incr.task.result, restore: r.restore.task.result, load: r.loadAfter }));

  // Both sides of a comparison run back to back within a run, so a ratio taken within each run is
  // less exposed to other work on the machine than the ratio of two medians taken across runs.
  const perRunDefs = [
    ['full / git', (r) => r.full.ms / r.gitFull.ms],
    ['incremental / git', (r) => r.incr.ms / r.gitIncr.ms],
    ['incremental / git, durable (context)', (r) => r.incr.ms / r.gitIncrDurable.ms],
    ['restore / cp -r', (r) => r.restore.ms / r.cp.ms],
    ['restore / (cp -r, then sync)', (r) => r.restore.ms / r.cpSync.ms],
    ['incremental again / git (context)', (r) => r.incrAgain.ms / r.gitIncrAgain.ms],
  ];
  const perRun = {
    names: perRunDefs.map(([name]) => name),
    runs: warm.map((r, i) => ({ run: i + 1, copiesFirst: r.copiesFirst, values: perRunDefs.map(([, f]) => f(r)), createUs: creationCells(r), load: r.loadAfter })),
    medians: perRunDefs.map(([, f]) => stats(warm.map(f)).median),
  };
  const creation = {
    summary: Object.entries(PROBES).map(([k, name]) => `${name} ${Math.round(stats(warm.map((r) => r.createUs[k])).median)} µs`).join(', '),
    slowed: warm.filter((r) => Object.values(r.createUs).some((us) => us > SLOW_CREATE_US)).length,
  };
  // Baselines whose slowest run took over twice their fastest: a sign that other work disturbed them.
  const unsteady = rows.filter((r) => ['git full', 'git incremental', 'git incremental, durable (context)', 'cp -r', 'cp -r, then sync (context)', 'sha256sum'].includes(r.name) && r.max > 2 * r.min);

  const columns = ['captureFiles', 'captureTables', 'captureApps', 'commitSnapshot', 'child snapshotWorkflow', 'applyFiles', 'applyTables', 'applyApps', 'appendAudit'];
  // A restore's safety snapshot: a child workflow in histories from before it was taken in the restore's
  // own workflow; there, its captures (at the same time) and then its commit.
  const safetyOf = (ph) => ph['child snapshotWorkflow'] ?? Math.max(ph.captureFiles ?? 0, ph.captureTables ?? 0, ph.captureApps ?? 0) + (ph.commitSnapshot ?? 0);
  const phaseRow = (name, list, pickRun, pickPhases) => {
    const phases = {};
    for (const c of columns) {
      const values = list.map((r) => pickPhases(r)[c]).filter((v) => v !== undefined);
      if (values.length) phases[c] = stats(values).median;
    }
    return { name, cli: S(list, (r) => pickRun(r).ms).median, workflow: S(list, (r) => pickPhases(r).workflow).median, phases };
  };
  const breakdownRows = [
    phaseRow('empty snapshot', warm, (r) => r.empty, (r) => r.emptyPhases),
    phaseRow('full snapshot', warm, (r) => r.full, (r) => r.fullPhases),
    phaseRow('incremental snapshot', warm, (r) => r.incr, (r) => r.incrPhases),
    phaseRow('restore', warm, (r) => r.restore, (r) => r.restorePhases),
  ];
  const usedColumns = columns.filter((c) => breakdownRows.some((b) => b.phases[c] !== undefined));
  const breakdown = { columns: usedColumns, rows: breakdownRows };

  let parts;
  if (prof.length) {
    const p = (name, what, pick) => scen(name, what, prof, pick);
    parts = {
      runs: prof.length,
      rows: [
        p('walk only', 'list every folder, `lstat` every entry (Node, async, 32 in flight per folder)', (r) => r.walk.ms),
        p('walk only, synchronous', 'the same with synchronous calls in one thread: what the walk\'s worker threads do, alone', (r) => r.walkSync.ms),
        p('read + SHA-256 in Node', 'every file read in 1 MiB chunks and hashed, 16 files in flight; nothing written', (r) => r.nodeHash.ms),
        p('snapshotTree, no fsync', 'full snapshot into a fresh blob store with `fsync: false`, no stat cache', (r) => r.noFsync.ms),
        p('snapshotTree (as captureFiles)', 'full snapshot into a fresh blob store, fsync on, fresh stat cache', (r) => r.full.ms),
        p('snapshotTree incremental', `the same store and cache after ${CHANGED_FILES} files changed`, (r) => r.incr.ms),
        p('snapshotTree unchanged', 'again, nothing changed: the fixed cost of a walk with a warm stat cache', (r) => r.unchanged.ms),
        p('snapshotTree unchanged, no fsync', 'the same with `fsync: false`', (r) => r.unchangedNoFsync.ms),
        p('snapshotTree unchanged, warm', 'the same after one untimed walk in the same process (code compiled, worker threads running)', (r) => r.unchangedWarm.ms),
        p('keepAlive every blob', '`keepAlive` on each of the store\'s blobs, 62 per call: what checking every reused blob would cost (lstat; utimes only if over an hour old); a walk does it only for entries of a cache from before version 3', (r) => r.keepAlive.ms),
        p('stat cache load + save', '`StatCache.open` of the 20,000-entry cache, one entry recorded, one `save()` (JSON, checksum, rename)', (r) => r.cacheIo.ms),
        p('materializeTree (as applyFiles)', 'whole tree from the blob store into an empty folder, fsync on', (r) => r.materialize.ms),
        p('materializeTree, no fsync', 'the same with `fsync: false`', (r) => r.materializeNoFsync.ms),
      ],
    };
    const cpuOf = (name, pick) => ({ name, main: stats(prof.map((r) => pick(r).cpuMs.main ?? 0)).median, all: stats(prof.map((r) => pick(r).cpuMs.all)).median, wall: stats(prof.map((r) => pick(r).ms)).median });
    parts.threads = [
      cpuOf('walk only, synchronous', (r) => r.walkSync),
      cpuOf('snapshotTree (as captureFiles)', (r) => r.full),
      cpuOf('snapshotTree incremental', (r) => r.incr),
      cpuOf('snapshotTree unchanged', (r) => r.unchanged),
      cpuOf('snapshotTree unchanged, warm', (r) => r.unchangedWarm),
      cpuOf('keepAlive every blob', (r) => r.keepAlive),
      cpuOf('stat cache load + save', (r) => r.cacheIo),
      cpuOf('materializeTree (as applyFiles)', (r) => r.materialize),
    ];
    const cpuNames = [...new Set(prof.flatMap((r) => Object.keys(r.unchangedProfile.cpu.ms)))];
    parts.cpu = {
      wallMs: stats(prof.map((r) => r.unchangedProfile.ms)).median,
      totalMs: stats(prof.map((r) => r.unchangedProfile.cpu.totalMs)).median,
      rows: cpuNames.map((name) => ({ name, ms: stats(prof.map((r) => r.unchangedProfile.cpu.ms[name] ?? 0)).median })).sort((a, b) => b.ms - a.ms),
    };
  }

  // ---- findings, computed from the numbers above
  const findings = [];
  const b = Object.fromEntries(breakdownRows.map((r) => [r.name, r]));
  const fullB = b['full snapshot'];
  const incrB = b['incremental snapshot'];
  const restB = b.restore;
  const emptyB = b['empty snapshot'];
  const others = (x) => (x.phases.captureTables ?? 0) + (x.phases.captureApps ?? 0) + (x.phases.commitSnapshot ?? 0);
  const verdict = (ratio) =>
    aimMet(ratio)
      ? 'met'
      : ratio.value > ratio.aim
        ? 'not met'
        : ratio.fast.runs
          ? `not met: ${ratio.fast.value.toFixed(2)}× in the runs with the baseline at full speed`
          : 'not judged: file creation was slowed in every run with the baseline at full speed';
  const R = Object.fromEntries(ratios.map((r) => [r.name, r]));
  findings.push(
    `**Full snapshot** (${R['full / git'].value.toFixed(2)}× git, aim ${verdict(R['full / git'])}): captureFiles (walk, hashing, blob writes) takes ${s2(fullB.phases.captureFiles)} s of the CLI's ${s2(fullB.cli)} s ` +
      `(${pct(fullB.phases.captureFiles, fullB.cli)}: the local activity of the first workflow task for its budget, then the heartbeating activity, which resumes from the stat cache); captureTables ${s2(fullB.phases.captureTables ?? 0)} s runs at the same time (captureApps and commitSnapshot run as local activities in the last workflow task); CLI, API, Temporal and the wait ${s2(fullB.cli - fullB.phases.captureFiles)} s.`,
  );
  if (parts) {
    const P = Object.fromEntries(parts.rows.map((r) => [r.name, r.median]));
    const full = P['snapshotTree (as captureFiles)'];
    const nf = P['snapshotTree, no fsync'];
    const hash = P['read + SHA-256 in Node'];
    findings.push(
      `Alone, snapshotTree on the same tree takes ${s2(full)} s; with \`fsync: false\` ${s2(nf)} s, so syncing each of the ${(treeInfo.files + treeInfo.dirs + 1).toLocaleString('en')} blobs and tree objects ` +
        `costs ${s2(full - nf)} s (${pct(full - nf, full)}). Reading and hashing alone in Node (async reads, hashing on the main thread) takes ${s2(hash)} s (sha256sum: ${s2(med.sha256sum)} s); ` +
        (nf >= hash
          ? `writing the copy into the blob store (temp file, write, link: ${treeInfo.files.toLocaleString('en')} new files) adds ${s2(nf - hash)} s.`
          : `the walk without fsync is faster than that (${s2(nf)} s, with the copy into the blob store): files up to 1 MiB are read, hashed and stored by worker threads with synchronous calls, on both cores.`),
    );
    const cpu = parts.cpu;
    const busy = cpu.totalMs - (cpu.rows.find((c) => c.name.startsWith('idle'))?.ms ?? 0);
    const top = cpu.rows.filter((c) => !c.name.startsWith('idle')).slice(0, 4);
    const T = Object.fromEntries(parts.threads.map((t) => [t.name, t]));
    const gitIncr = med['git incremental'];
    findings.push(
      `**Incremental** (${R['incremental / git'].value.toFixed(2)}× git, aim ${verdict(R['incremental / git'])}): the CLI takes ${s2(incrB.cli)} s, of which captureFiles ${s2(incrB.phases.captureFiles)} s ` +
        `and everything else ${s2(incrB.cli - incrB.phases.captureFiles)} s; git's whole \`add -A && commit\` takes ${s2(gitIncr)} s. ` +
        `A snapshot of an instance with no files takes ${s2(emptyB.cli)} s (${(emptyB.cli / gitIncr).toFixed(1)}× git's incremental commit): Node start of the CLI (${s2(m.nodeStartMs)} s here, see Machine), the API call, ` +
        `a Temporal workflow of one workflow task with four local activities (${s2(emptyB.workflow)} s) and the wait for its end` +
        (emptyB.cli > gitIncr * AIMS.incremental ? '. So no file walk, however fast, can meet the aim: the fixed cost of a snapshot task is already over it.' : '.'),
    );
    findings.push(
      `The walk itself: alone, snapshotTree with the stat cache takes ${s2(P['snapshotTree incremental'])} s after the change and ${s2(P['snapshotTree unchanged'])} s with nothing changed in a fresh process ` +
        `(${s2(P['snapshotTree unchanged, no fsync'])} s without fsync), ${s2(P['snapshotTree unchanged, warm'])} s in a warm one, about ${Math.round((1000 * P['snapshotTree unchanged, warm']) / treeInfo.files)} µs per unchanged file ` +
        `(CPU: main thread ${s2(T['snapshotTree unchanged, warm'].main)} s, all threads ${s2(T['snapshotTree unchanged, warm'].all)} s). Its floor: a synchronous readdir + lstat of the tree in one thread takes ${s2(P['walk only, synchronous'])} s ` +
        `(a folder the stat cache recorded is taken whole, and a reused file's blob is not looked at: checking every blob, as \`keepAlive\` does for entries of an old cache, would add ${s2(P['keepAlive every blob'])} s); loading and saving the stat cache ${s2(P['stat cache load + save'])} s. ` +
        `The main thread is busy ${pct(busy, cpu.totalMs)} of the profiled walk: ` +
        top.map((c) => `${c.name} ${Math.round(c.ms)} ms`).join(', ') +
        `. In the server (beside the API, the PGlite catalog, the Temporal worker and the Temporal server) captureFiles took ${s2(incrB.phases.captureFiles)} s.`,
    );
    const mat = P['materializeTree (as applyFiles)'];
    const matNf = P['materializeTree, no fsync'];
    findings.push(
      `**Restore** (${R['restore / cp -r'].value.toFixed(2)}× cp -r, aim ${verdict(R['restore / cp -r'])}): applyFiles takes ${s2(restB.phases.applyFiles)} s of ${s2(restB.cli)} s; the safety snapshot of the empty target ` +
        `${s2(safetyOf(restB.phases))} s, applyTables and applyApps ${s2((restB.phases.applyTables ?? 0) + (restB.phases.applyApps ?? 0))} s at the same time as applyFiles, CLI, API and the wait ${s2(restB.cli - restB.workflow)} s. ` +
        `Alone, materializeTree takes ${s2(mat)} s (CPU: main thread ${s2(T['materializeTree (as applyFiles)'].main)} s, all threads ${s2(T['materializeTree (as applyFiles)'].all)} s), ${s2(matNf)} s without its final syncfs (so that costs ${s2(mat - matNf)} s); ` +
        `cp -r ${s2(med['cp -r'])} s, cp -r then sync ${s2(med['cp -r, then sync (context)'])} s.` +
        (restB.cli - restB.phases.applyFiles > med['cp -r'] * AIMS.restore ? ` Everything but applyFiles already takes ${s2(restB.cli - restB.phases.applyFiles)} s, more than the aim allows for the whole restore (${s2(med['cp -r'] * AIMS.restore)} s).` : ''),
    );
  }

  m.loadAfter = loadAverage();
  m.uptimeAfter = commandOutput('uptime', []) ?? 'unknown';
  const text = report({ needGiB, m, opts, treeInfo, rows, ratios, perRun, creation, unsteady, coldRows, coldRatios, details, breakdown, parts, findings, elapsedMs: performance.now() - t0, warmRuns: warm.length, coldRuns: cold.length, settled: stats([...warm, ...cold].flatMap((r) => r.settledMs ?? [])) });
  process.stdout.write(`\n${text}`);
  if (opts.report) {
    mkdirSync(join(__dirname, 'reports'), { recursive: true });
    writeFileSync(REPORT, text);
    log(`\nreport written to ${relative(ROOT, REPORT)}`);
  }
}

main().then(
  () => {
    cleanup();
    process.exit(0);
  },
  (err) => {
    cleanup();
    process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
