import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';

// The temp files and folders a materialize makes inside its target: `.handout-tmp-<writer pid>.<random>-<n>`.
// A crashed writer's leftovers are removed by the next run through their folder as soon as that pid is
// gone (the data directory is local to this machine); a temp file also once it is an hour old.

export const TEMP_PREFIX = '.handout-tmp-';
const STALE_TEMP_MS = 60 * 60 * 1000;
// The pid, then random per process (runs never collide), then a counter: cheaper than random bytes per file.
const tempTag = `${process.pid.toString(36)}.${randomBytes(6).toString('hex')}-`;
let tempCount = 0;

/** A name no other entry of any folder has, for this process to write under. */
export const tempName = (): string => `${TEMP_PREFIX}${tempTag}${(tempCount++).toString(36)}`;

/** True when the temp entry's writer (named in it) is a process that no longer exists. */
function writerIsGone(name: string): boolean {
  const tag = name.startsWith(TEMP_PREFIX) ? /^([0-9a-z]+)\./.exec(name.slice(TEMP_PREFIX.length)) : null;
  if (!tag) return false;
  const pid = parseInt(tag[1]!, 36);
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Whether a temp entry found in a folder is a leftover to remove. A folder goes only with its writer:
 * its mtime tells when its own entries last changed, not whether a live writer is still filling a
 * folder deep inside it.
 */
export function isLeftover(name: string, st: Stats): boolean {
  return writerIsGone(name) || (!st.isDirectory() && Date.now() - st.mtimeMs > STALE_TEMP_MS);
}
