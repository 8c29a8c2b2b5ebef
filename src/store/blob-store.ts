import { createHash, randomBytes } from 'node:crypto';
import { constants, type BigIntStats } from 'node:fs';
import { link, lstat, mkdir, open, readdir, readFile, rename, rm, unlink, utimes, type FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { captureRootsSince, recordCaptureRoot } from './capture-roots';
import { BlobBatch } from './blob-batch';
import { canSyncFileSystem, syncFileSystem } from './tree/durability';
import { SMALL_WRITE_FILES } from './tree/small-write';
import type { AnchoredDir, BlobTarget, FileToStore, FolderToStore, PendingBlob, StoredFile } from './tree/fs-jobs';
import { FsJobError, fsPool, STORE_POOL_SIZE, storePool } from './tree/fs-pool';

// Content-addressed, write-once blobs: <root>/sha256/ab/cdef… (the first two hex digits name the folder).
// A blob appears only by rename() of a finished temp file, so a reader never sees a torn blob.

const SHA256 = /^[0-9a-f]{64}$/;
const ALL_SHA256 = /^(?:[0-9a-f]{64}\n)+$/;
const TEMP_MAX_AGE_MS = 60 * 60 * 1000;
const CHUNK = 1 << 20;
// A blob a garbage collection has set aside (in tmp/) while it re-checks the blob's age, named with the
// time it was set aside; a live collection decides within milliseconds, so an old one is a crash's leftover.
const SET_ASIDE = /^gc-([0-9a-f]{64})-([0-9]+)-[0-9a-f]+$/;
const SET_ASIDE_MAX_MS = 10 * 60 * 1000;
/**
 * A blob stored again (the same content written by a new capture, or an old stat-cache entry checked
 * with `keepAlive`) is touched only when it was last written or touched longer ago than this (touching
 * every reused blob was an inode write per unchanged file, on every snapshot). Why that keeps it safe
 * from the garbage collector: the collector deletes a blob only when nothing live reaches it (committed
 * snapshots, stat caches, recent capture roots: gc.ts) and its mtime is older than the grace period
 * (re-checked after setting it aside, see `delete`). Such a blob's mtime is at most this old when the
 * capture checks it, so the collector cannot take it before grace − this after that check; by then the
 * capture's root is on record. A blob set aside or deleted before the check is found missing and
 * stored again. Blobs a walk takes from its stat cache unseen need no touch: the cache names them.
 */
export const REFRESH_AFTER_MS = 60 * 60 * 1000;

/** A stored blob's id and length in bytes. */
export interface BlobRef {
  sha256: string;
  size: number;
}

/** One stored blob as `list()` reports it; `mtimeMs` is when it was last written or touched. */
export interface BlobInfo extends BlobRef {
  mtimeMs: number;
}

export type BlobStoreErrorKind = 'invalid_id' | 'not_found' | 'not_a_file' | 'source_changed' | 'hash_mismatch';

/** A blob store failure; `kind` says which, the message names the blob or file. */
export class BlobStoreError extends Error {
  constructor(
    readonly kind: BlobStoreErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BlobStoreError';
  }
}

export interface PutFileOptions {
  /** Called with each chunk's length as it is read (progress, heartbeats); may throw to stop the copy. */
  onData?(bytes: number): void;
  /** The handle's stat, if the caller has just taken it: saves one call, and it is what "unchanged" is checked against. */
  stat?: BigIntStats;
}

/** Immutable blobs addressed by their SHA-256; small on purpose, so an S3-compatible backend can follow. */
export interface BlobStore {
  /** Stores a regular file's bytes (a path is opened without following a symlink); throws `source_changed` if it changed while read. */
  putFile(source: string | FileHandle, opts?: PutFileOptions): Promise<BlobRef>;
  /** Stores a file believed to hold `sha256`: only touches the blob when it exists, else stores the file and checks the hash. */
  putFileWithKnownHash(path: string, sha256: string, size: number): Promise<BlobRef>;
  /** Stores bytes (a string is stored as UTF-8); in `batch`, the blob exists once the batch commits. */
  putBytes(bytes: Uint8Array | string, batch?: BlobBatch): Promise<BlobRef>;
  /** A batch of blobs made durable together (blob-batch.ts): for putBytes and storeFilesIn. */
  newBatch(): BlobBatch;
  has(sha256: string): Promise<boolean>;
  /** The local file of a blob (for kernel copies); the path exists only if the blob does. */
  pathOf(sha256: string): string;
  /** A blob's bytes, checked against its hash. */
  readBytes(sha256: string): Promise<Buffer>;
  /** Marks a blob as just used, so a garbage collection's grace period protects it; false if it does not exist. */
  touch(sha256: string): Promise<boolean>;
  /**
   * Before blobs named by an old stat cache (written before the collector kept what caches name) are
   * reused: the ids of those missing (or of another size); the others are refreshed as REFRESH_AFTER_MS says.
   */
  keepAlive(refs: readonly BlobRef[]): Promise<Set<string>>;
  list(): AsyncIterable<BlobInfo>;
  /** Deletes a blob; with `ifOlderThanMs`, only if it was not written or touched since then (re-checked atomically). */
  delete(sha256: string, opts?: { ifOlderThanMs?: number }): Promise<boolean>;
  /** Makes every blob stored so far durable (directory entries included) when the store syncs writes. */
  flush(): Promise<void>;
  /**
   * Stores files of one folder (opened as `dir` describes) in a worker thread, each checked against the
   * stamp its listing saw: its blob, or 'changed' (the caller then takes `putFile`). Optional: a store
   * without it gets every file through `putFile`.
   */
  storeFilesIn?(dir: AnchoredDir, files: FileToStore[], batch?: BlobBatch): Promise<{ stored: StoredFile[]; bytes: number }>;
  /** Records the root tree of a capture that just ended (capture-roots.ts); durable when the store syncs writes. */
  recordCaptureRoot(sha256: string): Promise<void>;
  /** Capture roots recorded at or after `sinceMs`, for the garbage collector; older records are dropped. */
  captureRootsSince(sinceMs: number): Promise<string[]>;
}

/** Throws unless `sha256` is 64 lowercase hex digits, so no other text can ever become part of a path. */
export function assertSha256(sha256: string): void {
  if (typeof sha256 !== 'string' || !SHA256.test(sha256)) throw new BlobStoreError('invalid_id', `not a sha256 blob id: ${JSON.stringify(sha256)}`);
}

/** True when a file's size, mtime or ctime differ between two stats of it. */
function stampChanged(a: BigIntStats, b: BigIntStats): boolean {
  return a.ino !== b.ino || a.size !== b.size || a.mtimeNs !== b.mtimeNs || a.ctimeNs !== b.ctimeNs;
}

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException)?.code === 'ENOENT';

