'use strict';
// Small helpers the benchmarks share: free ports, waiting for and stopping child processes, medians,
// and facts about the machine. Plain CommonJS, like the benchmarks themselves.

const { spawnSync } = require('node:child_process');
const { createConnection, createServer } = require('node:net');
const os = require('node:os');
const { performance } = require('node:perf_hooks');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * `n` distinct TCP ports that were free a moment ago on 127.0.0.1: all are bound to port 0 at once and
 * then released, so the kernel cannot hand out the same port twice.
 */
async function freePorts(n) {
  const servers = [];
  try {
    for (let i = 0; i < n; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((server) => server.address().port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(() => resolve()))));
  }
}

/** Keeps the last few KB a child wrote, to explain a failure. */
function tail(child, keepChars = 4000) {
  let text = '';
  const keep = (chunk) => {
    text = (text + chunk.toString()).slice(-keepChars);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => text.trim();
}

/**
 * Polls `probe` every `pollMs` until it returns true; fails if the child exits, prints an error line
 * (a `handout up` that failed to start says so on stderr), or `timeoutMs` runs out.
 */
async function waitUntil(child, what, probe, output, { timeoutMs = 120_000, pollMs = 20 } = {}) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output()}`);
    }
    if (/^Error: /m.test(output())) throw new Error(`${what} failed to start:\n${output()}`);
    if (await probe()) return;
    if (performance.now() > deadline) throw new Error(`${what} was not ready after ${timeoutMs / 1000} s:\n${output()}`);
    await sleep(pollMs);
  }
}

/** SIGTERM, then the time until the process has exited (SIGKILL after `timeoutMs`). */
async function stop(child, timeoutMs = 30_000) {
  if (child.exitCode !== null || child.signalCode !== null) return 0;
  const t0 = performance.now();
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
  return performance.now() - t0;
}

/** True when something accepts TCP connections on host:port (a refused connect fails within a millisecond). */
function tcpOpen(host, port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (open) => {
      socket.destroy();
      resolve(open);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(1000, () => done(false));
  });
}

/** True when `url` answers 200 within a second. */
async function healthy(url) {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

/** Median, minimum and maximum. */
function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1] };
}

/** A command's trimmed stdout, or undefined if it failed. */
function commandOutput(cmd, args, cwd) {
  const run = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  return run.status === 0 ? run.stdout.trim() : undefined;
}

const loadAverage = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');

/** Children still running, so a benchmark can kill them all on the way out whatever happens. */
const live = new Set();

/** Registers a spawned child until it exits; returns it. */
function track(child) {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** SIGKILLs every tracked child that is still running. */
function killTracked() {
  for (const child of live) child.kill('SIGKILL');
}

module.exports = { track, killTracked, sleep, freePorts, tail, waitUntil, stop, tcpOpen, healthy, stats, commandOutput, loadAverage };
