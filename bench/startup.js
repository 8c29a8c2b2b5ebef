#!/usr/bin/env node
'use strict';
// Startup benchmark: how long `handout up` takes to serve, next to the bare Temporal dev server it embeds.
//
//   npm run build && npm run bench -- startup [--runs N] [--no-report]
//
// (a) temporal:          `temporal server start-dev --headless --db-filename <fresh>/temporal.db …`, from spawn
//                        until describeNamespace('default') answers (the readiness test of src/runtime/temporal-server.ts)
// (a') temporal restart: the same, on the database file (a) left behind (extra row, for context)
// (b) handout first:     `node bin/handout.js up` on a fresh data directory, from spawn until GET /healthz is 200
// (b') handout restart:  the same data directory again, already initialised (catalog migrated, admin created)
// Each is followed by SIGTERM and a wait for the process to exit (reported as "stop"). Then parts of
// handout's start-up are timed alone (module loading, opening a fresh and an existing catalog).
// Timings are measured here and only here; no test asserts them.

const { spawn } = require('node:child_process');
const { mkdtempSync, mkdirSync, rmSync, writeFileSync, existsSync, readFileSync } = require('node:fs');
const os = require('node:os');
const { join, relative } = require('node:path');
const { performance } = require('node:perf_hooks');
const { freePorts, tail, waitUntil: waitUntilFor, stop: stopWithin, tcpOpen, healthy, stats, commandOutput: commandOutputIn, track, killTracked } = require('./lib/util');

const ROOT = join(__dirname, '..');
const REPORT = join(__dirname, 'reports', 'startup.md');
const AIM = 1.5;
const POLL_MS = 20;
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 30_000;

// The shared helpers (bench/lib/util.js), with this benchmark's limits and directory.
const waitUntil = (child, what, probe, output) => waitUntilFor(child, what, probe, output, { timeoutMs: START_TIMEOUT_MS, pollMs: POLL_MS });
const stop = (child) => stopWithin(child, STOP_TIMEOUT_MS);
const commandOutput = (cmd, args) => commandOutputIn(cmd, args, ROOT);

function parseArgs(argv) {
  const opts = { runs: 5, report: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--runs') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1) fail('--runs must be a positive whole number');
      opts.runs = n;
    } else if (arg === '--no-report') opts.report = false;
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write('Usage: npm run bench -- startup [--runs N] [--no-report]\n');
      process.exit(0);
    } else fail(`unknown option "${arg}" (try --help)`);
  }
  return opts;
}

function fail(message) {
  process.stderr.write(`Error: ${message}\n`);
  process.exit(1);
}

const tmpDirs = new Set();

function tempDir() {
  const dir = mkdtempSync(join(os.tmpdir(), 'handout-bench-'));
  tmpDirs.add(dir);
  return dir;
}

function cleanup() {
  killTracked();
  for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping the benchmark\n`);
    cleanup();
    process.exit(130);
  });
}

/**
 * The readiness test handout itself uses: the frontend answers describeNamespace for the namespace.
 * Gated by a plain TCP check: while the port is closed, a gRPC connect waits out its reconnect back-off
 * (about a second), which would round every measurement up to the next second.
 */
async function temporalAnswers(address) {
  const [host, port] = address.split(':');
  if (!(await tcpOpen(host, Number(port)))) return false;
  const { Connection } = require('@temporalio/client');
  // lazy + close in `finally`: a connect that times out must not leave its socket open.
  const connection = Connection.lazy({ address, connectTimeout: 1000 });
  try {
    await connection.ensureConnected();
    await connection.workflowService.describeNamespace({ namespace: 'default' });
    return true;
  } catch {
    return false;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** (a) the bare Temporal dev server on `dir`/temporal.db. */
async function runTemporal(cli, dir) {
  const [port, uiPort] = await freePorts(2);
  const address = `127.0.0.1:${port}`;
  const args = ['server', 'start-dev', '--headless', '--db-filename', join(dir, 'temporal.db'), '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort)];
  const t0 = performance.now();
  const child = track(spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  const output = tail(child);
  try {
    await waitUntil(child, 'the Temporal dev server', () => temporalAnswers(address), output);
  } catch (err) {
    await stop(child);
    throw err;
  }
  const startMs = performance.now() - t0;
  return { startMs, stopMs: await stop(child) };
}

/** (b) `node bin/handout.js up`, embedded mode, on data directory `dir`. */
async function runHandout(cli, dir) {
  const [port, temporalPort, uiPort] = await freePorts(3);
  const env = { ...process.env, HANDOUT_DATA_DIR: dir, HANDOUT_PORT: String(port), HANDOUT_TEMPORAL_PORT: String(temporalPort), HANDOUT_TEMPORAL_UI_PORT: String(uiPort), TEMPORAL_CLI_PATH: cli };
  // Embedded mode with the PGlite catalog: nothing external, whatever the caller's shell has set.
  for (const name of ['TEMPORAL_ADDRESS', 'DATABASE_URL', 'HANDOUT_HOST', 'TEMPORAL_UI_URL']) delete env[name];
  const t0 = performance.now();
  const child = track(spawn(process.execPath, [join(ROOT, 'bin', 'handout.js'), 'up'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  const output = tail(child);
  try {
    await waitUntil(child, 'handout up', () => healthy(`http://127.0.0.1:${port}/healthz`), output);
  } catch (err) {
    await stop(child);
    throw err;
  }
  const startMs = performance.now() - t0;
  const stopMs = await stop(child);
  if (child.exitCode !== 0) throw new Error(`handout up exited with ${child.exitCode ?? child.signalCode} after SIGTERM:\n${output()}`);
  return { startMs, stopMs };
}