/** Items dealt round-robin into one list per store worker (at most one per item, at most `lanes`): one job each, all in flight at once. */
function storeLanes<T>(items: readonly T[], lanes = STORE_POOL_SIZE): T[][] {
  return Array.from({ length: Math.min(lanes, items.length) }, (_, lane) => items.filter((_, i) => i % lanes === lane));
}

/**
 * Jobs that files of several folders are stored in, at most, from one turn of the event loop: reading
 * and hashing keep a core busy each (the disk's own parallelism is for fsync, which a batch leaves to
 * its commit).
 */
const STORE_FILES_LANES = Math.min(STORE_POOL_SIZE, Math.max(2, availableParallelism()));

/** A storeFilesIn call waiting for its turn's job. */
interface StoreRequest {
  folder: FolderToStore;
  batch: BlobBatch | undefined;
  resolve(done: { stored: StoredFile[]; bytes: number }): void;
  reject(err: Error): void;
}

/**
 * Opens (creating if needed) a blob store on the local disk. `fsync` (default true) syncs each blob
 * before it becomes visible, so a power cut never leaves a short blob under a valid name.
 */
export async function createLocalBlobStore(root: string, opts: { fsync?: boolean } = {}): Promise<BlobStore> {
  await mkdir(join(root, 'sha256'), { recursive: true });
  await mkdir(join(root, 'tmp'), { recursive: true });
  const store = new LocalBlobStore(root, opts.fsync ?? true);
  await store.cleanTemp(Date.now() - TEMP_MAX_AGE_MS);
  return store;
}

