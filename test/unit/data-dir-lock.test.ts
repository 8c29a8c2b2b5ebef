import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDirInUseError, lockDataDir } from '../../src/runtime/data-dir-lock';

let root: string;
let holder: ChildProcess | undefined;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'handout-lock-'));
});

afterEach(async () => {
  if (holder && holder.exitCode === null && holder.signalCode === null) {
    const exited = new Promise((resolve) => holder!.once('exit', resolve));
    holder.kill('SIGKILL');
    await exited;
  }
  holder = undefined;
  rmSync(root, { recursive: true, force: true });
});

const lockFile = (dir: string) => join(dir, 'handout.lock');

/** A real, live Node process that is not this one (as another `handout up` would be), killed after the test. */
async function startLiveHolder(command: [string, string[]] = [process.execPath, ['-e', 'setTimeout(() => {}, 30000)']]): Promise<number> {
  holder = spawn(command[0], command[1], { stdio: 'ignore' });
  await new Promise<void>((resolve, reject) => {
    holder!.once('spawn', () => resolve());
    holder!.once('error', reject);
  });
  return holder.pid!;
}

/** The pid of a process that has already exited (and been reaped). */
function deadPid(): number {
  const done = spawnSync('true');
  expect(done.status).toBe(0);
  const pid = done.pid;
  expect(() => process.kill(pid, 0)).toThrow();
  return pid;
}

describe('lockDataDir', () => {
  it('takes over a lock whose pid now belongs to an unrelated program (pid reuse after a reboot)', async () => {
    const dir = join(root, 'reused');
    mkdirSync(dir);
    const pid = await startLiveHolder(['sleep', ['30']]);
    writeFileSync(lockFile(dir), JSON.stringify({ pid, started_at: '2026-01-01T00:00:00.000Z' }));
    const lock = lockDataDir(dir);
    expect(JSON.parse(readFileSync(lockFile(dir), 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('takes a free directory, creating it, and writes this process pid into handout.lock', () => {
    const dir = join(root, 'data', 'nested');
    const lock = lockDataDir(dir);
    try {
      const held = JSON.parse(readFileSync(lockFile(dir), 'utf8')) as { pid: number; started_at: string };
      expect(held.pid).toBe(process.pid);
      expect(Number.isNaN(Date.parse(held.started_at))).toBe(false);
      // The temporary file used for the atomic link is gone.
      expect(readdirSync(dir)).toEqual(['handout.lock']);
    } finally {
      lock.release();
    }
  });

  it('removes the lock on release, so the directory can be taken again', () => {
    const dir = join(root, 'data');
    const first = lockDataDir(dir);
    first.release();
    expect(existsSync(lockFile(dir))).toBe(false);
    const second = lockDataDir(dir);
    expect(existsSync(lockFile(dir))).toBe(true);
    second.release();
    expect(existsSync(lockFile(dir))).toBe(false);
  });

  it('refuses a data directory held by a live process and leaves its lock untouched', async () => {
    const dir = join(root, 'data');
    const pid = await startLiveHolder();
    const holderLock = JSON.stringify({ pid, started_at: '2026-03-01T08:00:00.000Z' });
    lockDataDir(dir).release(); // creates the directory
    writeFileSync(lockFile(dir), holderLock);

    let caught: unknown;
    try {
      lockDataDir(dir);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DataDirInUseError);
    const message = (caught as Error).message;
    expect(message).toContain(`pid ${pid}`);
    expect(message).toContain(dir);
    expect(readFileSync(lockFile(dir), 'utf8')).toBe(holderLock);
    expect(readdirSync(dir)).toEqual(['handout.lock']);
  });

  it('keeps refusing for as long as the holder lives', async () => {
    const dir = join(root, 'data');
    const pid = await startLiveHolder();
    lockDataDir(dir).release();
    writeFileSync(lockFile(dir), JSON.stringify({ pid, started_at: new Date().toISOString() }));
    expect(() => lockDataDir(dir)).toThrow(DataDirInUseError);
    expect(() => lockDataDir(dir)).toThrow(DataDirInUseError);
    expect(JSON.parse(readFileSync(lockFile(dir), 'utf8')).pid).toBe(pid);
  });

  it('takes over once the holding process has died', async () => {
    const dir = join(root, 'data');
    const pid = await startLiveHolder();
    lockDataDir(dir).release();
    writeFileSync(lockFile(dir), JSON.stringify({ pid, started_at: new Date().toISOString() }));
    expect(() => lockDataDir(dir)).toThrow(DataDirInUseError);

    const exited = new Promise((resolve) => holder!.once('exit', resolve));
    holder!.kill('SIGKILL');
    await exited;

    const lock = lockDataDir(dir);
    expect(JSON.parse(readFileSync(lockFile(dir), 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('takes over a stale lock left by a dead pid', () => {
    const dir = join(root, 'data');
    lockDataDir(dir).release();
    writeFileSync(lockFile(dir), JSON.stringify({ pid: deadPid(), started_at: '2020-01-01T00:00:00.000Z' }));
    const lock = lockDataDir(dir);
    const held = JSON.parse(readFileSync(lockFile(dir), 'utf8')) as { pid: number };
    expect(held.pid).toBe(process.pid);
    lock.release();
    expect(existsSync(lockFile(dir))).toBe(false);
  });

  it('takes over an unreadable lock file (a crash while writing it)', () => {
    const dir = join(root, 'data');
    lockDataDir(dir).release();
    writeFileSync(lockFile(dir), '{"pid": 12');
    const lock = lockDataDir(dir);
    expect(JSON.parse(readFileSync(lockFile(dir), 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('does not remove a lock on release once another process has taken it over', async () => {
    const dir = join(root, 'data');
    const pid = await startLiveHolder();
    const lock = lockDataDir(dir);
    const theirs = JSON.stringify({ pid, started_at: new Date().toISOString() });
    writeFileSync(lockFile(dir), theirs);
    lock.release();
    expect(readFileSync(lockFile(dir), 'utf8')).toBe(theirs);
  });
});