/**
 * Where handout's start-up time goes: parts of it timed alone, each in a fresh Node process, one after
 * the other (inside `handout up` the catalog and Temporal start in parallel and share the cores).
 * Each script prints the milliseconds it measured; `null` means "time the whole process".
 */
const PARTS = [
  { name: 'Node.js start, nothing loaded', what: '`node -e ""`, spawn → exit', script: () => '', inner: false },
  {
    name: 'loading the server modules',
    what: '`require("dist/runtime/stack.js")` (fastify, drizzle, Temporal SDK and its native bridge)',
    script: () => `const t=performance.now();require(${JSON.stringify(join(ROOT, 'dist/runtime/stack.js'))});console.log(performance.now()-t)`,
    inner: true,
  },
  {
    name: 'catalog, fresh',
    what: '`openCatalog` on an empty directory: PGlite creates its database, migrations run',
    script: (dir) =>
      `const {openCatalog}=require(${JSON.stringify(join(ROOT, 'dist/store/catalog/db.js'))});const t=performance.now();` +
      `openCatalog({pgliteDir:${JSON.stringify(join(dir, 'catalog'))}}).then(async(c)=>{const ms=performance.now()-t;await c.close();console.log(ms)})`,
    inner: true,
  },
  {
    name: 'catalog, existing',
    what: '`openCatalog` again on that directory: PGlite opens it, no migration pending',
    script: (dir) =>
      `const {openCatalog}=require(${JSON.stringify(join(ROOT, 'dist/store/catalog/db.js'))});const t=performance.now();` +
      `openCatalog({pgliteDir:${JSON.stringify(join(dir, 'catalog'))}}).then(async(c)=>{const ms=performance.now()-t;await c.close();console.log(ms)})`,
    inner: true,
  },
];

