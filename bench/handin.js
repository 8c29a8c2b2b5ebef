#!/usr/bin/env node
'use strict';
// Hand-in benchmark: the last seconds before a deadline, and the automatic collection at a deadline,
// on a real `handout up` (embedded Temporal dev server, PGlite catalog, worker and API in one process).
//
//   npm run build && npm run bench -- handin [--students N] [--window S] [--concurrency N] [--lead S] [--lead2 S] [--no-report] [--smoke]
//
// One fresh data directory; N students (default 500), each with a user, an API key and a student
// instance. Two group assignments, one after the other: hw1 (for the rush), then hw2 (for the collection).
//   rush        every student hands in hw1 once, spread uniformly over the last `--window` seconds (10)
//               before its due time, at most `--concurrency` requests in flight (one per student), each with the
//               student's own key: accepted (201) / rejected (why) / lost (an accepted receipt missing
//               from the catalog or the status grid afterwards) / duplicated (more rows than receipts),
//               and each hand-in's HTTP round trip.
//   collection  nobody hands in hw2: from its due time until all N are `auto-collected`, by polling the
//               status grid, and by the audit log's commit times.
// Then where the time goes, from each student workflow's Temporal history.
// Timings are measured here and only here; no test asserts them.

const { spawn, spawnSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const { cpSync, createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const { join, relative } = require('node:path');
const { performance } = require('node:perf_hooks');
const { freePorts, tail, waitUntil, stop, healthy, commandOutput, loadAverage, track, killTracked, sleep } = require('./lib/util');

const ROOT = join(__dirname, '..');
const REPORT = join(__dirname, 'reports', 'handin.md');
const WORK = join(__dirname, 'work', 'handin');
// The build under test, copied at the start: other engineers' `npm test` rebuilds dist/ while this runs.
const APP = join(WORK, 'build');
const RUN = join(WORK, 'run');
// What `handout up` printed (stdout and stderr), kept after the run: an internal error's details are there.
const SERVER_LOG = join(WORK, 'handout-up.log');
const ORG = 'bench';
const SPACE = 'course';
const SETUP_CONCURRENCY = 24;

function parseArgs(argv) {
  const opts = { students: 500, windowS: 10, concurrency: undefined, leadS: undefined, lead2S: undefined, report: true, smoke: false };
  const num = (flag, value, min) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) fail(`${flag} must be a whole number ≥ ${min}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--students') opts.students = num(arg, argv[++i], 1);
    else if (arg === '--window') opts.windowS = num(arg, argv[++i], 1);
    else if (arg === '--concurrency') opts.concurrency = num(arg, argv[++i], 1);
    else if (arg === '--lead') opts.leadS = num(arg, argv[++i], 10);
    else if (arg === '--lead2') opts.lead2S = num(arg, argv[++i], 10);
    else if (arg === '--no-report') opts.report = false;
    // 20 students and no report: only to check that the benchmark works end to end.
    else if (arg === '--smoke') opts.smoke = true;
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(
        'Usage: npm run bench -- handin [--students N] [--window S] [--concurrency N] [--lead S] [--lead2 S] [--no-report] [--smoke]\n' +
          '  --students N     students (default 500)\n' +
          '  --window S       hw1 hand-ins are spread over the last S seconds before its due time (default 10)\n' +
          '  --concurrency N  hand-in requests in flight at most (default: one per student, as 500 students\n' +
          '                   on 500 machines; a lower bound holds requests back past their planned time)\n' +
          '  --lead S         hw1 is due S seconds after it is created (default 60 + 0.4 s per student): its release\n' +
          '                   must be done before the window opens\n' +
          '  --lead2 S        hw2 (created after the rush) is due S seconds after it is created (default: twice\n' +
          '                   hw1\'s release time + 30 s)\n' +
          '  --smoke          20 students, no report: checks the benchmark itself\n',
      );
      process.exit(0);
    } else fail(`unknown option "${arg}" (try --help)`);
  }
  if (opts.smoke) {
    opts.students = 20;
    opts.report = false;
    opts.leadS ??= 30;
  }
  opts.leadS ??= Math.round(60 + 0.4 * opts.students);
  // Each student is their own client: nothing in front of the server holds a hand-in back.
  opts.concurrency ??= opts.students;
  return opts;
}

function fail(message) {
  process.stderr.write(`Error: ${message}\n`);
  process.exit(1);
}

const log = (line) => process.stderr.write(`${line}\n`);

function cleanup() {
  killTracked();
  rmSync(RUN, { recursive: true, force: true });
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

// ---------------------------------------------------------------------------------------------------
// Small tools.

/** Runs `fn(item)` for every item with at most `n` at once; results in input order. */
async function mapLimit(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

/** A counting semaphore whose freed slot goes straight to the longest waiter (so it never exceeds `n`). */
function limiter(n) {
  let active = 0;
  let peak = 0;
  const waiting = [];
  const run = async (fn) => {
    if (active >= n) await new Promise((resolve) => waiting.push(resolve));
    else active++;
    peak = Math.max(peak, active);
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
  run.peak = () => peak;
  return run;
}

/** Nearest-rank percentile of a list of numbers. */
function percentile(values, p) {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
const mean = (values) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN);
const msText = (v) => (Number.isFinite(v) ? `${Math.round(v)}` : '–');
const sText = (ms) => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : '–');

/** A deterministic shuffle (mulberry32), so every run spreads the same students over the window alike. */
function shuffled(items, seed = 0x5eed) {
  let a = seed;
  const rand = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const slugOf = (i) => `s${String(i).padStart(4, '0')}`;
const emailOf = (i) => `${slugOf(i)}@bench.example.org`;
const answersOf = (i, hw) => `# ${hw}, ${slugOf(i)}\n\n${`Answer ${i}: the mean is ${(i * 7.31).toFixed(2)}.\n`.repeat(20 + (i % 40))}`;

// ---------------------------------------------------------------------------------------------------
// The server and its API.

/**
 * Copies the build under test (bin/, dist/, scripts/, package.json) to APP, so that a rebuild of dist/
 * by someone's `npm test` cannot change the code mid-run; node_modules still resolve from the project.
 * A copy taken while a build was writing is noticed (the build's files changed meanwhile) and redone.
 */
function freezeBuild() {
  const stamp = () => ['dist/cli/main.js', 'dist/workflow-bundle.js', 'dist/service/handins.js', 'dist/workflows/assignment-student.js'].map((f) => statSync(join(ROOT, f)).mtimeMs).join(',');
  for (let attempt = 1; ; attempt++) {
    const before = stamp();
    rmSync(APP, { recursive: true, force: true });
    for (const part of ['bin', 'dist', 'scripts', 'package.json']) cpSync(join(ROOT, part), join(APP, part), { recursive: true });
    if (stamp() === before) return new Date(statSync(join(ROOT, 'dist/workflow-bundle.js')).mtimeMs).toISOString();
    if (attempt >= 5) fail('dist/ kept changing while it was copied (a build running?); try again when it is done');
    spawnSync('sleep', ['10']);
  }
}

async function startHandout(cli, dataDir) {
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
  // Embedded mode with the PGlite catalog and default settings, whatever the caller's shell has set.
  for (const name of ['TEMPORAL_ADDRESS', 'DATABASE_URL', 'HANDOUT_HOST', 'TEMPORAL_UI_URL', 'HANDOUT_TEST_ACTIVITY_DELAY_MS', 'HANDOUT_DISTRIBUTION_CONCURRENCY', 'SMTP_URL']) delete env[name];
  const child = track(spawn(process.execPath, [join(APP, 'bin', 'handout.js'), 'up'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  const output = tail(child);
  const logFile = createWriteStream(SERVER_LOG);
  child.stdout.pipe(logFile, { end: false });
  child.stderr.pipe(logFile, { end: false });
  child.once('exit', () => logFile.end());
  try {
    await waitUntil(child, 'handout up', () => healthy(`http://127.0.0.1:${port}/healthz`), output, { timeoutMs: 180_000, pollMs: 100 });
  } catch (err) {
    await stop(child);
    throw err;
  }
  const adminKey = readFileSync(join(dataDir, 'admin-api-key'), 'utf8').trim();
  return { child, output, dataDir, url: `http://127.0.0.1:${port}/api/v1`, adminKey, temporalAddress: `127.0.0.1:${temporalPort}` };
}

/** One API call; resolves with status and parsed body (never throws on an HTTP error status). */
async function call(server, method, path, { key, body, bytes, timeoutMs = 180_000 } = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key ?? server.adminKey}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : bytes !== undefined ? { 'content-type': 'application/octet-stream' } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : bytes,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed };
}

async function ok(server, status, method, path, opts) {
  const res = await call(server, method, path, opts);
  if (res.status !== status) {
    const alive = server.child.exitCode === null && server.child.signalCode === null;
    throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}${alive ? '' : `\n[handout up exited; its last output:]\n${server.output()}`}`);
  }
  return res.body;
}

async function finishedTask(server, taskId, timeoutMs, key) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const task = await ok(server, 200, 'GET', `/tasks/${encodeURIComponent(taskId)}`, { key });
    if (task.status === 'COMPLETED') return task;
    if (task.status === 'FAILED' || task.status === 'CANCELLED') throw new Error(`task ${taskId} ${task.status}: ${task.error}`);
    if (Date.now() > deadline) throw new Error(`task ${taskId} not finished after ${timeoutMs / 1000} s: ${task.status}`);
    await sleep(250);
  }
}

// ---------------------------------------------------------------------------------------------------
// Temporal histories: where the time goes.

function historyReader(address) {
  const { Connection, Client } = require('@temporalio/client');
  let connection;
  const at = (e) => {
    const s = e.eventTime.seconds;
    return (typeof s === 'object' && s !== null ? s.toNumber() : Number(s)) * 1000 + (e.eventTime.nanos ?? 0) / 1e6;
  };
  const id = (v) => (typeof v === 'object' && v !== null ? v.toNumber() : Number(v));
  return {
    async events(workflowId) {
      connection ??= await Connection.connect({ address });
      const { events } = await new Client({ connection }).workflow.getHandle(workflowId).fetchHistory();
      return events.map((e) => ({ e, t: at(e), id: id(e.eventId) }));
    },
    id,
    async close() {
      await connection?.close().catch(() => undefined);
    },
  };
}

/** A history as lines `+ms EVENT_TYPE (details)`, times relative to `t0`. */
function historyListing(events, t0) {
  const { temporal } = require('@temporalio/proto');
  const { EventType, TaskQueueKind } = temporal.api.enums.v1;
  return events.map(({ e, t }) => {
    const name = String(EventType[e.eventType] ?? e.eventType).replace(/^EVENT_TYPE_/, '');
    const queue = e.workflowTaskScheduledEventAttributes?.taskQueue;
    const detail = queue
      ? ` (${String(TaskQueueKind[queue.kind] ?? queue.kind).replace(/^TASK_QUEUE_KIND_/, '').toLowerCase()} queue)`
      : e.activityTaskScheduledEventAttributes
        ? ` (${e.activityTaskScheduledEventAttributes.activityType.name})`
        : e.workflowTaskTimedOutEventAttributes
          ? ` (${e.workflowTaskTimedOutEventAttributes.timeoutType})`
          : '';
    return `${`${t >= t0 ? '+' : '−'}${Math.abs(Math.round(t - t0))}`.padStart(8)} ms  ${name}${detail}`;
  });
}

/** The workflow task (scheduled, started, completed times) whose completion is the last one before event index `i`. */
function workflowTaskBefore(events, i, id) {
  for (let j = i; j >= 0; j--) {
    const done = events[j].e.workflowTaskCompletedEventAttributes;
    if (!done) continue;
    const byId = (want) => events.find((x) => x.id === id(want));
    return { scheduled: byId(done.scheduledEventId)?.t, started: byId(done.startedEventId)?.t, completed: events[j].t };
  }
  return null;
}

/** Times of one activity type in a history: scheduled, started, completed (the first run of it). */
function activityTimes(events, type, id) {
  const scheduled = events.find((x) => x.e.activityTaskScheduledEventAttributes?.activityType?.name === type);
  if (!scheduled) return null;
  const started = events.find((x) => x.e.activityTaskStartedEventAttributes && id(x.e.activityTaskStartedEventAttributes.scheduledEventId) === scheduled.id);
  const completed = events.find((x) => x.e.activityTaskCompletedEventAttributes && id(x.e.activityTaskCompletedEventAttributes.scheduledEventId) === scheduled.id);
  return { index: events.indexOf(scheduled), scheduled: scheduled.t, started: started?.t, completed: completed?.t };
}

/**
 * A hand-in, cut into consecutive pieces from the client's send to its receipt of the answer (they add
 * up to the round trip): the API before Temporal, the update's workflow task, the recordHandin
 * activity, the workflow task completing the update, and the way back.
 */
function handinPieces(events, id, sentAt, answeredAt) {
  const acceptedAt = events.findIndex((x) => x.e.workflowExecutionUpdateAcceptedEventAttributes);
  const completed = events.find((x) => x.e.workflowExecutionUpdateCompletedEventAttributes);
  const act = activityTimes(events, 'recordHandin', id);
  if (acceptedAt < 0 || !completed) return null;
  const wft = workflowTaskBefore(events, acceptedAt, id);
  if (!wft?.scheduled || !wft.started) return null;
  if (!act) {
    // Recorded by a local activity inside the update's workflow task (a marker, no activity events).
    return {
      'API → Temporal (auth, catalog reads, capture, update RPC)': wft.scheduled - sentAt,
      'workflow task queued (update)': wft.started - wft.scheduled,
      'workflow task run (validator, recordHandin as a local activity: row, audit event, receipt mail row)': wft.completed - wft.started,
      'Temporal → API → client': answeredAt - Math.max(completed.t, wft.completed),
    };
  }
  if (!act.completed) return null;
  return {
    'API → Temporal (auth, catalog reads, capture, update RPC)': wft.scheduled - sentAt,
    'workflow task queued (update)': wft.started - wft.scheduled,
    'workflow task run (validator, handler start)': wft.completed - wft.started,
    'activity queued (recordHandin)': act.started - act.scheduled,
    'recordHandin (row, audit event, receipt mail row)': act.completed - act.started,
    'workflow task completing the update': completed.t - act.completed,
    'Temporal → API → client': answeredAt - completed.t,
    // (wft.completed → act.scheduled is the same instant: the activity is scheduled by that task's completion)
  };
}

/** An automatic collection, from the due time to the activity's completion, in consecutive pieces. */
function collectionPieces(events, id, dueAt) {
  const act = activityTimes(events, 'autoCollectHandin', id);
  if (!act?.completed) return null;
  const fired = events.find((x) => x.e.timerFiredEventAttributes && x.t >= dueAt - 1000);
  const wft = workflowTaskBefore(events, act.index, id);
  if (!fired || !wft?.scheduled || !wft.started) return null;
  return {
    'timer fires (due time → TimerFired)': fired.t - dueAt,
    'workflow task queued': wft.started - fired.t,
    'workflow task run': wft.completed - wft.started,
    'activity queued (autoCollectHandin)': act.started - act.scheduled,
    'autoCollectHandin (capture, row, audit event, mail row)': act.completed - act.started,
  };
}

function summarisePieces(list) {
  const names = Object.keys(list[0] ?? {});
  return names.map((name) => {
    const values = list.map((p) => p[name]);
    return { name, mean: mean(values), p50: percentile(values, 50), p99: percentile(values, 99), max: percentile(values, 100) };
  });
}

/**
 * Receipt mails in the outbox folder (no SMTP_URL: one `.eml` file per mail) for an assignment, as
 * `recipient#version`.
 */
function receiptMails(dataDir, assignment) {
  const dir = join(dataDir, 'outbox');
  const out = new Set();
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.eml')) continue;
    const head = readFileSync(join(dir, name), 'utf8').split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' ');
    const to = /^To: (.*)$/m.exec(head)?.[1]?.trim();
    const subject = /^Subject: Hand-in receipt: (.*), version (\d+)$/m.exec(head);
    if (to && subject && subject[1] === assignment) out.add(`${to}#${subject[2]}`);
  }
  return out;
}

/** Waits (up to `ms`) until every stored version has its receipt mail; returns the versions still without one. */
async function missingReceipts(dataDir, assignment, rows, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const mails = receiptMails(dataDir, assignment);
    const missing = rows.filter((row) => !mails.has(`${row.student}#${row.version}`));
    if (!missing.length || Date.now() > deadline) return missing;
    await sleep(1000);
  }
}

// ---------------------------------------------------------------------------------------------------
// CPU: who used the cores during a phase (Linux /proc; clock ticks of 1/100 s).

const TICKS_PER_S = Number(commandOutput('getconf', ['CLK_TCK'], ROOT)) || 100;

function threadTicks(pid) {
  const out = [];
  let tids = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.push({ tid: Number(tid), comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** CPU ticks so far: handout's threads by name (its main thread apart), the Temporal server, the machine. */
function cpuSnapshot(handoutPid, temporalPid) {
  const groups = {};
  const add = (name, ticks) => (groups[name] = (groups[name] ?? 0) + ticks);
  for (const t of threadTicks(handoutPid)) add(t.tid === handoutPid ? 'handout up: main thread (API, PGlite catalog, activities)' : `handout up: threads named "${t.comm}"`, t.ticks);
  if (temporalPid) for (const t of threadTicks(temporalPid)) add('Temporal dev server (all threads)', t.ticks);
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const self = process.cpuUsage();
  return { groups, busy: cpu.reduce((a, b) => a + b, 0) - cpu[3] - cpu[4], total: cpu.reduce((a, b) => a + b, 0), iowait: cpu[4], self: (self.user + self.system) / 1e6, at: performance.now() };
}

/** Cores used (1.00 = one core busy all the time) by each group between two snapshots. */
function cpuUse(a, b, cores) {
  const seconds = (b.at - a.at) / 1000;
  const rows = Object.keys(b.groups)
    .map((name) => ({ name, cores: (b.groups[name] - (a.groups[name] ?? 0)) / TICKS_PER_S / seconds }))
    .filter((r) => r.cores >= 0.005)
    .sort((x, y) => y.cores - x.cores);
  const client = (b.self - a.self) / seconds;
  const machine = ((b.busy - a.busy) / (b.total - a.total)) * cores;
  const iowait = ((b.iowait - a.iowait) / (b.total - a.total)) * cores;
  const others = Math.max(0, machine - rows.reduce((s, r) => s + r.cores, 0) - client);
  return { seconds, rows, client, machine, iowait, others };
}

// ---------------------------------------------------------------------------------------------------
// The benchmark.

async function setup(server, n, t) {
  const space = `/orgs/${ORG}/spaces/${SPACE}`;
  await ok(server, 201, 'POST', '/orgs', { body: { slug: ORG, name: 'Bench' } });
  await ok(server, 201, 'POST', `/orgs/${ORG}/spaces`, { body: { slug: SPACE, name: 'Course' } });
  await ok(server, 201, 'POST', '/users', { body: { email: 'prof@bench.example.org', name: 'Prof' } });
  const prof = (await ok(server, 201, 'POST', '/keys', { body: { user_email: 'prof@bench.example.org' } })).api_key;
  await ok(server, 201, 'POST', '/roles', { body: { user_email: 'prof@bench.example.org', role: 'space_admin', org_slug: ORG, space_slug: SPACE } });
  await finishedTask(server, (await ok(server, 202, 'POST', `${space}/instances`, { key: prof, body: { name: 'Master', slug: 'master' } })).task_id, 120_000, prof);
  for (const hw of ['hw1', 'hw2']) {
    await ok(server, 201, 'PUT', `${space}/instances/master/files/content?path=${encodeURIComponent(`/files/${hw}/questions.md`)}`, { key: prof, bytes: `# ${hw}\n\nQ1: compute the mean.\n` });
    await ok(server, 201, 'PUT', `${space}/instances/master/files/content?path=${encodeURIComponent(`/files/${hw}/answers.md`)}`, { key: prof, bytes: `# ${hw}\n\nAnswer: \n` });
  }
  const ids = Array.from({ length: n }, (_, i) => i);
  t.usersStart = performance.now();
  const keys = await mapLimit(ids, SETUP_CONCURRENCY, async (i) => {
    await ok(server, 201, 'POST', '/users', { body: { email: emailOf(i), name: `Student ${i}` } });
    return (await ok(server, 201, 'POST', '/keys', { body: { user_email: emailOf(i) } })).api_key;
  });
  t.instancesStart = performance.now();
  log(`  ${n} users and keys in ${sText(t.instancesStart - t.usersStart)} s; creating ${n} student instances, ${SETUP_CONCURRENCY} at a time`);
  let done = 0;
  const instanceIds = await mapLimit(ids, SETUP_CONCURRENCY, async (i) => {
    const task = await ok(server, 202, 'POST', `${space}/instances`, { key: prof, body: { name: `Student ${i}`, slug: slugOf(i), student: emailOf(i) } });
    await finishedTask(server, task.task_id, 300_000, prof);
    if (++done % 100 === 0) log(`  ${done}/${n} student instances`);
    return task.task_id.replace(/^instance-create-/, '');
  });
  t.instancesEnd = performance.now();
  return { prof, keys, instanceIds };
}

async function createAssignment(server, prof, hw, dueAt) {
  return ok(server, 202, 'POST', `/orgs/${ORG}/spaces/${SPACE}/assignments`, {
    key: prof,
    body: {
      name: `Homework ${hw}`,
      slug: hw,
      source: { org_slug: ORG, space_slug: SPACE, instance_slug: 'master' },
      files: [`/files/${hw}`],
      handin: [`/files/${hw}/answers.md`],
      targets: 'group',
      due_at: new Date(dueAt).toISOString(),
      timezone: 'UTC',
    },
  });
}

/** The hand-in rush: request i is planned at `plan[i]` (epoch ms); at most `concurrency` in flight. */
async function rush(server, students, keys, plan, concurrency) {
  const slot = limiter(concurrency);
  const results = [];
  const all = [];
  for (const [k, i] of students.entries()) {
    const wait = plan[k] - Date.now();
    if (wait > 0) await sleep(wait);
    all.push(
      slot(async () => {
        const sentAt = Date.now();
        const t0 = performance.now();
        let res;
        try {
          res = await call(server, 'POST', `/orgs/${ORG}/spaces/${SPACE}/assignments/hw1/handins`, { key: keys[i], body: { identifier: `bench ${slugOf(i)}` } });
        } catch (err) {
          res = { status: 0, body: { error: { code: 'no_answer', message: err instanceof Error ? err.message : String(err) } } };
        }
        const latency = performance.now() - t0;
        results.push({ i, plannedAt: plan[k], sentAt, answeredAt: sentAt + latency, latency, status: res.status, body: res.body });
      }),
    );
  }
  await Promise.all(all);
  return { results: results.sort((a, b) => a.sentAt - b.sentAt), peak: slot.peak() };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  for (const built of ['dist/cli/main.js', 'dist/workflow-bundle.js']) if (!existsSync(join(ROOT, built))) fail(`${built} is missing: run "npm run build" first`);
  const { ensureTemporalBinaries } = require('../scripts/temporal-binaries.js');
  const cli = ensureTemporalBinaries({ needTestServer: false }).cli;
  rmSync(RUN, { recursive: true, force: true });
  mkdirSync(RUN, { recursive: true });
  const dirty = commandOutput('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src', 'scripts', 'bin', 'package.json'], ROOT);
  const commit = commandOutput('git', ['rev-parse', '--short', 'HEAD'], ROOT);
  const m = {
    cores: commandOutput('nproc', [], ROOT) ?? String(os.cpus().length),
    cpu: os.cpus()[0]?.model?.trim() ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    temporal: (commandOutput(cli, ['--version'], ROOT) ?? 'unknown').split('\n')[0],
    handout: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version,
    builtAt: freezeBuild(),
    commit: commit ? `${commit}${dirty ? ' (with uncommitted changes in src/, scripts/, bin/ or package.json)' : ''}` : 'unknown',
    date: new Date().toISOString(),
    uptime: [['start', commandOutput('uptime', [], ROOT)]],
  };
  const uptime = (label) => m.uptime.push([label, commandOutput('uptime', [], ROOT)]);
  const n = opts.students;
  log(`hand-in benchmark: ${n} students, window ${opts.windowS} s, ${opts.concurrency} requests in flight at most`);

  const server = await startHandout(cli, join(RUN, 'data'));
  const histories = historyReader(server.temporalAddress);
  try {
    const t = {};
    log('setup: org, space, instructor, master instance, students');
    const { prof, keys, instanceIds } = await setup(server, n, t);
    const ids = Array.from({ length: n }, (_, i) => i);

    // hw1, due `--lead` seconds from now: its release (the material to every student, one deadline
    // workflow each) must be done before the window opens.
    const created1 = performance.now();
    const due1 = Date.now() + opts.leadS * 1000;
    const windowOpens = due1 - opts.windowS * 1000;
    const a1 = await createAssignment(server, prof, 'hw1', due1);
    log(`hw1 created, due in ${opts.leadS} s; waiting for its release (${n} targets)`);
    await finishedTask(server, a1.task_id, opts.leadS * 1000, prof);
    t.release1Ms = performance.now() - created1;
    // Each student's own answers, written straight into their instance's files.
    for (const i of ids) writeFileSync(join(server.dataDir, 'instances', instanceIds[i], 'files', 'hw1', 'answers.md'), answersOf(i, 'hw1'));
    if (Date.now() > windowOpens - 2000) throw new Error(`the release took ${sText(t.release1Ms)} s, too long for --lead ${opts.leadS}: run again with a larger --lead`);
    log(`released in ${sText(t.release1Ms)} s; the rush starts in ${sText(windowOpens - Date.now())} s`);

    // The rush: one hand-in per student, in a fixed random order, uniformly over the window.
    const order = shuffled(ids);
    const step = (opts.windowS * 1000) / n;
    const plan = order.map((_, k) => windowOpens + (k + 0.5) * step);
    while (Date.now() < windowOpens - 1500) await sleep(100);
    uptime('rush start');
    const load = { rushStart: loadAverage() };
    const temporalPid = Number(readFileSync(join(server.dataDir, 'temporal.pid'), 'utf8').trim()) || null;
    const cpuAt = () => cpuSnapshot(server.child.pid, temporalPid);
    while (Date.now() < windowOpens) await sleep(5);
    const cpuRushStart = cpuAt();
    const { results, peak } = await rush(server, order, keys, plan, opts.concurrency);
    const cpuRush = cpuUse(cpuRushStart, cpuAt(), Number(m.cores));
    load.rushEnd = loadAverage();
    uptime('rush end');
    log(`rush done: ${results.filter((r) => r.status === 201).length}/${n} accepted`);
    // Every answer as the client saw it, kept beside the server's log for a closer look at a refusal.
    writeFileSync(join(WORK, 'rush-answers.json'), JSON.stringify({ due: due1, results }, null, 1));
    while (Date.now() < due1 + 2000) await sleep(100);

    // What the instructor sees afterwards, once any student left without a hand-in was collected at the deadline.
    const A1 = `/orgs/${ORG}/spaces/${SPACE}/assignments/hw1`;
    const accepted = results.filter((r) => r.status === 201);
    const rejected = results.filter((r) => r.status !== 201);
    const settleBy = Date.now() + 180_000;
    let grid1;
    for (;;) {
      grid1 = await ok(server, 200, 'GET', `${A1}/status`, { key: prof });
      if (!grid1.some((r) => r.state === 'open' || r.state === 'missed') || Date.now() > settleBy) break;
      await sleep(1000);
    }
    const rows1 = await ok(server, 200, 'GET', `${A1}/handins`, { key: prof });
    const submittedEvents = await ok(server, 200, 'GET', `/audit?subject=${encodeURIComponent(`assignment:${ORG}/${SPACE}/hw1`)}&action=handin.submitted&limit=100000`, { key: prof });
    const rowsByInstance = new Map();
    for (const row of rows1) rowsByInstance.set(row.instance, [...(rowsByInstance.get(row.instance) ?? []), row]);
    const gridByInstance = new Map(grid1.map((r) => [`${ORG}/${SPACE}/${r.instance}`, r]));
    const lost = [];
    const lostInGrid = [];
    for (const r of accepted) {
      const mine = rowsByInstance.get(r.body.instance) ?? [];
      if (!mine.some((row) => row.version === r.body.version && row.sha256 === r.body.sha256 && !row.auto_collected)) lost.push(r);
      const g = gridByInstance.get(r.body.instance);
      if (!g || g.state !== 'handed in' || g.latest_version !== r.body.version || g.sha256 !== r.body.sha256) lostInGrid.push(r);
    }
    const acceptedByInstance = new Map(accepted.map((r) => [r.body.instance, r]));
    // One request per student, so per student: an accepted receipt needs exactly its one row; a refused
    // or failed request needs none of the student's own (the deadline may then collect one).
    let duplicated = 0;
    let collectedDespite = 0;
    let collectedRejected = 0;
    let storedDespiteError = 0;
    for (const [instance, mine] of rowsByInstance) {
      const own = mine.filter((row) => !row.auto_collected).length;
      const auto = mine.filter((row) => row.auto_collected).length;
      if (acceptedByInstance.has(instance)) {
        duplicated += Math.max(0, own - 1);
        collectedDespite += auto;
      } else {
        storedDespiteError += own;
        collectedRejected += Math.min(auto, 1);
        duplicated += Math.max(0, auto - 1);
      }
    }
    // Receipts must name the right student and that student's own bytes (one file, their size).
    const misattributed = accepted.filter((r) => r.body.student !== emailOf(r.i) || r.body.bytes !== Buffer.byteLength(answersOf(r.i, 'hw1')) || r.body.files !== 1).length;
    const reasons = new Map();
    for (const r of rejected) {
      const reason = `${r.status} ${r.body?.error?.code ?? ''}: ${String(r.body?.error?.message ?? JSON.stringify(r.body)).replace(/\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)/g, '<time>')}`;
      reasons.set(reason, [...(reasons.get(reason) ?? []), r]);
    }
    const latencies = accepted.map((r) => r.latency);
    const allLatencies = results.map((r) => r.latency);
    const held = results.filter((r) => r.sentAt - r.plannedAt > 50);
    const rushResult = {
      n,
      accepted: accepted.length,
      rejected: rejected.length,
      reasons: [...reasons].map(([reason, list]) => ({
        reason,
        count: list.length,
        sentBeforeDue: list.filter((r) => r.sentAt < due1).length,
        earliestBeforeDueMs: Math.max(...list.map((r) => due1 - r.sentAt)),
        latencyP50: percentile(list.map((r) => r.latency), 50),
        latencyMax: percentile(list.map((r) => r.latency), 100),
      })),
      lost: lost.length,
      lostInGrid: lostInGrid.length,
      duplicated,
      collectedDespite,
      collectedRejected,
      storedDespiteError,
      misattributed,
      answersPerS: results.length / ((Math.max(...results.map((r) => r.answeredAt)) - Math.min(...results.map((r) => r.sentAt))) / 1000),
      auditSubmitted: submittedEvents.length,
      rows: rows1.length,
      distinctSha: new Set(accepted.map((r) => r.body.sha256)).size,
      late: accepted.filter((r) => r.body.late).length,
      latency: { p50: percentile(latencies, 50), p90: percentile(latencies, 90), p99: percentile(latencies, 99), max: percentile(latencies, 100), min: percentile(latencies, 0) },
      allLatency: { p50: percentile(allLatencies, 50), p99: percentile(allLatencies, 99) },
      lastSecond: percentile(results.filter((r) => r.plannedAt > due1 - 1000).map((r) => r.latency), 50),
      firstSecond: percentile(results.filter((r) => r.plannedAt < windowOpens + 1000).map((r) => r.latency), 50),
      peak,
      held: held.length,
      heldMax: held.length ? Math.max(...held.map((r) => r.sentAt - r.plannedAt)) : 0,
      lastAnswerAfterDueMs: Math.max(...results.map((r) => r.answeredAt)) - due1,
      sentAfterDue: results.filter((r) => r.sentAt >= due1).length,
    };
    // How late the API read each accepted hand-in: the instant it counts from, minus the client's send.
    const readDelays = results.filter((x) => x.status === 201 && x.body.handed_in_at).map((x) => new Date(x.body.handed_in_at).getTime() - x.sentAt);
    rushResult.readDelay = { p50: percentile(readDelays, 50), p90: percentile(readDelays, 90), max: percentile(readDelays, 100) };
    rushResult.unmailed = (await missingReceipts(server.dataDir, `${ORG}/${SPACE}/hw1`, rows1, 60_000)).length;
    log(`rush: accepted ${rushResult.accepted}, rejected ${rushResult.rejected}, lost ${rushResult.lost}, duplicated ${rushResult.duplicated}, p50 ${msText(rushResult.latency.p50)} ms, p99 ${msText(rushResult.latency.p99)} ms`);

    // The automatic collection: hw2, created only now (so its release does not run during the rush, nor
    // the rush's aftermath during the collection), due twice hw1's release time plus 30 s from now.
    // Nobody hands it in; from its due time on, poll the status grid.
    const lead2S = opts.lead2S ?? Math.max(30, Math.ceil((2 * t.release1Ms) / 1000) + 30);
    const created2 = performance.now();
    const due2 = Date.now() + lead2S * 1000;
    const a2 = await createAssignment(server, prof, 'hw2', due2);
    log(`hw2 created, due in ${lead2S} s; waiting for its release`);
    await finishedTask(server, a2.task_id, lead2S * 1000, prof);
    t.release2Ms = performance.now() - created2;
    t.lead2S = lead2S;
    // Each student's own draft, which the collector will take.
    for (const i of ids) writeFileSync(join(server.dataDir, 'instances', instanceIds[i], 'files', 'hw2', 'answers.md'), answersOf(i, 'hw2'));
    if (Date.now() > due2 - 5000) throw new Error(`hw2's release took ${sText(t.release2Ms)} s, too long for its lead of ${lead2S} s: run again with --lead2`);
    const A2 = `/orgs/${ORG}/spaces/${SPACE}/assignments/hw2`;
    log(`waiting for the hw2 deadline (${sText(due2 - Date.now())} s)`);
    while (Date.now() < due2 - 3000) await sleep(200);
    uptime('collection start');
    load.collectionStart = loadAverage();
    while (Date.now() < due2) await sleep(20);
    const cpuCollectStart = cpuAt();
    const polls = [];
    let firstSeen = null;
    let allSeen = null;
    const collectBy = due2 + 600_000;
    for (;;) {
      const t0 = performance.now();
      const grid = await ok(server, 200, 'GET', `${A2}/status`, { key: prof });
      const at = Date.now();
      const collected = grid.filter((r) => r.state === 'auto-collected').length;
      polls.push({ at, ms: performance.now() - t0, collected });
      if (collected > 0 && firstSeen === null) firstSeen = at - due2;
      if (collected === n) {
        allSeen = at - due2;
        break;
      }
      if (at > collectBy) break;
      await sleep(500);
    }
    const cpuCollect = cpuUse(cpuCollectStart, cpuAt(), Number(m.cores));
    load.collectionEnd = loadAverage();
    uptime('collection end');
    const rows2 = await ok(server, 200, 'GET', `${A2}/handins`, { key: prof });
    const collectedEvents = await ok(server, 200, 'GET', `/audit?subject=${encodeURIComponent(`assignment:${ORG}/${SPACE}/hw2`)}&action=handin.auto_collected&limit=100000`, { key: prof });
    const commitOffsets = collectedEvents.map((e) => Date.parse(e.at) - due2);
    const perStudent2 = new Map();
    for (const row of rows2) perStudent2.set(row.instance, (perStudent2.get(row.instance) ?? 0) + 1);
    const collection = {
      n,
      collected: rows2.filter((r) => r.auto_collected).length,
      students: perStudent2.size,
      duplicated: [...perStudent2.values()].reduce((s, c) => s + Math.max(0, c - 1), 0),
      auditEvents: collectedEvents.length,
      auditStudents: new Set(collectedEvents.map((e) => e.details.student)).size,
      firstSeen,
      allSeen,
      commitFirst: Math.min(...commitOffsets),
      commitP50: percentile(commitOffsets, 50),
      commitP99: percentile(commitOffsets, 99),
      commitLast: Math.max(...commitOffsets),
      polls: polls.length,
      pollP50: percentile(polls.map((p) => p.ms), 50),
      pollMax: percentile(polls.map((p) => p.ms), 100),
      takenAtP50: percentile(rows2.map((r) => Date.parse(r.handed_in_at) - due2), 50),
    };
    collection.unmailed = (await missingReceipts(server.dataDir, `${ORG}/${SPACE}/hw2`, rows2, 60_000)).length;
    log(`collection: ${collection.collected}/${n} collected; all visible in the grid ${sText(allSeen)} s after the due time, last commit at +${sText(collection.commitLast)} s`);

    // Where the time goes: every student workflow's history.
    log('reading the student workflows\' histories');
    const a1Id = a1.task_id.replace(/^assignment\//, '');
    const a2Id = a2.task_id.replace(/^assignment\//, '');
    // Workflow tasks that waited out the sticky queue's schedule-to-start timeout (10 s) and were put back on the normal queue.
    const timedOut = { rush: 0, collection: 0 };
    const handinList = (
      await mapLimit(ids, 16, async (i) => {
        const events = await histories.events(`assignment/${a1Id}/student/${instanceIds[i]}`);
        timedOut.rush += events.filter((x) => x.e.workflowTaskTimedOutEventAttributes).length;
        const r = accepted.find((x) => x.i === i);
        return r ? handinPieces(events, histories.id, r.sentAt, r.answeredAt) : null;
      })
    ).filter(Boolean);
    const slowest = accepted.reduce((a, b) => (b.latency > a.latency ? b : a), accepted[0]);
    const slowestHistory = slowest
      ? { latency: slowest.latency, sentBeforeDue: due1 - slowest.sentAt, lines: historyListing(await histories.events(`assignment/${a1Id}/student/${instanceIds[slowest.i]}`), slowest.sentAt) }
      : null;
    const collectionList = (
      await mapLimit(ids, 16, async (i) => {
        const events = await histories.events(`assignment/${a2Id}/student/${instanceIds[i]}`);
        timedOut.collection += events.filter((x) => x.e.workflowTaskTimedOutEventAttributes).length;
        return collectionPieces(events, histories.id, due2);
      })
    ).filter(Boolean);
    const verify = await ok(server, 200, 'GET', '/audit/verify');
    m.loadAfter = loadAverage();
    uptime('end');

    const ctx = {
      m,
      opts,
      t,
      load,
      rush: rushResult,
      collection,
      handinPieces: summarisePieces(handinList),
      handinSampled: handinList.length,
      collectionPieces: summarisePieces(collectionList),
      collectionSampled: collectionList.length,
      verify,
      slowestHistory,
      cpuRush,
      cpuCollect,
      timedOut,
      serverErrors: (() => {
        try {
          return readFileSync(SERVER_LOG, 'utf8').split('\n').filter((l) => /"level":50|Error|error/.test(l)).slice(0, 20);
        } catch {
          return [];
        }
      })(),
    };
    const text = report(ctx);
    process.stdout.write(`\n${text}`);
    if (opts.report) {
      mkdirSync(join(__dirname, 'reports'), { recursive: true });
      writeFileSync(REPORT, text);
      log(`\nreport written to ${relative(ROOT, REPORT)}`);
    }
  } finally {
    await histories.close();
    await stop(server.child);
  }
}

// ---------------------------------------------------------------------------------------------------
// The report.

function findings(ctx) {
  const { rush: r, collection: c, handinPieces: hp, collectionPieces: cp } = ctx;
  const out = [];
  out.push(
    `**None lost, none duplicated** is the one aim: ${r.lost === 0 && r.lostInGrid === 0 && r.duplicated === 0 && c.duplicated === 0 && r.storedDespiteError === 0 && c.collected === c.n ? 'met' : '**not met**'} — ` +
      `${r.accepted} accepted receipts, ${r.lost} missing from the catalog, ${r.lostInGrid} not shown in the status grid, ${r.duplicated} extra rows in the rush, ` +
      `${r.storedDespiteError} stored although the student was told it failed; ${c.collected} collections for ${c.n} students with ${c.duplicated} extra rows.`,
  );
  if (r.rejected) {
    const closedList = r.reasons.filter((x) => /closed/.test(x.reason));
    const closed = closedList.reduce((sum, x) => sum + x.sentBeforeDue, 0);
    const earliest = Math.max(...closedList.map((x) => (x.sentBeforeDue ? x.earliestBeforeDueMs : 0)));
    out.push(
      `${r.rejected} of ${r.n} hand-ins were refused (${r.reasons.map((x) => `${x.count} × "${x.reason}"`).join('; ')}). ` +
        `All ${r.n} were planned before the due time` +
        (r.sentAfterDue
          ? `; ${r.sentAfterDue} were sent at or after it because the server answered ${r.answersPerS.toFixed(1)} hand-ins per second while the window asks for ${(r.n / ctx.opts.windowS).toFixed(0)}, so the client bound (${ctx.opts.concurrency}) held them back. `
          : ', and all were sent before it. ') +
        (closed
          ? `${closed} refused as closed had been sent before the due time (up to ${msText(earliest)} ms before). A hand-in counts from the moment the API reads the request (its first hook, before authentication); ` +
            `under this load the API read accepted hand-ins ${msText(r.readDelay.p50)} ms after they were sent at the median, ${msText(r.readDelay.p90)} ms at p90 and up to ${msText(r.readDelay.max)} ms: ` +
            `the one main thread that runs the API, the PGlite catalog and the worker's activities is saturated, so requests sent in the last seconds were read after the due time.`
          : ''),
    );
  }
  if (r.collectedDespite) {
    out.push(
      `${r.collectedDespite} students whose hand-in was accepted (received before the due time) were also collected automatically: their update reached the workflow after its deadline timer had started the collection, so they have an extra, auto-collected version; the status grid shows their own hand-in.`,
    );
  }
  if (r.unmailed || c.unmailed) out.push(`**Receipt mails missing**: ${r.unmailed} stored versions of hw1 and ${c.unmailed} of hw2 had no receipt mail in the outbox 60 s after the phase ended.`);
  const failed = r.reasons.filter((x) => x.reason.startsWith('500 ')).reduce((sum, x) => sum + x.count, 0);
  if (failed) {
    out.push(
      `${failed} hand-ins got \`500 internal error\`${ctx.serverErrors.length ? '' : '; `handout up` logged nothing about them (its API is built without a logger), although the answer says the server log has the details'}. ` +
        `${r.storedDespiteError ? `**${r.storedDespiteError} of the refused or failed hand-ins were stored anyway.**` : 'None of them was stored (no row of the student\'s own).'}`,
    );
  }
  if (ctx.timedOut.rush + ctx.timedOut.collection) {
    out.push(`The worker fell behind: ${ctx.timedOut.rush + ctx.timedOut.collection} workflow tasks waited 10 s on the sticky queue, timed out and were queued again on the normal queue.`);
  }
  const sorted = [...hp].sort((a, b) => b.mean - a.mean);
  if (sorted.length) {
    const total = hp.reduce((s, p) => s + p.mean, 0);
    out.push(`A hand-in's round trip (mean ${msText(total)} ms over ${ctx.handinSampled} accepted) goes mostly to ${sorted.slice(0, 2).map((p) => `${p.name} (${msText(p.mean)} ms, ${Math.round((100 * p.mean) / total)} %)`).join(' and ')}.`);
  }
  const csorted = [...cp].sort((a, b) => b.mean - a.mean);
  if (csorted.length) out.push(`At the hw2 deadline the ${c.n} collections finish within ${sText(c.commitLast)} s (last audit commit); per collection, most of the wait is ${csorted.slice(0, 2).map((p) => `${p.name} (mean ${msText(p.mean)} ms)`).join(' and ')}.`);
  return out;
}

function report(ctx) {
  const { m, opts, t, load, rush: r, collection: c, verify } = ctx;
  const cell = (text) => String(text).replace(/\|/g, '\\|');
  const pieceRows = (pieces) => pieces.map((p) => `| ${cell(p.name)} | ${msText(p.mean)} | ${msText(p.p50)} | ${msText(p.p99)} | ${msText(p.max)} |`);
  const lines = [
    '# Hand-in benchmark',
    '',
    `${r.n} students hand in within the last ${opts.windowS} seconds before a deadline on \`handout up\`; then ${c.n} students who did not hand in`,
    'are collected automatically at a deadline. Produced by `bench/handin.js`.',
    '',
    '## Machine',
    '',
    `- cores (\`nproc\`): ${m.cores}; CPU: ${m.cpu}; memory: ${m.memoryGiB} GiB`,
    `- OS: ${m.os}; Node.js: ${m.node}; Temporal CLI: ${m.temporal}`,
    `- Handout: ${m.handout}; HEAD at the start: ${m.commit}; the build measured is \`dist/\` as built at ${m.builtAt}, copied aside`,
    '  for the run (other work on the checkout rebuilds `dist/`)',
    `- date: ${m.date}`,
    '- `uptime` along the way (the machine is shared; anything else running shows in the numbers):',
    '',
    '```',
    ...m.uptime.map(([label, text]) => `${label.padEnd(17)} ${text ?? 'unknown'}`),
    '```',
    '',
    '## Setup (context, not the subject)',
    '',
    `- ${r.n} users and API keys: ${sText(t.instancesStart - t.usersStart)} s (${SETUP_CONCURRENCY} clients); ${r.n} student instances (\`instances create --student\`, each a`,
    `  workflow, ${SETUP_CONCURRENCY} at a time, each waited for): ${sText(t.instancesEnd - t.instancesStart)} s`,
    `- hw1 (a group assignment, ${r.n} students): released (material distributed, ${r.n} student deadline workflows started)`,
    `  ${sText(t.release1Ms)} s after it was created; hw2 likewise, created after the rush: ${sText(t.release2Ms)} s`,
    '',
    `## The rush: ${r.n} hand-ins in the last ${opts.windowS} s before the deadline`,
    '',
    '| | |',
    '|---|---:|',
    `| hand-ins sent (one per student, planned uniformly over the window) | ${r.n} |`,
    `| accepted (201) | ${r.accepted} |`,
    `| rejected | ${r.rejected} |`,
    `| lost (accepted, but missing from the catalog) | ${r.lost} |`,
    `| lost from the status grid (accepted, but the grid shows another state, version or hash) | ${r.lostInGrid} |`,
    `| duplicated (rows beyond one per accepted receipt) | ${r.duplicated} |`,
    `| collected automatically although the student's hand-in was accepted | ${r.collectedDespite} |`,
    `| stored as the student's own hand-in although the answer was a refusal or an error | ${r.storedDespiteError} |`,
    `| stored versions (hand-ins and collections) whose receipt mail never reached the outbox (waited up to 60 s) | ${r.unmailed} of ${r.rows} |`,
    `| receipts naming the wrong student or bytes | ${r.misattributed} |`,
    `| distinct receipt hashes | ${r.distinctSha} |`,
    `| \`handin.submitted\` audit events | ${r.auditSubmitted} |`,
    `| accepted but flagged late | ${r.late} |`,
    `| latency of accepted hand-ins, ms: p50 / p90 / p99 / max (min) | ${msText(r.latency.p50)} / ${msText(r.latency.p90)} / ${msText(r.latency.p99)} / ${msText(r.latency.max)} (${msText(r.latency.min)}) |`,
    `| latency, median of the first / the last second of the window, ms | ${msText(r.firstSecond)} / ${msText(r.lastSecond)} |`,
    `| answers per second, all outcomes, first send → last answer (the window offers ${(r.n / opts.windowS).toFixed(0)} per second) | ${r.answersPerS.toFixed(1)} |`,
    `| requests in flight at most (client bound ${opts.concurrency}) | ${r.peak} |`,
    `| requests held back by the client bound > 50 ms (longest, ms) | ${r.held} (${msText(r.heldMax)}) |`,
    `| requests sent at or after the due time | ${r.sentAfterDue} |`,
    `| last answer, after the due time, ms | ${msText(r.lastAnswerAfterDueMs)} |`,
    `| load average (1, 5, 15 min) at the start / end of the window | ${load.rushStart} / ${load.rushEnd} |`,
    '',
    ...(r.reasons.length
      ? [
          'Refused hand-ins, by reason (times replaced by `<time>`):',
          '',
          '| reason | count | of them sent before the due time | earliest, ms before the due time | latency p50 / max, ms |',
          '|---|---:|---:|---:|---:|',
          ...r.reasons.map((x) => `| ${cell(x.reason)} | ${x.count} | ${x.sentBeforeDue} | ${msText(x.earliestBeforeDueMs)} | ${msText(x.latencyP50)} / ${msText(x.latencyMax)} |`),
          '',
          `Students whose hand-in was refused and who were then collected automatically at the deadline: ${r.collectedRejected}.`,
          '',
        ]
      : ['No hand-in was refused.', '']),
    `## Automatic collection: ${c.n} students at one deadline`,
    '',
    '| | |',
    '|---|---:|',
    `| students collected (rows flagged auto_collected) | ${c.collected} of ${c.n} |`,
    `| duplicated (rows beyond one per student) | ${c.duplicated} |`,
    `| \`handin.auto_collected\` audit events (distinct students) | ${c.auditEvents} (${c.auditStudents}) |`,
    `| collected versions whose receipt mail never reached the outbox (waited up to 60 s) | ${c.unmailed} |`,
    `| all ${c.n} shown \`auto-collected\` by the status grid, s after the due time (polled every 0.5 s) | ${sText(c.allSeen)} |`,
    `| first shown, s after the due time | ${sText(c.firstSeen)} |`,
    `| commit times (audit event \`at\`), s after the due time: first / p50 / p99 / last | ${sText(c.commitFirst)} / ${sText(c.commitP50)} / ${sText(c.commitP99)} / ${sText(c.commitLast)} |`,
    `| \`handed_in_at\` (the workflow's clock when it started collecting), p50, s after the due time | ${sText(c.takenAtP50)} |`,
    `| status-grid request while collecting, ms: p50 / max (${c.polls} polls) | ${msText(c.pollP50)} / ${msText(c.pollMax)} |`,
    `| load average at the deadline / when all were seen | ${load.collectionStart} / ${load.collectionEnd} |`,
    '',
    `Audit chain after both: ${verify.ok ? `intact (${verify.events_checked} events)` : `**broken** at ${verify.first_bad_seq}: ${verify.reason}`}.`,
    '',
    '## Where the time goes',
    '',
    `CPU, in cores busy on average (1.00 = one core all the time; the machine has ${m.cores}), from \`/proc\`:`,
    '',
    `| who | the rush (window open → last answer, ${sText(ctx.cpuRush.seconds * 1000)} s) | the collection (due time → all seen, ${sText(ctx.cpuCollect.seconds * 1000)} s) |`,
    '|---|---:|---:|',
    ...[...new Set([...ctx.cpuRush.rows, ...ctx.cpuCollect.rows].map((x) => x.name))].map(
      (name) => `| ${cell(name)} | ${(ctx.cpuRush.rows.find((x) => x.name === name)?.cores ?? 0).toFixed(2)} | ${(ctx.cpuCollect.rows.find((x) => x.name === name)?.cores ?? 0).toFixed(2)} |`,
    ),
    `| this benchmark's client process | ${ctx.cpuRush.client.toFixed(2)} | ${ctx.cpuCollect.client.toFixed(2)} |`,
    `| everything else on the machine (other users' work) | ${ctx.cpuRush.others.toFixed(2)} | ${ctx.cpuCollect.others.toFixed(2)} |`,
    `| the whole machine busy (of ${m.cores}); waiting for I/O | ${ctx.cpuRush.machine.toFixed(2)}; ${ctx.cpuRush.iowait.toFixed(2)} | ${ctx.cpuCollect.machine.toFixed(2)}; ${ctx.cpuCollect.iowait.toFixed(2)} |`,
    '',
    `From each student workflow's Temporal history (event times, same machine clock as the client). A hand-in`,
    `(${ctx.handinSampled} accepted), from the client's send to its receipt of the answer, in consecutive pieces that add up to the`,
    'round trip (ms):',
    '',
    '| piece | mean | p50 | p99 | max |',
    '|---|---:|---:|---:|---:|',
    ...pieceRows(ctx.handinPieces),
    '',
    `Workflow tasks that timed out waiting on the worker's sticky queue (schedule-to-start, 10 s) and were put back on`,
    `the normal queue: ${ctx.timedOut.rush} in the ${r.n} hw1 workflows, ${ctx.timedOut.collection} in the ${c.n} hw2 workflows.`,
    '',
    `An automatic collection (${ctx.collectionSampled} students), from the due time to the end of its activity (ms):`,
    '',
    '| piece | mean | p50 | p99 | max |',
    '|---|---:|---:|---:|---:|',
    ...pieceRows(ctx.collectionPieces),
    '',
    ...(ctx.slowestHistory
      ? [
          `The slowest accepted hand-in (${msText(ctx.slowestHistory.latency)} ms, sent ${msText(ctx.slowestHistory.sentBeforeDue)} ms before the due time): its workflow's history, times from the`,
          'client\'s send:',
          '',
          '```',
          ...ctx.slowestHistory.lines,
          '```',
          '',
        ]
      : []),
    ...(ctx.serverErrors.length
      ? ['Errors `handout up` logged during the run (first 20 lines, each cut at 400 characters):', '', '```', ...ctx.serverErrors.map((l) => l.slice(0, 400)), '```', '']
      : []),
    '### Findings',
    '',
    ...findings(ctx).map((f) => `- ${f}`),
    '',
    '## How it is measured',
    '',
    '- One `node bin/handout.js up` (a frozen copy of the build) in embedded mode on a fresh data directory under',
    '  `bench/work/handin/` (PGlite catalog, Temporal dev server child with its SQLite file, worker and API in one',
    '  process; default settings, no SMTP: receipts are written to the outbox folder). The benchmark is a second',
    '  Node process on the same machine, talking HTTP to 127.0.0.1 with `fetch` (keep-alive).',
    `- Setup through the API as the bootstrap admin: org, space, an instructor (space admin), a master instance with`,
    '  `/files/hw1` and `/files/hw2` (questions.md, answers.md), then per student a user, an API key and a student',
    '  instance. Two group assignments (`targets: group`, hand-in path `/files/hwN/answers.md`, hard deadline), one',
    `  after the other: hw1 due \`--lead\` (${opts.leadS}) s after it is created; after the rush, hw2 due ${t.lead2S} s after it is`,
    '  created (twice hw1\'s release time + 30 s, or `--lead2`), so that neither release overlaps a measurement. After',
    '  each release every student\'s `answers.md` is overwritten straight on disk with their own text (1–2 KB, different',
    '  for each).',
    `- The rush: the students in a fixed random order, request k planned at due − ${opts.windowS} s + (k + ½) · ${opts.windowS} s / ${r.n}; at most`,
    `  \`--concurrency\` (${opts.concurrency}) requests in flight (a request over the bound waits for a free slot and is counted as held`,
    '  back). Each is `POST …/assignments/hw1/handins` with the student\'s own key; latency is the round trip from',
    '  just before `fetch` to the parsed answer (`performance.now()`).',
    '- Lost and duplicated are checked afterwards through the API as the instructor: the hand-in list',
    '  (`GET …/handins`, the catalog rows), the status grid (`GET …/status`) and the audit log',
    '  (`GET /audit?subject=assignment:…&action=handin.submitted`).',
    '- The collection: nobody hands in hw2. From its due time the status grid is polled every 0.5 s until every',
    '  student shows `auto-collected`; the audit events\' `at` (written in the transaction that stores each',
    '  collected version) give each collection\'s commit time without polling granularity.',
    '- Pieces: WorkflowTaskScheduled/Started/Completed, WorkflowExecutionUpdateAccepted/Completed, TimerFired and',
    '  ActivityTaskScheduled/Started/Completed event times from `fetchHistory` of every student workflow.',
    '  "API → Temporal" is everything the API does before the update reaches the workflow (authentication,',
    '  catalog reads, copying the student\'s files into the blob store, the update call).',
    '- Each student\'s files tree here is small (two folders, four files); the capture walks the student\'s whole',
    '  `/files` tree (using the stat cache), so students with large trees would hand in more slowly.',
    '',
    '## Reproduce',
    '',
    '```',
    'npm run build',
    `npm run bench -- handin${opts.students !== 500 ? ` --students ${opts.students}` : ''}${opts.windowS !== 10 ? ` --window ${opts.windowS}` : ''}${opts.concurrency !== opts.students ? ` --concurrency ${opts.concurrency}` : ''}`,
    '```',
    '',
  ];
  return lines.join('\n');
}

main().then(
  () => {
    cleanup();
    process.exit(0);
  },
  (err) => {
    cleanup();
    process.stderr.write(`Error: ${err instanceof Error ? err.stack || err.message : String(err)}\n`);
    process.exit(1);
  },
);
