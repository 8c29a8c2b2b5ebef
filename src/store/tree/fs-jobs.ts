/* istanbul ignore file -- these functions run in worker threads started from their source text (fs-pool.ts), where coverage counters do not exist */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';

// The per-file work of a snapshot walk and a materialize, done by the worker threads of fs-pool.ts
// with synchronous calls. Why: an async fs call costs the main thread a promise, a request object
// and a thread-pool round trip (tens of µs), a sync one in a worker only the system call itself;
// per-file overhead is what made both paths slow (bench/reports/snapshot.md).
//
// A worker is started from the source text of WORKER_FUNCTIONS (fs-pool.ts), so each function here
// may use only its arguments, the global `Buffer`, `fs` and `crypto` (always as the namespaces `fs.…`
// and `crypto.…`, which the compiled code keeps as is) and the other functions of that list: no other
// import or module constant. That is also why the jobs share this one file: a call into another module
// compiles to a reference the worker's text would not have.
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

/**
 * A directory of a TreeAnchor to open in a worker: the anchor's base path, the directory's path below it,
 * and its identity; for an anchored tree also its plain path (the tree's root path, then `rel`), through
 * which a listing may take its entries' stats cheaply (see listEntries).
 */
export interface AnchoredDir {
  base: string;
  anchored: boolean;
  rel: string;
  dev: bigint;
  ino: bigint;
  plain?: string;
}