class LocalBlobStore implements BlobStore {
  private readonly shardsMade = new Set<string>();
  private readonly unsyncedDirs = new Set<string>();
  /** storeFilesIn calls of this turn of the event loop, sent together at its end. */
  private storeRequests: StoreRequest[] = [];
  // Temp names: random per store (processes never collide), then a counter (cheaper than random bytes per file).
  private readonly tempPrefix = randomBytes(8).toString('hex');
  private tempCount = 0;

  constructor(
    private readonly root: string,
    private readonly fsync: boolean,
  ) {}

  pathOf(sha256: string): string {
    assertSha256(sha256);
    return join(this.root, 'sha256', sha256.slice(0, 2), sha256.slice(2));
  }

  async putFile(source: string | FileHandle, opts: PutFileOptions = {}): Promise<BlobRef> {
    const owned = typeof source === 'string' ? await openRegularFile(source) : undefined;
    const input = owned ?? (source as FileHandle);
    try {
      const before = (!owned && opts.stat) || (await input.stat({ bigint: true }));
      if (!before.isFile()) throw new BlobStoreError('not_a_file', 'only regular files can be stored as blobs');
      const temp = this.tempPath();
      let written: BlobRef;
      try {
        written = await this.copyHashing(input, temp, before.size, opts.onData);
        const after = await input.stat({ bigint: true });
        if (stampChanged(before, after) || BigInt(written.size) !== before.size) {
          throw new BlobStoreError('source_changed', `the file changed while it was being stored (${before.size} → ${after.size} bytes)`);
        }
      } catch (err) {
        await unlink(temp).catch(() => undefined);
        throw err;
      }
      return await this.commit(temp, written);
    } finally {
      await owned?.close();
    }
  }

  async putFileWithKnownHash(path: string, sha256: string, size: number): Promise<BlobRef> {
    if (await this.keepExisting({ sha256, size })) return { sha256, size };
    const stored = await this.putFile(path);
    if (stored.sha256 !== sha256) {
      throw new BlobStoreError('hash_mismatch', `${path} changed since it was hashed: expected ${sha256}, it now holds ${stored.sha256}`);
    }
    return stored;
  }

  async putBytes(bytes: Uint8Array | string, batch?: BlobBatch): Promise<BlobRef> {
    const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    const ref = { sha256: createHash('sha256').update(data).digest('hex'), size: data.byteLength };
    if (batch) {
      batch.queue(ref.sha256, data);
      return ref;
    }
    // In a worker thread with synchronous calls (the same rules as commit): one message instead of
    // eight async calls.
    const outcome = await storePool().run('storeBytes', { ...this.target(), sha256: ref.sha256, content: data, tempName: `${this.tempName()}.tmp` });
    if (outcome === 'linked') this.linkedIn(ref.sha256.slice(0, 2));
    return ref;
  }

  newBatch(): BlobBatch {
    return new BlobBatch({ writeQueued: (items) => this.writeQueued(items), linkPending: (pending) => this.linkPending(pending) });
  }

  /**
   * Made durable with one syncfs of the file system holding `path`, instead of an fsync for each of
   * `count` files or folders: one device flush for all, where each fsync waits for its own. Only beyond
   * a small write's count (a few fsyncs cost less than a flush of everything else the file system
   * holds), and where `sync -f` works; false means: sync each.
   */
  private async syncedAsOne(count: number, path: string): Promise<boolean> {
    if (count <= SMALL_WRITE_FILES || !(await canSyncFileSystem())) return false;
    return syncFileSystem(path).then(
      () => true,
      () => false,
    );
  }