async function timePart(part, dir) {
  const t0 = performance.now();
  const child = track(spawn(process.execPath, ['-e', part.script(dir)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
  const output = tail(child);
  let stdout = '';
  child.stdout.on('data', (chunk) => (stdout += chunk.toString()));
  const code = await new Promise((r) => child.once('exit', r));
  const wall = performance.now() - t0;
  if (code !== 0) throw new Error(`timing "${part.name}" failed (exit ${code}):\n${output()}`);
  return part.inner ? Number(stdout.trim().split('\n').pop()) : wall;
}

/**
 * Runs one measurement; a start that fails is recorded (it is a finding, not noise to hide) and tried
 * once more with fresh ports, so one unlucky port clash does not end the whole benchmark.
 */
const failures = [];
async function measure(scenario, label, run) {
  try {
    return await run();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    failures.push({ scenario, label, message });
    process.stderr.write(`${label}: ${scenario} failed, trying once more: ${message.split('\n').slice(0, 3).join(' | ')}\n`);
    return run();
  }
}

const ms = (v) => `${Math.round(v)}`;

function machine(cli) {
  const dirty = commandOutput('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src', 'scripts', 'bin', 'package.json']);
  const commit = commandOutput('git', ['rev-parse', '--short', 'HEAD']);
  return {
    cores: commandOutput('nproc', []) ?? String(os.cpus().length),
    cpu: os.cpus()[0]?.model?.trim() ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    temporal: (commandOutput(cli, ['--version']) ?? 'unknown').split('\n')[0],
    handout: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version,
    commit: commit ? `${commit}${dirty ? ' (with uncommitted changes)' : ''}` : 'unknown',
    date: new Date().toISOString(),
    loadBefore: os.loadavg().map((l) => l.toFixed(2)).join(' '),
  };
}

function report(m, rows, ratios, runs, failed, parts) {
  const lines = [
    '# Startup benchmark',
    '',
    'How long `handout up` (embedded mode: Temporal dev server child, PGlite catalog, worker, HTTP API) takes',
    'until it serves, next to the bare `temporal server start-dev` it embeds. Produced by `bench/startup.js`.',
    '',
    '## Machine',
    '',
    `- cores (\`nproc\`): ${m.cores}; CPU: ${m.cpu}; memory: ${m.memoryGiB} GiB`,
    `- OS: ${m.os}`,
    `- Node.js: ${m.node}`,
    `- Temporal CLI: ${m.temporal}`,
    `- Handout: ${m.handout}, commit ${m.commit}`,
    `- date: ${m.date}`,
    `- load average (1, 5, 15 min) before / after: ${m.loadBefore} / ${m.loadAfter}; other work on the machine slows`,
    '  both sides alike (runs are interleaved), but the absolute numbers are only as quiet as the machine was',
    '',
    `## Results (${runs} runs each, milliseconds)`,
    '',
    '| scenario | what is timed | median | min | max | stop (median) |',
    '|---|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.name} | ${r.what} | ${ms(r.start.median)} | ${ms(r.start.min)} | ${ms(r.start.max)} | ${ms(r.stop.median)} |`),
    '',
    '## Ratios (medians; aim: handout ≤ 1.5 × bare Temporal)',
    '',
    '| ratio | value | aim met |',
    '|---|---:|---|',
    ...ratios.map((r) => `| ${r.name} | ${r.value.toFixed(2)}× | ${r.aim ? (r.value <= AIM ? 'yes' : 'no') : '(context)'} |`),
    '',
    '## Where the time goes',
    '',
    'Parts of the start-up timed alone, each in a fresh Node process, one after the other (milliseconds;',
    'inside `handout up` the catalog and the Temporal server start in parallel and compete for the cores,',
    'so the parts do not add up to the totals above). Not timed separately: connecting to Temporal,',
    'creating the worker from the prebuilt bundle, building the API.',
    '',
    '| part | what is timed | median | min | max |',
    '|---|---|---:|---:|---:|',
    ...parts.map((p) => `| ${p.name} | ${p.what} | ${ms(p.median)} | ${ms(p.min)} | ${ms(p.max)} |`),
    '',
    '## Failed starts',
    '',
    ...(failed.length === 0
      ? ['None: every start in this run succeeded at the first attempt.']
      : [
          'A failed start is retried once with fresh ports and is not part of the timings. Each is listed here:',
          '',
          ...failed.map((f) => `- ${f.label}, ${f.scenario}: ${f.message.split('\n').filter(Boolean).slice(0, 4).join(' / ').replace(/\|/g, '\\|').replace(/:$/, ' (it printed nothing)')}`),
        ]),
    '',
    '## How it is measured',
    '',
    '- Every start is timed from `spawn` until the process answers, polled every 20 ms: the bare server until',
    '  `describeNamespace({ namespace: "default" })` succeeds through `@temporalio/client` (the readiness test',
    '  `src/runtime/temporal-server.ts` uses; each attempt is gated by a plain TCP connect so that a closed port',
    '  costs 1 ms, not a gRPC reconnect back-off of about a second), `handout up` until `GET /healthz` returns 200.',
    '- Bare Temporal: `temporal server start-dev --headless --db-filename <fresh tmp>/temporal.db --ip 127.0.0.1',
    '  --port P --ui-port U`; "restart" reruns it on the database file the first start left.',
    '- Handout: `node bin/handout.js up` with `HANDOUT_DATA_DIR` a temporary directory and `HANDOUT_PORT`,',
    '  `HANDOUT_TEMPORAL_PORT`, `HANDOUT_TEMPORAL_UI_PORT` free ports (bound to port 0 first). "first start" uses a',
    '  fresh data directory (creates the SQLite file, migrates the PGlite catalog, creates the admin key);',
    '  "restart" starts again on that directory. Both use the same Temporal CLI binary. Its embedded server also',
    '  serves the Web UI (no `--headless`), which the bare baseline does not.',
    '- After each start: SIGTERM and a wait for the exit ("stop" column; handout stops API, worker, connections,',
    '  catalog, then Temporal). One uncounted warm-up round runs first, so the binaries are in the page cache.',
    '- Runs are interleaved (temporal, temporal restart, handout first, handout restart, repeated) so that noise',
    '  on the machine spreads over all scenarios alike.',
    '',
    '## Reproduce',
    '',
    '```',
    'npm run build',
    'npm run bench -- startup',
    '```',
    '',
  ];
  return lines.join('\n');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  for (const built of ['dist/cli/main.js', 'dist/workflow-bundle.js']) {
    if (!existsSync(join(ROOT, built))) fail(`${built} is missing: run "npm run build" first`);
  }
  const { ensureTemporalBinaries } = require('../scripts/temporal-binaries.js');
  const cli = ensureTemporalBinaries({ needTestServer: false }).cli;
  const m = machine(cli);
  process.stderr.write(`startup benchmark: ${opts.runs} runs per scenario, Temporal CLI ${cli}\n`);

  const samples = { temporal: [], temporalRestart: [], handoutFirst: [], handoutRestart: [] };
  // Round 0 is a warm-up and is not counted.
  for (let round = 0; round <= opts.runs; round++) {
    const label = round === 0 ? 'warm-up' : `run ${round}/${opts.runs}`;
    const temporalDir = tempDir();
    const t = await measure('temporal', label, () => runTemporal(cli, temporalDir));
    const tr = await measure('temporal restart', label, () => runTemporal(cli, temporalDir));
    const handoutDir = tempDir();
    const hf = await measure('handout first start', label, () => {
      // A retried first start must again begin on an empty directory.
      rmSync(handoutDir, { recursive: true, force: true });
      mkdirSync(handoutDir, { recursive: true });
      return runHandout(cli, handoutDir);
    });
    const hr = await measure('handout restart', label, () => runHandout(cli, handoutDir));
    for (const dir of [temporalDir, handoutDir]) {
      rmSync(dir, { recursive: true, force: true });
      tmpDirs.delete(dir);
    }
    process.stderr.write(
      `${label}: temporal ${ms(t.startMs)} ms, temporal restart ${ms(tr.startMs)} ms, handout first start ${ms(hf.startMs)} ms, handout restart ${ms(hr.startMs)} ms\n`,
    );
    if (round === 0) continue;
    samples.temporal.push(t);
    samples.temporalRestart.push(tr);
    samples.handoutFirst.push(hf);
    samples.handoutRestart.push(hr);
  }

  process.stderr.write('where the time goes: timing parts of the start-up alone\n');
  const partSamples = PARTS.map(() => []);
  for (let round = 0; round < opts.runs; round++) {
    const dir = tempDir();
    for (const [i, part] of PARTS.entries()) partSamples[i].push(await timePart(part, dir));
    rmSync(dir, { recursive: true, force: true });
    tmpDirs.delete(dir);
  }
  const parts = PARTS.map((part, i) => ({ name: part.name, what: part.what, ...stats(partSamples[i]) }));

  const summarise = (list) => ({ start: stats(list.map((s) => s.startMs)), stop: stats(list.map((s) => s.stopMs)) });
  const temporal = summarise(samples.temporal);
  const temporalRestart = summarise(samples.temporalRestart);
  const handoutFirst = summarise(samples.handoutFirst);
  const handoutRestart = summarise(samples.handoutRestart);
  const rows = [
    { name: 'temporal (bare)', what: 'fresh `temporal.db`, spawn → describeNamespace answers', ...temporal },
    { name: 'temporal restart (bare)', what: 'existing `temporal.db`, spawn → describeNamespace answers', ...temporalRestart },
    { name: 'handout first start', what: 'fresh data dir, spawn → `/healthz` 200', ...handoutFirst },
    { name: 'handout restart', what: 'initialised data dir, spawn → `/healthz` 200', ...handoutRestart },
  ];
  const ratios = [
    { name: 'handout first start / temporal', value: handoutFirst.start.median / temporal.start.median, aim: true },
    { name: 'handout restart / temporal', value: handoutRestart.start.median / temporal.start.median, aim: true },
    { name: 'handout restart / temporal restart', value: handoutRestart.start.median / temporalRestart.start.median, aim: false },
  ];

  m.loadAfter = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  const text = report(m, rows, ratios, opts.runs, failures, parts);
  process.stdout.write(`\n${text}`);
  if (opts.report) {
    mkdirSync(join(__dirname, 'reports'), { recursive: true });
    writeFileSync(REPORT, text);
    process.stderr.write(`\nreport written to ${relative(ROOT, REPORT)}\n`);
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