/** A listed directory's plain path and identity (see listEntries). */
export interface PlainPath {
  plain: string;
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

/** A stat's stamp, `ino:size:mtimeNs:ctimeNs`: the text stat-cache.ts `stampOf` writes. */
export function stampText(st: fs.BigIntStats): string {
  return `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/**
 * Lists a directory (or only its entry `only`): lstat of each entry, link targets. Nothing is followed.
 * An entry deleted while listed is left out.
 */
export function listDir(args: { dir: AnchoredDir; only?: string }): ListedEntry[] {
  return inAnchoredDir(args.dir, (base) => listEntries(base, args.only));
}

/**
 * The entries of the directory `base` (anchored) names, or only its entry `only`.
 *
 * Given `fast`, the directory's plain path, a whole listing takes its entries' stats through that path
 * when it names this very directory before and after: a stat through `/proc/self/fd/<fd>/` costs 60 %
 * more (the magic link is resolved on every call), and a snapshot walk is one stat per file. The names
 * always come from the anchored directory, and so do link targets. A plain path swapped to elsewhere and
 * back in between could give some entries another file's stat; nothing of such a stat can enter a
 * snapshot unseen: a file is reused only when its stamp (inode, size, mtime and ctime in ns) equals one
 * recorded from this directory, on this device (an entry on another device, or not found, is asked
 * again through the anchor), and everything else is opened through the anchor and checked against it.
 * A wrong stat can only make the walk fail or leave out a file, which changing the tree already can.
 */
export function listEntries(base: string, only: string | undefined, fast?: PlainPath): ListedEntry[] {
  // Names as text; bytes that are not UTF-8 decode to U+FFFD, so only a listing with one is read again as bytes.
  let names: Array<string | Buffer> = only === undefined ? fs.readdirSync(base) : [only];
  if (only === undefined && names.some((n) => (n as string).includes('\uFFFD'))) names = fs.readdirSync(base, { encoding: 'buffer' });
  const plainIsHere = () => {
    const st = fs.lstatSync(fast!.plain, { bigint: true, throwIfNoEntry: false });
    return st !== undefined && st.isDirectory() && st.dev === fast!.dev && st.ino === fast!.ino;
  };
  const statBase = fast && only === undefined && plainIsHere() ? fast.plain : base;
  const out: ListedEntry[] = [];
  // The kind and permissions from the mode as a number, and the device's text once per device: a
  // BigIntStats' isFile() and friends allocate BigInts at each call, and a walk lists 20,000 entries.
  const { S_IFMT, S_IFREG, S_IFDIR, S_IFLNK, S_IFSOCK, S_IFIFO, S_IFCHR, S_IFBLK } = fs.constants;
  let lastDev = -1n;
  let devText = '';
  for (const raw of names) {
    const name = raw.toString('utf8');
    if (typeof raw !== 'string' && !Buffer.from(name, 'utf8').equals(raw)) {
      out.push([name, 'bad-name', 0, 0, '', '']);
      continue;
    }
    const path = `${base}/${name}`;
    let st = fs.lstatSync(`${statBase}/${name}`, { bigint: true, throwIfNoEntry: false });
    if (statBase !== base && (!st || st.dev !== fast!.dev)) st = fs.lstatSync(path, { bigint: true, throwIfNoEntry: false });
    if (!st) continue; // deleted while listed: not part of the snapshot
    const mode = Number(st.mode);
    const format = mode & S_IFMT;
    const kind =
      format === S_IFREG
        ? 'file'
        : format === S_IFDIR
          ? 'dir'
          : format === S_IFLNK
            ? 'symlink'
            : format === S_IFSOCK
              ? 'socket'
              : format === S_IFIFO
                ? 'fifo'
                : format === S_IFCHR || format === S_IFBLK
                  ? 'device'
                  : 'other';
    if (st.dev !== lastDev) (lastDev = st.dev), (devText = String(st.dev));
    const entry: ListedEntry = [name, kind, mode & 0o777, Number(st.size), devText, stampText(st)];
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
  // Moved while listed: listed again, all through the anchor.
  if (statBase !== base && !plainIsHere()) return listEntries(base, only);
  return out;
}

/**
 * One directory of a `listTree`: its path below the listed directory ('' for that one), its device and
 * inode (decimal, as checked when it was opened), and its listing as `listingText` writes it.
 */
export type ListedDir = [rel: string, dev: string, ino: string, text: string];

/**
 * Lists the directory `dir` and, unless `shallow`, every directory below it, each opened through its
 * parent's descriptor exactly as `inAnchoredDir` opens one (nothing followed, identity checked against
 * the parent's listing). Children come before their parent. One job for a whole subtree: a walk with
 * nothing to hash costs a system call per entry and one message per subtree, not per folder.
 */
export function listTree(args: { dir: AnchoredDir; shallow?: boolean }): ListedDir[] {
  const out: ListedDir[] = [];
  inAnchoredDir(args.dir, (base) => listTreeAt(base, '', args.dir.dev, args.dir.ino, !!args.shallow, out, args.dir.plain));
  return out;
}

export function listTreeAt(base: string, rel: string, dev: bigint, ino: bigint, shallow: boolean, out: ListedDir[], plain?: string): void {
  const entries = listEntries(base, undefined, plain === undefined ? undefined : { plain, dev, ino });
  if (!shallow) {
    for (const entry of entries) {
      if (entry[1] !== 'dir') continue;
      const childRel = rel === '' ? entry[0] : `${rel}/${entry[0]}`;
      const child = { base, anchored: true, rel: entry[0], dev: BigInt(entry[4]), ino: BigInt(entry[5].slice(0, entry[5].indexOf(':'))) };
      try {
        inAnchoredDir(child, (childBase) => listTreeAt(childBase, childRel, child.dev, child.ino, false, out, plain === undefined ? undefined : `${plain}/${entry[0]}`));
      } catch (err) {
        // inAnchoredDir names only the last component; say which folder, from the listed one down.
        if ((err as FileJobError).code === 'ECHANGED' && (err as FileJobError).rel === undefined) Object.assign(err as object, { message: `/${childRel} was moved or replaced`, rel: childRel });
        throw err;
      }
    }
  }
  out.push([rel, String(dev), String(ino), listingText(entries)]);
}

/**
 * A listing as one string: the seven fields of each entry (a missing link target as ''), all joined by
 * NUL, which no name or link target can hold. One string crosses threads far cheaper than nested
 * arrays, and comparing a folder's listing with the last one is one hash of it.
 */
export function listingText(entries: ListedEntry[]): string {
  // Joined once, not appended piece by piece: `+=` builds a rope of every piece, which stays alive
  // (and is copied by each young-generation collection) until the worker sends it. Listing 20,000
  // entries in one thread: 153 ms with `+=`, 116 ms joined (medians of 40 listings); the lstat calls
  // themselves are about 70 ms of it.
  const parts: Array<string | number> = [];
  for (const e of entries) parts.push(e[0], e[1], e[2], e[3], e[4], e[5], e[6] ?? '');
  parts.push(''); // a NUL after the last entry too; an empty listing stays empty
  return parts.join('\0');
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
  /** For ECHANGED in a listed subtree: the folder that changed, below the listed one. */
  rel?: string;
}

/**
 * Writes each file into the directory `dir` whole: a new temp file (O_EXCL | O_NOFOLLOW, so nothing
 * planted at its name is followed), the blob's bytes, its mode, optionally fsync, then rename()
 * over the name, which replaces a file or symlink there and never follows it. With `direct`, for a
 * folder no one can see yet (inside a folder still under its temp name), the file is created at its
 * own name instead (O_EXCL still: nothing there is replaced or followed) and not renamed. Stops at the
 * first failure, removing that file's temp file, and throws it with its index; files before it stay written.
 */
export function writeFiles(args: { dir: string; tempPrefix: string; files: FileToWrite[]; fsync: boolean; kernelCopy: boolean; direct: boolean }): { written: number; bytes: number } {
  const buffer = Buffer.allocUnsafe(256 * 1024);
  let bytes = 0;
  args.files.forEach((file, index) => {
    const target = `${args.dir}/${file.name}`;
    // Where the bytes go first: a temp file, or the file itself in a folder no one sees yet.
    const path = args.direct ? target : `${args.dir}/${args.tempPrefix}${index.toString(36)}`;
    let fd: number;
    try {
      fd = fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    } catch (err) {
      throw Object.assign(err as FileJobError, { index, stage: 'target' });
    }
    try {
      copyBlob(file, fd, buffer, args.kernelCopy);
      fs.fchmodSync(fd, file.mode);
      if (args.fsync) fs.fsyncSync(fd); // fsync, not fdatasync: the mode set just above must last too
      fs.closeSync(fd);
      fd = -1;
      if (path !== target) fs.renameSync(path, target);
    } catch (err) {
      if (fd >= 0) fs.closeSync(fd);
      try {
        fs.unlinkSync(path); // ours: O_EXCL made it
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

// Storing small files into the blob store (storeFiles): open, read, hash, write a temp blob, link it
// into place, all with synchronous calls. The async path (blob-store.ts putFile) costs about ten
// thread-pool round trips and promises per file on the main thread; for the many small files of a
// tree that overhead, not the bytes, was the time. Large files keep the async path (streamed, with
// heartbeats while they are read). These jobs also use the namespace `crypto`.

/** One file: its name in the folder and its stamp as the listing saw it (`ino:size:mtimeNs:ctimeNs`). */
export type FileToStore = [name: string, stamp: string];
/** Stored: the blob, the file's size, its stamp and permission bits; or why not (the caller takes the slow path). */
export type StoredFile = [sha256: string, size: number, stamp: string, mode: number] | ['changed'];

/** Where and how blobs are stored: the store's root, whether it syncs, and when a reused blob is refreshed (blob-store.ts). */
export interface BlobTarget {
  blobs: string;
  fsync: boolean;
  refreshBeforeMs: number;
  /**
   * Write a new blob's temp file only, without fsync, and leave it for `linkBlobs` (blob-batch.ts):
   * a batch makes many blobs durable with one syncfs instead of an fdatasync each.
   */
  defer?: boolean;
}

/** A blob written to its temp file (under <blobs>/tmp) and not linked yet: the temp's name, the id, the size. */
export type PendingBlob = [tempName: string, sha256: string, size: number];
/** What storing one blob did: an equal blob was there ('kept'), a new one was linked, or it waits in its temp file. */
export type StoreOutcome = 'kept' | 'linked' | PendingBlob;

export interface StoreFilesArgs extends BlobTarget {
  dir: AnchoredDir;
  /** The blob store's temp-name prefix for this job. */
  tempPrefix: string;
  files: FileToStore[];
}

/**
 * Stores each file of the folder `dir` unless it is no longer the file the listing saw (then
 * 'changed'). Returns the outcomes in order, the shards (two hex digits) that got a new blob (to sync), and the
 * bytes read. A file that changes while read is 'changed' too; nothing is followed, nothing blocks.
 */
export function storeFiles(args: StoreFilesArgs): { stored: StoredFile[]; shards: string[]; pending: PendingBlob[]; bytes: number } {
  return inAnchoredDir(args.dir, (base) => {
    const stored: StoredFile[] = [];
    const shards = new Set<string>();
    const pending: PendingBlob[] = [];
    let bytes = 0;
    try {
      args.files.forEach(([name, listedStamp], i) => {
        let fd: number;
        try {
          fd = fs.openSync(`${base}/${name}`, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
        } catch (err) {
          if (['ENOENT', 'ELOOP', 'ENXIO'].includes((err as NodeJS.ErrnoException).code ?? '')) return void stored.push(['changed']);
          throw err;
        }
        try {
          const st = fs.fstatSync(fd, { bigint: true });
          const stamp = stampText(st);
          if (!st.isFile() || stamp !== listedStamp) return void stored.push(['changed']);
          const size = Number(st.size);
          // One byte more than the size, so growth while read shows as a longer read.
          const buffer = Buffer.allocUnsafe(size + 1);
          let read = 0;
          for (let n = -1; n !== 0 && read < buffer.length; read += n) n = fs.readSync(fd, buffer, read, buffer.length - read, read);
          const after = fs.fstatSync(fd, { bigint: true });
          if (read !== size || stampText(after) !== stamp) return void stored.push(['changed']);
          bytes += size;
          const content = buffer.subarray(0, size);
          const sha256 = crypto.createHash('sha256').update(content).digest('hex');
          const outcome = storeBlob(args, sha256, content, `${args.tempPrefix}-${i}.tmp`);
          if (outcome === 'linked') shards.add(sha256.slice(0, 2));
          else if (outcome !== 'kept') pending.push(outcome);
          stored.push([sha256, size, stamp, Number(st.mode & 0o777n)]);
        } finally {
          fs.closeSync(fd);
        }
      });
    } catch (err) {
      removeTemps(args, pending); // the job fails as a whole, so they would reach no batch (a full disk)
      throw err;
    }
    return { stored, shards: [...shards], pending, bytes };
  });
}

/** A folder's part of a storeFilesInDirs job. */
export interface FolderToStore {
  dir: AnchoredDir;
  files: FileToStore[];
}

/** A folder's outcome in a storeFilesInDirs job: storeFiles' result, or why it failed (as a failed job says it). */
export type FolderStored = ReturnType<typeof storeFiles> | { error: JobErrorDetails };

/** A job's failure as it crosses back to the main thread (fs-pool.ts FsJobError rebuilds it). */
export interface JobErrorDetails {
  message: string;
  code?: string;
  index?: number;
  stage?: 'blob' | 'target';
  rel?: string;
}

export function jobErrorDetails(err: unknown): JobErrorDetails {
  const e = err as FileJobError;
  return { message: String(e?.message ?? e), code: e?.code, index: e?.index, stage: e?.stage, rel: e?.rel };
}

/**
 * storeFiles for several folders in one job: a walk asks for many folders at one moment, and a message
 * to a worker each (and the wake-up of one) was most of the main thread's time beside the listing. One
 * folder's failure is its own; the others are stored.
 */
export function storeFilesInDirs(args: BlobTarget & { tempPrefix: string; folders: FolderToStore[] }): FolderStored[] {
  return args.folders.map(({ dir, files }, i) => {
    try {
      return storeFiles({ blobs: args.blobs, fsync: args.fsync, refreshBeforeMs: args.refreshBeforeMs, defer: args.defer, tempPrefix: `${args.tempPrefix}-${i}`, dir, files });
    } catch (err) {
      return { error: jobErrorDetails(err) };
    }
  });
}

/**
 * Puts `content` in place as the blob `sha256` (blob-store.ts layout and rules: write-once, published by
 * link() of a finished temp file; an existing blob of the same size is kept, refreshed when old).
 * True when a new blob was linked (its shard folder needs a sync).
 */
export function storeBlob(args: BlobTarget, sha256: string, content: Buffer, tempName: string): StoreOutcome {
  const path = `${args.blobs}/sha256/${sha256.slice(0, 2)}/${sha256.slice(2)}`;
  const existing = fs.lstatSync(path, { throwIfNoEntry: false });
  if (existing?.isFile() && existing.size === content.length) {
    if (existing.mtimeMs >= args.refreshBeforeMs) return 'kept';
    try {
      const now = new Date();
      fs.utimesSync(path, now, now);
      return 'kept';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // collected meanwhile: store it again
    }
  }
  const temp = `${args.blobs}/tmp/${tempName}`;
  const out = fs.openSync(temp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o444);
  let written = false;
  try {
    try {
      for (let n = 0; n < content.length; ) n += fs.writeSync(out, content, n, content.length - n, n);
      if (args.fsync && !args.defer) fs.fdatasyncSync(out);
    } finally {
      fs.closeSync(out);
    }
    written = true;
  } finally {
    if (!written) fs.rmSync(temp, { force: true });
  }
  if (args.defer) return [tempName, sha256, content.length];
  return linkBlob(args, tempName, sha256, content.length) ? 'linked' : 'kept';
}

/** Writes a batch's queued bytes (blob-batch.ts) to temp files, each unless its blob exists: the new ones, pending. */
export function storeQueued(args: BlobTarget & { tempPrefix: string; items: Array<{ sha256: string; content: Uint8Array }> }): PendingBlob[] {
  const pending: PendingBlob[] = [];
  const target: BlobTarget = { ...args, defer: true };
  try {
    args.items.forEach(({ sha256, content }, i) => {
      const outcome = storeBlob(target, sha256, Buffer.from(content.buffer, content.byteOffset, content.byteLength), `${args.tempPrefix}-${i}.tmp`);
      if (outcome !== 'kept' && outcome !== 'linked') pending.push(outcome);
    });
  } catch (err) {
    removeTemps(args, pending);
    throw err;
  }
  return pending;
}

/** Removes the temp files of pending blobs that will never be linked. */
export function removeTemps(args: BlobTarget, pending: PendingBlob[]): void {
  for (const [tempName] of pending) fs.rmSync(`${args.blobs}/tmp/${tempName}`, { force: true });
}

/**
 * Links a written (and, where the store syncs, durable) temp file into place as blob `sha256`, and
 * removes the temp. False when an equal blob was there already; a torn blob of another size (a crash
 * left it) is replaced, as blob-store.ts commit does.
 */
export function linkBlob(args: BlobTarget, tempName: string, sha256: string, size: number): boolean {
  const shard = `${args.blobs}/sha256/${sha256.slice(0, 2)}`;
  const path = `${shard}/${sha256.slice(2)}`;
  const temp = `${args.blobs}/tmp/${tempName}`;
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        fs.linkSync(temp, path);
        return true;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') {
          // Linked meanwhile (the same bytes stored twice at once): kept.
          if (fs.lstatSync(path, { throwIfNoEntry: false })?.size === size) return false;
          fs.renameSync(temp, path);
          return true;
        }
        if (code !== 'ENOENT' || attempt > 1) throw err;
        fs.mkdirSync(shard, { recursive: true }); // the shard's first blob
      }
    }
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

/**
 * Links a batch's pending blobs into place (blob-batch.ts), each made durable first by an fdatasync
 * when `syncEach` (no syncfs here); returns the shards that got a new blob.
 */
export function linkBlobs(args: BlobTarget & { pending: PendingBlob[]; syncEach: boolean }): string[] {
  const shards = new Set<string>();
  for (const [tempName, sha256, size] of args.pending) {
    if (args.syncEach) {
      const fd = fs.openSync(`${args.blobs}/tmp/${tempName}`, fs.constants.O_RDONLY);
      try {
        fs.fdatasyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    }
    if (linkBlob(args, tempName, sha256, size)) shards.add(sha256.slice(0, 2));
  }
  return [...shards];
}

/** Stores `content` (whose sha256 the caller computed) as a blob (see storeBlob). */
export function storeBytes(args: BlobTarget & { sha256: string; content: Uint8Array; tempName: string }): StoreOutcome {
  return storeBlob(args, args.sha256, Buffer.from(args.content.buffer, args.content.byteOffset, args.content.byteLength), args.tempName);
}

/** fsyncs each folder (the new names in it become durable). */
export function syncDirs(args: { dirs: string[] }): void {
  for (const dir of args.dirs) {
    const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** Serves jobs on the worker's message port: `{ id, job, args }` → `{ id, value }` or `{ id, error }`. */
export function serveJobs(jobs: Record<string, (args: never) => unknown>): void {
  const { parentPort } = require('node:worker_threads') as typeof import('node:worker_threads');
  parentPort!.on('message', (msg: { id: number; job: string; args: never }) => {
    try {
      parentPort!.postMessage({ id: msg.id, value: jobs[msg.job]!(msg.args) });
    } catch (err) {
      parentPort!.postMessage({ id: msg.id, error: jobErrorDetails(err) });
    }
  });
}

/** The jobs a worker serves, by name. */
export const JOBS = { listDir, listTree, keepBlobs, writeFiles, storeFilesInDirs, storeBytes, storeQueued, linkBlobs, syncDirs };

/** Every function a worker's source text holds (the jobs and what they call). */
export const WORKER_FUNCTIONS = [inAnchoredDir, stampText, listDir, listEntries, listTree, listTreeAt, listingText, keepBlobs, storeFiles, storeFilesInDirs, jobErrorDetails, storeBlob, storeQueued, removeTemps, linkBlob, linkBlobs, storeBytes, syncDirs, writeFiles, copyBlob, serveJobs];
