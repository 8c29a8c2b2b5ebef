import { constants, type BigIntStats } from 'node:fs';
import { open, readdir, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { isEntryName } from '../../domain/trees';
import { FileTreeError } from './errors';
import type { AnchoredDir } from './fs-jobs';

// Walking or writing a tree that its users can change at the same time: a directory swapped for a
// symlink between two of our calls must not lead us outside the tree. Node has no openat(), so on Linux
// each directory is opened once and its children are named through `/proc/self/fd/<fd>/<name>`, which
// resolves to that very directory whatever happens to its name. Every directory or file reached by a
// path is then checked (device + inode) against what its parent's listing said it was.

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = constants;

/** Which file a name referred to when its directory was listed. */
export interface Identity {
  dev: bigint;
  ino: bigint;
}

export const identityOf = (st: Identity): Identity => ({ dev: st.dev, ino: st.ino });

let procFdWorks: boolean | undefined;

async function detectProcFd(handle: FileHandle, st: BigIntStats): Promise<boolean> {
  if (procFdWorks === undefined) {
    const viaProc = await stat(`/proc/self/fd/${handle.fd}`, { bigint: true }).catch(() => undefined);
    procFdWorks = viaProc?.ino === st.ino && viaProc.dev === st.dev;
  }
  return procFdWorks;
}

const code = (err: unknown) => (err as NodeJS.ErrnoException)?.code;

/** A changed-under-us error for `rel` (the walk or write should be retried when the tree is quiet). */
export function changedError(rel: string, what = 'was replaced', cause?: unknown): FileTreeError {
  return new FileTreeError('conflict', `/${rel} ${what} while Handout was working on it; try again`, { cause });
}

// What a concurrent change in the tree makes a file system call fail with.
const RACE_CODES = new Set(['EEXIST', 'ENOENT', 'ENOTDIR', 'EISDIR', 'ENOTEMPTY', 'ELOOP']);

/** Turns an error a concurrent change explains into a `conflict` about `rel`; anything else is returned as is. */
export function asConflict(err: unknown, rel: string): unknown {
  return RACE_CODES.has(code(err) ?? '') ? changedError(rel, 'changed', err) : err;
}

/**
 * A worker job's ECHANGED (a folder moved or replaced while it was opened, fs-jobs.ts inAnchoredDir)
 * as a `conflict` naming that folder (`rel`, or the folder below it the job names); anything else as is.
 */
export function movedAsConflict(err: unknown, rel: string): unknown {
  if (code(err) !== 'ECHANGED') return err;
  const below = (err as { rel?: string }).rel;
  return changedError(below === undefined ? rel : rel === '' ? below : `${rel}/${below}`, 'was moved or replaced', err);
}

/** One open directory; `child(name)` names an entry of exactly this directory. */
export class OpenDir {
  constructor(
    readonly handle: FileHandle,
    readonly rel: string,
    readonly base: string,
  ) {}

  child(name: string): string {
    if (!isEntryName(name)) throw new FileTreeError('invalid_input', `not a file name: ${JSON.stringify(name)}`);
    return `${this.base}/${name}`;
  }

  /** Like `child`, for a raw name from `readdir(…, { encoding: 'buffer' })` that may not be UTF-8. */
  rawChild(name: Buffer): Buffer {
    if (name.length === 0 || name.includes(0x2f) || name.includes(0) || name.equals(Buffer.from('.')) || name.equals(Buffer.from('..'))) {
      throw new FileTreeError('invalid_input', `not a file name: ${JSON.stringify(name.toString())}`);
    }
    return Buffer.concat([Buffer.from(`${this.base}/`), name]);
  }

  relOf(name: string): string {
    return this.rel === '' ? name : `${this.rel}/${name}`;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** A directory tree opened by its root, whose paths are only ever followed to what a listing saw. */
export class TreeAnchor {
  private constructor(
    private readonly root: FileHandle,
    private readonly base: string,
    private readonly anchored: boolean,
    readonly rootIdentity: Identity,
    private readonly rootPath: string,
  ) {}

  /** Opens `rootPath` (a trusted path: a symlink here is followed). */
  static async open(rootPath: string): Promise<TreeAnchor> {
    const root = await open(rootPath, O_RDONLY | O_DIRECTORY);
    const st = await root.stat({ bigint: true });
    const anchored = await detectProcFd(root, st);
    return new TreeAnchor(root, anchored ? `/proc/self/fd/${root.fd}` : rootPath, anchored, identityOf(st), rootPath);
  }

  /**
   * The directory at `rel` for a worker thread to open (fs-jobs.ts inAnchoredDir does what openDir does),
   * with its plain path when anchored, which a listing may take stats through (fs-jobs.ts listEntries).
   */
  dirForJob(rel: string, expected: Identity): AnchoredDir {
    const plain = this.anchored ? (rel === '' ? this.rootPath : `${this.rootPath}/${rel}`) : undefined;
    return { base: this.base, anchored: this.anchored, rel, dev: expected.dev, ino: expected.ino, plain };
  }

  /** Opens the directory at `rel`, checking it is still the one identified by `expected`. */
  async openDir(rel: string, expected: Identity): Promise<OpenDir> {
    let handle: FileHandle;
    try {
      // The root's own path is a magic link under /proc, so it must be followed; below it nothing is.
      handle = await open(this.pathOf(rel), O_RDONLY | O_DIRECTORY | O_NONBLOCK | (rel === '' ? 0 : O_NOFOLLOW));
    } catch (err) {
      if (['ENOENT', 'ENOTDIR', 'ELOOP'].includes(code(err) ?? '')) throw changedError(rel, 'was moved or replaced', err);
      throw err;
    }
    const st = await handle.stat({ bigint: true });
    if (st.dev !== expected.dev || st.ino !== expected.ino) {
      await handle.close();
      throw changedError(rel);
    }
    return new OpenDir(handle, rel, this.anchored ? `/proc/self/fd/${handle.fd}` : this.pathOf(rel));
  }

  /** Opens the regular file at `rel` for reading, with its stat, or undefined if it is no longer the file `expected` names. */
  async openFile(rel: string, expected: Identity): Promise<{ handle: FileHandle; stat: BigIntStats } | undefined> {
    let handle: FileHandle;
    try {
      handle = await open(this.pathOf(rel), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    } catch (err) {
      if (['ENOENT', 'ENOTDIR', 'ELOOP', 'ENXIO'].includes(code(err) ?? '')) return undefined;
      throw err;
    }
    const stat = await handle.stat({ bigint: true });
    if (!stat.isFile() || stat.dev !== expected.dev || stat.ino !== expected.ino) {
      await handle.close();
      return undefined;
    }
    return { handle, stat };
  }

  close(): Promise<void> {
    return this.root.close();
  }

  private pathOf(rel: string): string {
    return rel === '' ? this.base : `${this.base}/${rel}`;
  }
}

/** True once an anchor found that `/proc/self/fd/<fd>` reopens a descriptor's own file (Linux). */
export function procFdAvailable(): boolean {
  return procFdWorks === true;
}

/** Removes `name` from `dir` and, if it is a directory, everything below it, never following a symlink. */
export async function removeEntry(dir: OpenDir, name: string | Buffer): Promise<void> {
  const path = typeof name === 'string' ? dir.child(name) : dir.rawChild(name);
  let handle: FileHandle;
  try {
    handle = await open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    if (code(err) === 'ENOENT') return;
    if (code(err) !== 'ENOTDIR' && code(err) !== 'ELOOP') throw err;
    await unlink(path).catch((e) => (code(e) === 'ENOENT' ? undefined : Promise.reject(e)));
    return;
  }
  const sub = new OpenDir(handle, dir.relOf(name.toString()), procFdWorks ? `/proc/self/fd/${handle.fd}` : path.toString());
  try {
    for (const child of await readdir(sub.base, { encoding: 'buffer' })) await removeEntry(sub, child);
  } finally {
    await sub.close();
  }
  await rmdir(path);
}