  /** A batch's queued bytes, written to temp files (not linked, not synced) in a few store-worker jobs. */
  private async writeQueued(items: Array<[string, Uint8Array]>): Promise<PendingBlob[]> {
    const lanes = storeLanes(items);
    const written = await Promise.all(
      lanes.map((lane) => storePool().run('storeQueued', { ...this.target(), defer: true, tempPrefix: this.tempName(), items: lane.map(([sha256, content]) => ({ sha256, content })) })),
    );
    return written.flat();
  }

  /**
   * A batch's commit: its temp files made durable at once, then linked into place, many at a time.
   * One syncfs where `sync -f` works; a few blobs (as small writes do, small-write.ts), or where it
   * fails, an fdatasync each in the store's workers instead of a flush of the whole file system.
   */
  private async linkPending(pending: PendingBlob[]): Promise<void> {
    const syncEach = this.fsync && !(await this.syncedAsOne(pending.length, join(this.root, 'tmp')));
    const lanes = storeLanes(pending);
    const linked = await Promise.allSettled(lanes.map((lane) => storePool().run('linkBlobs', { ...this.target(), pending: lane, syncEach })));
    linked.forEach((lane) => lane.status === 'fulfilled' && lane.value.forEach((shard) => this.linkedIn(shard)));
    const failed = linked.find((lane) => lane.status === 'rejected');
    if (failed) {
      // Whatever could not be linked (a full disk) is not a blob: its temp file goes too, none is left behind.
      await Promise.all(pending.map(([tempName]) => rm(join(this.root, 'tmp', tempName), { force: true })));
      throw failed.reason;
    }
  }

  async has(sha256: string): Promise<boolean> {
    const st = await lstat(this.pathOf(sha256)).catch(() => undefined);
    return st?.isFile() ?? false;
  }

