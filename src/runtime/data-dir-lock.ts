import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Raised when another live `handout up` owns the data directory. */
export class DataDirInUseError extends Error {}

/**
 * True when the lock's process still runs Handout. A pid alone is not enough: after a reboot (or in
 * a container) the pid of a dead holder may belong to an unrelated program, so where /proc exists
 * the holder must also be a Node process.
 */
function holderIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (!existsSync('/proc/self/cmdline')) return true;
  try {
    return /node|handout/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * Takes the data directory for this process, or refuses when a live process holds it. A lock left by
 * a process that died is taken over. Linking a fully written temp file makes the take atomic.
 */
export function lockDataDir(dataDir: string): { release(): void } {
  mkdirSync(dataDir, { recursive: true });
  const lockPath = join(dataDir, 'handout.lock');
  const tmp = `${lockPath}.${process.pid}`;
  writeFileSync(tmp, JSON.stringify({ pid: process.pid, started_at: new Date().toISOString() }));
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        linkSync(tmp, lockPath);
        return {
          release() {
            try {
              const held = JSON.parse(readFileSync(lockPath, 'utf8')) as { pid: number };
              if (held.pid === process.pid) unlinkSync(lockPath);
            } catch {
              // already gone
            }
          },
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        let holder: { pid: number; started_at: string } | undefined;
        try {
          holder = JSON.parse(readFileSync(lockPath, 'utf8')) as { pid: number; started_at: string };
        } catch {
          holder = undefined; // unreadable: a crash while writing; stale
        }
        if (holder && holder.pid !== process.pid && holderIsAlive(holder.pid)) {
          throw new DataDirInUseError(
            `the data directory ${dataDir} is in use by another handout process (pid ${holder.pid}, started ${holder.started_at}); ` +
              'stop it first, or set HANDOUT_DATA_DIR to another directory',
          );
        }
        unlinkSync(lockPath); // stale lock of a dead process
      }
    }
    throw new DataDirInUseError(`could not lock ${dataDir}: another process keeps taking it`);
  } finally {
    unlinkSync(tmp);
  }
}
