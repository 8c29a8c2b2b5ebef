import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../helpers/wait';

// syncFileSystem runs `sync -f` through a long-lived shell instead of forking this (large) process for
// each one. Real processes throughout: `sync` on PATH is a script that logs who started it (its parent
// process id) and then runs the real `sync`, or fails when told to.

let scratch: string;
let log: string;
const originalPath = process.env.PATH;
const realSync = spawnSync('sh', ['-c', 'command -v sync'], { encoding: 'utf8' }).stdout.trim();

/** The module afresh, so each test starts without a helper and with its own probe. */
function freshDurability(): typeof import('../../src/store/tree/durability') {
  let mod: typeof import('../../src/store/tree/durability') | undefined;
  jest.isolateModules(() => {
    mod = require('../../src/store/tree/durability');
  });
  return mod!;
}

/** Each logged call: the parent's pid and the path synced. */
const calls = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((line) => line.split(' ')) : []);

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'handout-sync-helper-'));
  log = join(scratch, 'sync.log');
  const bin = join(scratch, 'bin');
  mkdirSync(bin);
  // SYNC_FAIL makes it fail with a message on stderr; SYNC_SLEEP holds it before it syncs.
  const script = `#!/bin/sh\necho "$PPID $3" >> '${log}'\nif [ -n "$SYNC_FAIL" ]; then echo "$SYNC_FAIL" >&2; exit 1; fi\nsleep "\${SYNC_SLEEP:-0}"\nexec ${realSync} "$@"\n`;
  writeFileSync(join(bin, 'sync'), script);
  chmodSync(join(bin, 'sync'), 0o755);
  process.env.PATH = `${bin}:${originalPath}`;
});
afterAll(async () => {
  process.env.PATH = originalPath;
  delete process.env.SYNC_FAIL;
  delete process.env.SYNC_SLEEP;
  await rm(scratch, { recursive: true, force: true });
});
beforeEach(() => writeFileSync(log, ''));

describe('syncFileSystem', () => {
  it('runs every sync from one long-lived shell, never forking this process', async () => {
    const { canSyncFileSystem, syncFileSystem } = freshDurability();
    expect(await canSyncFileSystem()).toBe(true);
    for (let i = 0; i < 3; i++) await syncFileSystem(scratch);
    await Promise.all([syncFileSystem(scratch), syncFileSystem(tmpdir())]);
    const parents = new Set(calls().map(([parent]) => parent));
    expect(calls().map(([, path]) => path)).toEqual(['/proc', scratch, scratch, scratch, scratch, tmpdir()]);
    expect(parents.size).toBe(1);
    expect(parents.has(String(process.pid))).toBe(false);
  });

  it("rejects with sync's own message when it fails, and the next sync works again", async () => {
    const { syncFileSystem } = freshDurability();
    await syncFileSystem(scratch);
    process.env.SYNC_FAIL = 'sync: error syncing: Input/output error';
    try {
      await expect(syncFileSystem(scratch)).rejects.toThrow(`sync -f ${scratch} failed: sync: error syncing: Input/output error`);
    } finally {
      delete process.env.SYNC_FAIL;
    }
    await syncFileSystem(scratch);
    expect(calls().map(([, path]) => path)).toEqual([scratch, scratch, scratch, scratch]); // the failed one ran twice: helper, then directly for its message
  });

  it('still syncs when the helper is killed while a sync waits on it, and starts a new helper after', async () => {
    const { syncFileSystem } = freshDurability();
    process.env.SYNC_SLEEP = '1'; // the same environment throughout: a new helper is not for a new one
    try {
      const waiting = syncFileSystem(scratch);
      await waitFor(() => calls().length === 1, { everyMs: 20 });
      const [[helperPid]] = calls();
      process.kill(Number(helperPid), 'SIGKILL');
      await waiting; // answered by a sync of its own once the helper was gone
      await syncFileSystem(scratch);
    } finally {
      delete process.env.SYNC_SLEEP;
    }
    const helperPid = calls()[0]![0];
    const parents = calls().map(([parent]) => parent);
    expect(parents).toHaveLength(3);
    expect(parents[0]).toBe(helperPid);
    expect(parents[1]).toBe(String(process.pid)); // the direct sync of the waiting call
    expect(parents[2]).not.toBe(helperPid); // a new helper
    expect(parents[2]).not.toBe(String(process.pid));
  });

  it('does not keep a process alive once its syncs are done', () => {
    // A real Node process that syncs once and then has nothing left to do must exit by itself.
    const script = `require(${JSON.stringify(join(__dirname, '..', '..', 'dist', 'store', 'tree', 'durability.js'))}).syncFileSystem(${JSON.stringify(scratch)}).then(() => console.log('synced'))`;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000, env: process.env });
    expect({ signal: child.signal, status: child.status, out: child.stdout.trim() }).toEqual({ signal: null, status: 0, out: 'synced' });
    expect(calls().map(([, path]) => path)).toEqual([scratch]);
  });
});