  async readBytes(sha256: string): Promise<Buffer> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.pathOf(sha256));
    } catch (err) {
      if (isMissing(err)) throw new BlobStoreError('not_found', `blob ${sha256} is not in the blob store`, { cause: err });
      throw err;
    }
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== sha256) throw new BlobStoreError('hash_mismatch', `blob ${sha256} is corrupt: its bytes hash to ${actual}`);
    return bytes;
  }

  async touch(sha256: string): Promise<boolean> {
    const now = new Date();
    try {
      await utimes(this.pathOf(sha256), now, now);
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  async keepAlive(refs: readonly BlobRef[]): Promise<Set<string>> {
    if (refs.length === 0) return new Set();
    const ids = refs.map((r) => r.sha256);
    // Each id becomes a path: all checked at once (one regex over the lot), each again only if one is bad.
    if (!ALL_SHA256.test(`${ids.join('\n')}\n`)) ids.forEach(assertSha256);
    // A batch of lstat (and the odd utimes) in a worker thread: per blob a system call, not an async round trip.
    const missing = await fsPool().run('keepBlobs', { root: this.root, ids, sizes: refs.map((r) => r.size), refreshBeforeMs: Date.now() - REFRESH_AFTER_MS });
    return new Set(missing.map((i) => refs[i]!.sha256));
  }

  async *list(): AsyncIterable<BlobInfo> {
    const shards = (await readdir(join(this.root, 'sha256'))).filter((s) => /^[0-9a-f]{2}$/.test(s)).sort();
    for (const shard of shards) {
      const names = await readdir(join(this.root, 'sha256', shard)).catch(() => [] as string[]);
      for (const name of names.sort()) {
        const sha256 = shard + name;
        if (!SHA256.test(sha256)) continue;
        const st = await lstat(join(this.root, 'sha256', shard, name)).catch(() => undefined);
        if (st?.isFile()) yield { sha256, size: st.size, mtimeMs: st.mtimeMs };
      }
    }
  }

  async delete(sha256: string, opts: { ifOlderThanMs?: number } = {}): Promise<boolean> {
    const path = this.pathOf(sha256);
    if (opts.ifOlderThanMs === undefined) {
      return unlink(path).then(() => true, (err) => (isMissing(err) ? false : Promise.reject(err)));
    }
    // Move the blob out of reach first, then check its age: a writer that touched it before the move is
    // seen here, and one that comes after finds it missing and stores it again. No window loses a blob.
    const aside = join(this.root, 'tmp', `gc-${sha256}-${Date.now()}-${randomBytes(4).toString('hex')}`);
    try {
      await rename(path, aside);
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
    // Missing here means another process took it for a crashed collection's leftover and put it back.
    const st = await lstat(aside).catch((err) => (isMissing(err) ? undefined : Promise.reject(err)));
    if (!st) return false;
    if (st.mtimeMs < opts.ifOlderThanMs) return unlink(aside).then(() => true, (err) => (isMissing(err) ? false : Promise.reject(err)));
    await rename(aside, path);
    return false;
  }

  async recordCaptureRoot(sha256: string): Promise<void> {
    assertSha256(sha256);
    return recordCaptureRoot(this.root, sha256, this.fsync);
  }

  /**
   * Stores files of one folder in a worker thread. The calls of one turn of the event loop go together,
   * a job per lane (fs-jobs.ts storeFilesInDirs): a walk asks for its changed folders a subtree at a time.
   */
  storeFilesIn(dir: AnchoredDir, files: FileToStore[], batch?: BlobBatch): Promise<{ stored: StoredFile[]; bytes: number }> {
    return new Promise((resolve, reject) => {
      if (this.storeRequests.push({ folder: { dir, files }, batch, resolve, reject }) === 1) setImmediate(() => this.sendStoreRequests());
    });
  }

  private sendStoreRequests(): void {
    const requests = this.storeRequests;
    this.storeRequests = [];
    // One job stores for one batch (or none): its blobs wait for that batch's commit.
    const byBatch = new Map<BlobBatch | undefined, StoreRequest[]>();
    for (const request of requests) {
      const group = byBatch.get(request.batch);
      if (group) group.push(request);
      else byBatch.set(request.batch, [request]);
    }
    for (const [batch, together] of byBatch) {
      for (const lane of storeLanes(together, STORE_FILES_LANES)) {
        storePool()
          .run('storeFilesInDirs', { ...this.target(batch), tempPrefix: this.tempName(), folders: lane.map((r) => r.folder) })
          .then(
            (outcomes) =>
              outcomes.forEach((done, i) => {
                if ('error' in done) return lane[i]!.reject(new FsJobError(done.error));
                done.shards.forEach((shard) => this.linkedIn(shard));
                batch?.add(done.pending);
                lane[i]!.resolve(done);
              }),
            (err: Error) => lane.forEach((r) => r.reject(err)),
          );
      }
    }
  }

  /** Where and how the store's worker jobs store blobs (fs-jobs.ts `storeBlob`); in a batch, they wait in their temp files. */
  private target(batch?: BlobBatch): BlobTarget {
    return { blobs: this.root, fsync: this.fsync, refreshBeforeMs: Date.now() - REFRESH_AFTER_MS, defer: batch !== undefined };
  }

  /** A new blob was linked into the shard (two hex digits): the folder exists, and the next flush syncs it. */
  private linkedIn(shard: string): void {
    this.shardsMade.add(shard);
    if (this.fsync) this.unsyncedDirs.add(join(this.root, 'sha256', shard));
  }

  captureRootsSince(sinceMs: number): Promise<string[]> {
    return captureRootsSince(this.root, sinceMs);
  }

  async flush(): Promise<void> {
    if (!this.fsync) return;
    const dirs = [...this.unsyncedDirs];
    this.unsyncedDirs.clear();
    try {
      // Many folders (a snapshot's new blobs land in a few hundred shards): their names by one syncfs.
      if (await this.syncedAsOne(dirs.length, join(this.root, 'sha256'))) return;
      // A few, many at once in the store's worker threads: the block layer merges their cache
      // flushes, where one after the other each waited for its own.
      const lanes = storeLanes(dirs);
      await Promise.all(lanes.map((lane) => storePool().run('syncDirs', { dirs: lane })));
    } catch (err) {
      for (const dir of dirs) this.unsyncedDirs.add(dir); // the next flush tries them again
      throw err;
    }
  }

  /** Removes temp files left by a crash, and puts back blobs a crashed garbage collection had set aside. */
  async cleanTemp(olderThanMs: number): Promise<void> {
    for (const name of await readdir(join(this.root, 'tmp'))) {
      const path = join(this.root, 'tmp', name);
      const st = await lstat(path).catch(() => undefined);
      if (!st) continue;
      const setAside = SET_ASIDE.exec(name);
      if (setAside) {
        if (Date.now() - Number(setAside[2]) < SET_ASIDE_MAX_MS) continue;
        await this.ensureShard(setAside[1]!);
        await rename(path, this.pathOf(setAside[1]!)).catch(() => undefined);
        continue;
      }
      if (st.mtimeMs < olderThanMs) await unlink(path).catch(() => undefined);
    }
  }

  private tempPath(): string {
    return join(this.root, 'tmp', `${this.tempName()}.tmp`);
  }

  /** A temp name no other write of this store (or process) uses: the store's random prefix and a counter. */
  private tempName(): string {
    return `${this.tempPrefix}-${(this.tempCount++).toString(36)}`;
  }

  /** Hashes while copying, so the recorded hash is always the hash of the bytes stored. */
  private async copyHashing(input: FileHandle, temp: string, expectedSize: bigint, onData?: (bytes: number) => void): Promise<BlobRef> {
    const hash = createHash('sha256');
    // One byte more than expected, so a small file is read in one call that also notices growth.
    const buffer = Buffer.allocUnsafe(Number(expectedSize < BigInt(CHUNK) ? expectedSize + 1n : BigInt(CHUNK)));
    const out = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o444);
    let size = 0;
    try {
      for (;;) {
        const { bytesRead } = await input.read(buffer, 0, buffer.length, size);
        if (bytesRead === 0) break;
        const chunk = buffer.subarray(0, bytesRead);
        hash.update(chunk);
        await out.write(chunk, 0, bytesRead, size);
        size += bytesRead;
        onData?.(bytesRead);
        // A short read of a regular file is its end; growth after it shows in the stat compared next.
        if (bytesRead < buffer.length) break;
      }
      if (this.fsync) await out.datasync();
    } finally {
      await out.close();
    }
    return { sha256: hash.digest('hex'), size };
  }

  /**
   * Puts a finished temp file in place, or keeps the blob already there (write-once). link() fails
   * if the name exists, so one call both checks and publishes, and the common case throws nothing.
   */
  private async commit(temp: string, ref: BlobRef): Promise<BlobRef> {
    await this.ensureShard(ref.sha256);
    const path = this.pathOf(ref.sha256);
    try {
      await link(temp, path);
      this.unsyncedDirs.add(join(this.root, 'sha256', ref.sha256.slice(0, 2)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        await unlink(temp).catch(() => undefined);
        throw err;
      }
      if (!(await this.keepExisting(ref))) {
        await rename(temp, path); // a torn blob from a crash: replace it
        this.unsyncedDirs.add(join(this.root, 'sha256', ref.sha256.slice(0, 2)));
        return ref;
      }
    }
    await unlink(temp);
    return ref;
  }

  /**
   * True if the blob exists with the right size (refreshed when older than REFRESH_AFTER_MS); a blob of
   * the wrong size (a torn write after a crash) is replaced by the caller.
   */
  private async keepExisting(ref: BlobRef): Promise<boolean> {
    const st = await lstat(this.pathOf(ref.sha256)).catch(() => undefined);
    if (!st?.isFile() || st.size !== ref.size) return false;
    return st.mtimeMs >= Date.now() - REFRESH_AFTER_MS || (await this.touch(ref.sha256));
  }

  private async ensureShard(sha256: string): Promise<void> {
    const shard = sha256.slice(0, 2);
    if (this.shardsMade.has(shard)) return;
    await mkdir(join(this.root, 'sha256', shard), { recursive: true });
    this.shardsMade.add(shard);
  }
}

/** Opens a regular file for reading; never follows a final symlink and never blocks on a FIFO. */
async function openRegularFile(path: string): Promise<FileHandle> {
  try {
    return await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new BlobStoreError('not_a_file', `${path} is a symbolic link, not a file`, { cause: err });
    throw err;
  }
}
