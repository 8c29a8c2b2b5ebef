/* istanbul ignore file -- these functions run in worker threads started from their source text (fs-pool.ts), where coverage counters do not exist */
import * as fs from 'node:fs';

// The per-file work of a snapshot walk and a materialize, done by the worker threads of fs-pool.ts
// with synchronous calls. Why: an async fs call costs the main thread a promise, a request object
// and a thread-pool round trip (tens of µs), a sync one in a worker only the system call itself;
// per-file overhead is what made both paths slow (bench/reports/snapshot.md).
//
// A worker is started from the source text of WORKER_FUNCTIONS (fs-pool.ts), so each function here
// may use only its arguments, the global `Buffer`, `fs` (always as the namespace `fs.…`, which the
// compiled code keeps as is) and the other functions of that list: no other import or module constant.
// Paths are always below a directory opened as anchor.ts opens it: here (inAnchoredDir), or by the main
// thread, which keeps it open until the job is done (its `/proc/self/fd/<fd>` path); or blob paths.

/**
 * What a listing says of one entry, as a tuple (cheaper to pass between threads than an object):
 * name, kind, permission bits, size, device (decimal), stamp (`ino:size:mtimeNs:ctimeNs`, exactly as
 * stat-cache.ts `stampOf` writes it), and a symlink's target. The kinds past 'other' are entries that
 * cannot be kept as they are: a name or link target that is not UTF-8, a link that stopped being one.
 */
export type ListedEntry = [name: string, kind: ListedKind, perm: number, size: number, dev: string, stamp: string, target?: string];
export type ListedKind = 'file' | 'dir' | 'symlink' | 'socket' | 'fifo' | 'device' | 'other' | 'bad-name' | 'bad-target' | 'changed';

/** A directory of a TreeAnchor to open in a worker: the anchor's base path, the directory's path below it, and its identity. */
export interface AnchoredDir {
  base: string;
  anchored: boolean;
  rel: string;
  dev: bigint;
  ino: bigint;
}

/**
 * Opens a directory exactly as TreeAnchor.openDir does (no symlink followed below the root; device and
 * inode checked against what its parent's listing said), runs `work` on the path naming its children,
 * and closes it. Fails with code ECHANGED when it was moved or replaced.
 */
export function inAnchoredDir<T>(dir: AnchoredDir, work: (base: string) => T): T {
  const path = dir.rel === '' ? dir.base : `${dir.base}/${dir.rel}`;
  const changed = (cause?: unknown) => Object.assign(new Error(`/${dir.rel} was moved or replaced`, { cause }), { code: 'ECHANGED' });
  let fd: number;
  try {
    // The root's own path is a magic link under /proc, so it must be followed; below it nothing is.
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NONBLOCK | (dir.rel === '' ? 0 : fs.constants.O_NOFOLLOW));
  } catch (err) {
    if (['ENOENT', 'ENOTDIR', 'ELOOP'].includes((err as NodeJS.ErrnoException).code ?? '')) throw changed(err);
    throw err;
  }
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    if (st.dev !== dir.dev || st.ino !== dir.ino) throw changed();
    return work(dir.anchored ? `/proc/self/fd/${fd}` : path);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Lists a directory (or only its entry `only`): lstat of each entry, link targets. Nothing is followed.
 * An entry deleted while listed is left out.
 */
export function listDir(args: { dir: AnchoredDir; only?: string }): ListedEntry[] {
  return inAnchoredDir(args.dir, (base) => listEntries(base, args.only));
}

export function listEntries(base: string, only: string | undefined): ListedEntry[] {
  // Names as text; bytes that are not UTF-8 decode to U+FFFD, so only a listing with one is read again as bytes.
  let names: Array<string | Buffer> = only === undefined ? fs.readdirSync(base) : [only];
  if (only === undefined && names.some((n) => (n as string).includes('\uFFFD'))) names = fs.readdirSync(base, { encoding: 'buffer' });
  const out: ListedEntry[] = [];
  for (const raw of names) {
    const name = raw.toString('utf8');
    if (typeof raw !== 'string' && !Buffer.from(name, 'utf8').equals(raw)) {
      out.push([name, 'bad-name', 0, 0, '', '']);
      continue;
    }
    const path = `${base}/${name}`;
    const st = fs.lstatSync(path, { bigint: true, throwIfNoEntry: false });
    if (!st) continue; // deleted while listed: not part of the snapshot
    const kind = st.isFile()
      ? 'file'
      : st.isDirectory()
        ? 'dir'
        : st.isSymbolicLink()
          ? 'symlink'
          : st.isSocket()
            ? 'socket'
            : st.isFIFO()
              ? 'fifo'
              : st.isCharacterDevice() || st.isBlockDevice()
                ? 'device'
                : 'other';
    const entry: ListedEntry = [name, kind, Number(st.mode & 0o777n), Number(st.size), String(st.dev), `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`];
    if (kind === 'symlink') {
      let target: Buffer;
      try {
        target = fs.readlinkSync(path, { encoding: 'buffer' });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') continue;
        if (code !== 'EINVAL') throw err;
        entry[1] = 'changed';
        out.push(entry);
        continue;
      }
      const text = target.toString('utf8');
      if (Buffer.from(text, 'utf8').equals(target)) entry.push(text);
      else entry[1] = 'bad-target';
    }
    out.push(entry);
  }
  return out;
}

/**
 * For blobs about to be reused: the indexes of those missing (or of another size than expected, -1 =
 * any); of the others, those last written or touched before `refreshBeforeMs` get their mtime set to
 * now. blob-store.ts (`keepAlive`) says why that is enough for the garbage collector.
 */
export function keepBlobs(args: { root: string; ids: string[]; sizes: number[]; refreshBeforeMs: number }): number[] {
  const missing: number[] = [];
  const now = new Date();
  args.ids.forEach((sha256, i) => {
    // The blob store's layout (blob-store.ts pathOf); the ids were checked there.
    const path = `${args.root}/sha256/${sha256.slice(0, 2)}/${sha256.slice(2)}`;
    const st = fs.lstatSync(path, { throwIfNoEntry: false });
    if (!st || !st.isFile() || (args.sizes[i]! >= 0 && st.size !== args.sizes[i])) {
      missing.push(i);
      return;
    }
    if (st.mtimeMs >= args.refreshBeforeMs) return;
    try {
      fs.utimesSync(path, now, now);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      missing.push(i); // collected between the two calls: the caller stores it again
    }
  });
  return missing;
}

/** One file to write: its name in the directory, the blob holding its bytes, its size and permission bits. */
export interface FileToWrite {
  name: string;
  blob: string;
  size: number;
  mode: number;
}

/** Thrown by a job for one file: which one (`index`), and whether its blob or the target failed. */
export interface FileJobError extends Error {
  code?: string;
  index?: number;
  stage?: 'blob' | 'target';
}

/**
 * Writes each file into the directory `dir` whole: a new temp file (O_EXCL | O_NOFOLLOW, so nothing
 * planted at its name is followed), the blob's bytes, its mode, optionally fsync, then rename()
 * over the name, which replaces a file or symlink there and never follows it. Stops at the first
 * failure, removing that file's temp file, and throws it with its index; files before it stay written.
 */
export function writeFiles(args: { dir: string; tempPrefix: string; files: FileToWrite[]; fsync: boolean; kernelCopy: boolean }): { written: number; bytes: number } {
  const buffer = Buffer.allocUnsafe(256 * 1024);
  let bytes = 0;
  args.files.forEach((file, index) => {
    const temp = `${args.dir}/${args.tempPrefix}${index.toString(36)}`;
    let fd: number;
    try {
      fd = fs.openSync(temp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    } catch (err) {
      throw Object.assign(err as FileJobError, { index, stage: 'target' });
    }
    try {
      copyBlob(file, fd, buffer, args.kernelCopy);
      fs.fchmodSync(fd, file.mode);
      if (args.fsync) fs.fsyncSync(fd); // fsync, not fdatasync: the mode set just above must last too
      fs.closeSync(fd);
      fd = -1;
      fs.renameSync(temp, `${args.dir}/${file.name}`);
    } catch (err) {
      if (fd >= 0) fs.closeSync(fd);
      try {
        fs.unlinkSync(temp);
      } catch {
        // already renamed, or never there
      }
      const tagged = err as FileJobError;
      throw Object.assign(tagged, { index, stage: tagged.stage ?? 'target' });
    }
    bytes += file.size;
  });
  return { written: args.files.length, bytes };
}

/**
 * Copies a blob into the open file `fd`, checking its length: a small one with one read and one write,
 * a large one in the kernel (copyFileSync on the descriptor's /proc path uses copy_file_range) or in chunks.
 */
export function copyBlob(file: FileToWrite, fd: number, buffer: Buffer, kernelCopy: boolean): void {
  const blobError = (err: unknown) => Object.assign(err as FileJobError, { stage: 'blob' });
  const wrongSize = (actual: number) => blobError(Object.assign(new Error(`blob ${file.blob} holds ${actual} bytes, the tree says ${file.size}`), { code: 'EBLOBSIZE' }));
  if (kernelCopy && file.size >= buffer.length) {
    try {
      fs.copyFileSync(file.blob, `/proc/self/fd/${fd}`);
    } catch (err) {
      // The target's /proc path exists while `fd` is open, so a missing file is the blob.
      throw (err as NodeJS.ErrnoException).code === 'ENOENT' ? blobError(err) : err;
    }
    const size = fs.fstatSync(fd).size;
    if (size !== file.size) throw wrongSize(size);
    return;
  }
  let src: number;
  try {
    src = fs.openSync(file.blob, fs.constants.O_RDONLY);
  } catch (err) {
    throw blobError(err);
  }
  try {
    let offset = 0;
    for (;;) {
      // One byte more than expected, so a longer blob shows in the same read; a short read of a
      // regular file is its end, so a small blob takes exactly one read.
      const want = Math.min(buffer.length, file.size - offset + 1);
      const n = fs.readSync(src, buffer, 0, want, offset);
      for (let done = 0; done < n; ) done += fs.writeSync(fd, buffer, done, n - done, offset + done);
      offset += n;
      if (n < want || offset > file.size) break;
    }
    if (offset !== file.size) throw wrongSize(offset);
  } finally {
    fs.closeSync(src);
  }
}

/** Serves jobs on the worker's message port: `{ id, job, args }` → `{ id, value }` or `{ id, error }`. */
export function serveJobs(jobs: Record<string, (args: never) => unknown>): void {
  const { parentPort } = require('node:worker_threads') as typeof import('node:worker_threads');
  parentPort!.on('message', (msg: { id: number; job: string; args: never }) => {
    try {
      parentPort!.postMessage({ id: msg.id, value: jobs[msg.job]!(msg.args) });
    } catch (err) {
      const e = err as FileJobError;
      parentPort!.postMessage({ id: msg.id, error: { message: String(e?.message ?? e), code: e?.code, index: e?.index, stage: e?.stage } });
    }
  });
}

/** The jobs a worker serves, by name. */
export const JOBS = { listDir, keepBlobs, writeFiles };

/** Every function a worker's source text holds (the jobs and what they call). */
export const WORKER_FUNCTIONS = [inAnchoredDir, listDir, listEntries, keepBlobs, writeFiles, copyBlob, serveJobs];
