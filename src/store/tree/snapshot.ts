import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import type { SkippedPath, SnapshotTreeResult, TreeEntry } from '../../domain/trees';
import { BlobStoreError, type BlobRef, type BlobStore } from '../blob-store';
import type { BlobBatch } from '../blob-batch';
import { stampOf, type StatCache } from '../stat-cache';
import { changedError, movedAsConflict, TreeAnchor, type Identity } from './anchor';
import { abortError } from './errors';
import { encodeTreeEntries } from './encode';
import type { FileToStore, ListedEntry, ListedKind } from './fs-jobs';
import { folderKey, identityOfListed, parseListing, TreeListing, type ListedNode } from './listing';
import { fsPool } from './fs-pool';
import { TaskPool, throttled } from './limit';

/** Counts so far, for heartbeats: files done, their bytes, and how many were hashed or reused from the stat cache. */
export interface SnapshotProgress {
  files: number;
  bytes: number;
  hashed: number;
  reused: number;
}

export interface SnapshotOptions {
  onProgress?(progress: SnapshotProgress): void;
  signal?: AbortSignal;
  /** I/O operations in flight (default 16). */
  concurrency?: number;
  /** Save the stat cache after this many newly hashed files (default 500; also every 10 s). */
  saveCacheEvery?: number;
  /**
   * Return without waiting for the stat cache's last save, which starts a moment later (it finishes before
   * the cache is released to the next walk): the walk's result does not depend on it, and a lost save
   * costs only re-hashing.
   */
  deferCacheSave?: boolean;
}

const READ_ATTEMPTS = 3;
/**
 * A deferred last save starts this long after the walk: its JSON (a few MB for 20,000 files) is built
 * on the main thread, which the snapshot's commit and the answer to its caller need first (tens of ms).
 */
const DEFERRED_SAVE_DELAY_MS = 150;
const CACHE_SAVE_INTERVAL_MS = 10_000;

const relJoin = (dir: string, name: string) => (dir === '' ? name : `${dir}/${name}`);
const SPECIAL: Partial<Record<ListedKind, string>> = { socket: 'a socket', fifo: 'a FIFO', device: 'a device file', other: 'a special file' };

/**
 * Records the directory tree at `root` as tree objects and blobs. Symlinks are kept as links (never
 * followed); sockets, FIFOs and devices are skipped and listed in `skipped`. A file unchanged since the
 * stat cache saw it is not read again. Throws the signal's AbortError when aborted, after saving the
 * cache, so a retry starts from what was already hashed.
 */
export async function snapshotTree(root: string, blobs: BlobStore, cache: StatCache | null, opts: SnapshotOptions = {}): Promise<SnapshotTreeResult> {
  const anchor = await TreeAnchor.open(root);
  try {
    return await new SnapshotWalk(anchor, blobs, cache, opts).run();
  } finally {
    await anchor.close();
  }
}

/** A file's tree entry, and whether the next walk may take it from the stat cache unseen. */
interface StoredEntry {
  entry: TreeEntry;
  trusted: boolean;
}

/** Files up to this size are stored in worker threads, in batches of at most BATCH_FILES files and BATCH_BYTES bytes. */
const SMALL_FILE_BYTES = 1 << 20;
const BATCH_FILES = 64;
const BATCH_BYTES = 8 << 20;
/** How often progress is reported even when nothing was done (see `run`). */
const STEADY_PROGRESS_MS = 2000;

class SnapshotWalk {
  // One pool bounds every I/O call; no pooled task waits for another, so it cannot deadlock.
  private readonly pool: TaskPool;
  private readonly skipped: SkippedPath[] = [];
  private readonly counts = { files: 0, dirs: 0, symlinks: 0, bytes: 0, hashed: 0, reused: 0 };
  private readonly live: SnapshotProgress = { files: 0, bytes: 0, hashed: 0, reused: 0 };
  private readonly progress;
  private readonly listing: TreeListing;
  /**
   * The walk's new blobs, made durable together (blob-batch.ts). The stat cache learns of a blob only
   * once it is durable and linked (`afterCommit`), so no saved cache names a blob that might not exist.
   */
  private readonly batch: BlobBatch;
  private hashedAtNs = 0n;
  private hashedSinceSave = 0;
  private lastSave = Date.now();
  private lastSaveTook = 0;

  constructor(
    private readonly anchor: TreeAnchor,
    private readonly blobs: BlobStore,
    private readonly cache: StatCache | null,
    private readonly opts: SnapshotOptions,
  ) {
    this.pool = new TaskPool(opts.concurrency ?? 16, opts.signal);
    this.listing = new TreeListing(anchor, this.pool);
    this.batch = blobs.newBatch();
    this.progress = throttled(opts.onProgress && (() => opts.onProgress!({ ...this.live })));
  }

  async run(): Promise<SnapshotTreeResult> {
    // Progress is reported as files are done; a subtree listed in one job (a folder of a million files)
    // or one long flush reports nothing meanwhile, so a steady report keeps the heartbeat going.
    const steady = this.opts.onProgress ? setInterval(() => this.progress.tick(), STEADY_PROGRESS_MS) : undefined;
    try {
      this.pool.assertRunning();
      // Read before any file's content is: whatever changes from then on gets an mtime at or after this
      // reading (see `trusted`). The listing only stats, so the root is listed meanwhile. Both are
      // settled before either's failure is thrown, so a failed walk never leaves the listing starting.
      const [clock, listed] = await Promise.allSettled([this.cache ? this.cache.clockNs() : 0n, this.listing.start()]);
      if (listed.status === 'rejected') throw listed.reason;
      if (clock.status === 'rejected') throw clock.reason;
      this.hashedAtNs = clock.value;
      const root = await this.dirTree('');
      await this.batch.commit();
      // Before the cache may forget what this walk reused (the next walk prunes), the root is on record:
      // the garbage collector keeps what a recent capture's root reaches until its snapshot commits.
      // Meanwhile the new blobs' names are made durable.
      await Promise.all([this.blobs.recordCaptureRoot(root.sha256), this.blobs.flush()]);
      this.cache?.pruneUnvisited();
      if (this.opts.deferCacheSave) this.cache?.saveAfter(DEFERRED_SAVE_DELAY_MS).catch(() => undefined);
      else await this.cache?.save();
      this.progress.flush();
      const { files, dirs, symlinks, bytes, hashed, reused } = this.counts;
      return { rootTree: root.sha256, files, dirs, symlinks, bytes, hashedFiles: hashed, reusedFiles: reused, skipped: this.skipped };
    } catch (err) {
      this.pool.stop(err as Error);
      await this.listing.settled();
      await this.pool.idle();
      // What was stored so far is committed, so the cache's save lets a retry reuse it.
      await this.batch.commit().catch(() => undefined);
      await this.cache?.save().catch(() => undefined);
      this.progress.flush(); // how far it got, e.g. for a caller that goes on elsewhere
      if (this.opts.signal?.aborted) throw abortError(this.opts.signal);
      throw err;
    } finally {
      clearInterval(steady);
    }
  }

  /**
   * Makes one folder into a tree object after its sub-folders; returns its id and the bytes below it.
   * A folder whose listing and sub-trees are what the stat cache recorded keeps its recorded tree
   * without a look at any file in it.
   */
  private async dirTree(rel: string): Promise<BlobRef> {
    const node = await this.listing.take(rel);
    const subs = await Promise.all(node.children.map(async (child) => [child.slice(child.lastIndexOf('/') + 1), await this.dirTree(child)] as const));
    this.counts.dirs += rel === '' ? 0 : 1;
    const key = this.cache ? folderKey(node.text, subs) : '';
    const record = this.cache?.reuseDir(rel, key);
    if (record) {
      Object.assign(this.counts, { files: this.counts.files + record.files, symlinks: this.counts.symlinks + record.symlinks, bytes: this.counts.bytes + record.bytes, reused: this.counts.reused + record.files });
      Object.assign(this.live, { files: this.live.files + record.files, bytes: this.live.bytes + record.bytes, reused: this.live.reused + record.files });
      this.progress.tick();
      return { sha256: record.tree, size: record.size };
    }
    return this.buildTree(rel, node, new Map(subs), key);
  }

  /** A folder that changed (or that no walk recorded): each entry looked at, files hashed unless the stat cache knows them. */
  private async buildTree(rel: string, node: ListedNode, subs: Map<string, BlobRef>, key: string): Promise<BlobRef> {
    const all = parseListing(node.text);
    const listed = this.kept(rel, all);
    // Recorded for the next walk only if every file in it can be trusted then (see StatCache.lookup),
    // and nothing was skipped (skips are reported by every walk).
    let recordable = listed.length === all.length;
    const reused = await this.reusable(rel, listed);
    const entries: TreeEntry[] = [];
    const toStore: ListedEntry[] = [];
    for (const item of listed) {
      const [name, kind, mode, size] = item;
      if (kind === 'symlink') {
        entries.push({ name, type: 'symlink', mode, target: item[6]! });
      } else if (kind === 'dir') {
        const sub = subs.get(name);
        if (!sub) throw changedError(relJoin(rel, name), 'was moved or replaced');
        entries.push({ name, type: 'dir', mode, size: sub.size, sha256: sub.sha256 });
      } else if (reused.has(name)) {
        const sha256 = reused.get(name)!;
        this.fileDone(size, 'reused');
        entries.push({ name, type: 'file', mode, size, sha256 });
      } else {
        toStore.push(item);
      }
    }
    for (const done of await this.storeFiles(rel, node.id, toStore)) {
      if (!done || !done.trusted) recordable = false;
      if (done) entries.push(done.entry);
    }
    // What the folder's record keeps: its own files and links, and the bytes of all below it.
    let [files, symlinks, bytes, size] = [0, 0, 0, 0];
    for (const e of entries) {
      if (e.type === 'symlink') symlinks++;
      else if (e.type === 'dir') size += e.size;
      else (files++, (bytes += e.size), (size += e.size));
    }
    this.counts.symlinks += symlinks;
    const ref = await this.blobs.putBytes(encodeTreeEntries(entries), this.batch); // queued: written at the commit
    if (this.cache && recordable) this.batch.afterCommit(() => this.cache!.recordDir(rel, { key, tree: ref.sha256, size, files, symlinks, bytes }));
    return { sha256: ref.sha256, size };
  }

  /** The entries of a listing a snapshot can hold; the others are listed in `skipped` (a link that stopped being one fails the walk). */
  private kept(rel: string, entries: ListedEntry[]): ListedEntry[] {
    const kept: ListedEntry[] = [];
    for (const entry of entries) {
      const kind = entry[1];
      if (kind === 'file' || kind === 'dir' || kind === 'symlink') kept.push(entry);
      else if (kind === 'changed') throw changedError(relJoin(rel, entry[0]), 'stopped being a symbolic link');
      else if (kind === 'bad-name') this.skip(relJoin(rel, entry[0]), 'its name is not valid UTF-8');
      else if (kind === 'bad-target') this.skip(relJoin(rel, entry[0]), 'its link target is not valid UTF-8');
      else this.skip(relJoin(rel, entry[0]), `${SPECIAL[kind]} cannot be part of a snapshot`);
    }
    return kept;
  }

  /**
   * The files of a listing the stat cache knows unchanged, by name → sha256. Entries from a cache written
   * before the collector kept what caches name are checked in the store first (found missing: hashed again).
   */
  private async reusable(rel: string, listed: ListedEntry[]): Promise<Map<string, string>> {
    const known = new Map<string, string>();
    if (!this.cache) return known;
    const unverified: Array<{ name: string; ref: BlobRef }> = [];
    for (const [name, kind, , size, , stamp] of listed) {
      const cached = kind === 'file' ? this.cache.lookupStamp(rel, name, stamp) : undefined;
      if (!cached) continue;
      known.set(name, cached.sha256);
      if (!cached.verified) unverified.push({ name, ref: { sha256: cached.sha256, size } });
    }
    if (unverified.length === 0) return known;
    const missing = await this.pool.run(() => this.blobs.keepAlive(unverified.map((u) => u.ref)));
    for (const { name, ref } of unverified) {
      if (missing.has(ref.sha256)) known.delete(name);
      else this.cache.markVerified(rel, name);
    }
    return known;
  }

  /**
   * Hashes files of one folder into the store: small ones in batches in a worker thread, large ones (and
   * any that changed since listed) one by one through `fileEntry`. Undefined for a file that is gone.
   */
  private async storeFiles(rel: string, id: Identity, items: ListedEntry[]): Promise<Array<StoredEntry | undefined>> {
    const storeIn = this.blobs.storeFilesIn?.bind(this.blobs);
    const batches: ListedEntry[][] = [];
    const large: ListedEntry[] = [];
    let batch: ListedEntry[] = [];
    let batchBytes = 0;
    for (const item of items) {
      if (!storeIn || item[3] > SMALL_FILE_BYTES) {
        large.push(item);
        continue;
      }
      if (batch.length >= BATCH_FILES || batchBytes + item[3] > BATCH_BYTES) (batches.push(batch), (batch = []), (batchBytes = 0));
      batch.push(item);
      batchBytes += item[3];
    }
    if (batch.length) batches.push(batch);
    const stored = batches.map(async (files) => {
      const done = await this.pool.run(() => storeIn!(this.anchor.dirForJob(rel, id), files.map((f): FileToStore => [f[0], f[5]]), this.batch)).catch((err) => Promise.reject(movedAsConflict(err, rel)));
      // Recorded before anything may throw (an abort shows in bytesRead): a retry reuses all of them.
      const entries = files.map((item, i) => {
        const outcome = done.stored[i]!;
        if (outcome.length === 1) return undefined;
        const [sha256, size, stamp, mode] = outcome;
        this.recordStamp(relJoin(rel, item[0]), stamp, sha256);
        this.fileDone(size, 'hashed');
        return { entry: { name: item[0], type: 'file' as const, mode, size, sha256 }, trusted: this.trusted(stamp, item[5]) };
      });
      this.maybeSaveCache(entries.filter(Boolean).length);
      this.bytesRead(done.bytes);
      // A file that changed since it was listed takes the careful path (re-listed, read again).
      return Promise.all(files.map((item, i) => entries[i] ?? this.fileEntry(rel, id, item)));
    });
    const results = await Promise.all([...stored, Promise.all(large.map((item) => this.fileEntry(rel, id, item)))]);
    return results.flat();
  }

  /** A file's hash for the stat cache, once its blob (and every blob stored before it) is durable. */
  private recordStamp(rel: string, stamp: string, sha256: string): void {
    const cache = this.cache;
    if (cache) this.batch.afterCommit(() => cache.recordStamp(rel, stamp, sha256, this.hashedAtNs));
  }

  /**
   * Whether the next walk may take a file hashed now from the stat cache unseen: it is the file the
   * listing saw (its stamp), last modified before this walk's clock reading (the racy-git rule).
   */
  private trusted(stamp: string, listedStamp: string): boolean {
    return stamp === listedStamp && BigInt(stamp.split(':')[2]!) < this.hashedAtNs;
  }

  /** Hashes one file into the store (see `trusted`). */
  private async fileEntry(parentRel: string, parentId: Identity, item: ListedEntry): Promise<StoredEntry | undefined> {
    const rel = relJoin(parentRel, item[0]);
    const hashed = await this.pool.run(() => this.hashFile(parentRel, parentId, item));
    if (!hashed) return undefined;
    const stamp = stampOf(hashed.stat);
    this.recordStamp(rel, stamp, hashed.ref.sha256);
    this.fileDone(hashed.ref.size, 'hashed');
    this.maybeSaveCache();
    return { entry: { name: item[0], type: 'file', mode: Number(hashed.stat.mode & 0o777n), size: hashed.ref.size, sha256: hashed.ref.sha256 }, trusted: this.trusted(stamp, item[5]) };
  }

  /**
   * Stores one file with the stat taken when it was opened: putFile refuses a file that changes while
   * read, and a change before that only makes the recorded stat older, which can never match later.
   * A file replaced (an editor saving by rename) or written while read is read again; undefined if gone.
   */
  private async hashFile(parentRel: string, parentId: Identity, item: ListedEntry): Promise<{ ref: BlobRef; stat: BigIntStats } | undefined> {
    const rel = relJoin(parentRel, item[0]);
    let expected = identityOfListed(item);
    for (let attempt = 1; ; attempt++) {
      const opened = await this.anchor.openFile(rel, expected);
      if (!opened) {
        const again = await this.relist(parentRel, parentId, item[0]);
        if (!again) return undefined;
        if (again[1] !== 'file' || attempt >= READ_ATTEMPTS) throw changedError(rel, 'kept being replaced');
        expected = identityOfListed(again);
        continue;
      }
      try {
        return { ref: await this.blobs.putFile(opened.handle, { stat: opened.stat, onData: (n) => this.bytesRead(n) }), stat: opened.stat };
      } catch (err) {
        if (!(err instanceof BlobStoreError && err.kind === 'source_changed')) throw err;
        if (attempt >= READ_ATTEMPTS) throw changedError(rel, `kept changing while it was read (${READ_ATTEMPTS} attempts)`, err);
      } finally {
        await opened.handle.close();
      }
    }
  }

  /** The entry `name` of the directory at `parentRel` as it is now, or undefined if it is gone. */
  private async relist(parentRel: string, parentId: Identity, name: string): Promise<ListedEntry | undefined> {
    const listed = await fsPool().run('listDir', { dir: this.anchor.dirForJob(parentRel, parentId), only: name }).catch((err) => Promise.reject(movedAsConflict(err, parentRel)));
    return listed[0];
  }

  private skip(path: string, reason: string): void {
    this.skipped.push({ path, reason });
  }

  private bytesRead(n: number): void {
    this.pool.assertRunning(); // lets an abort stop a long copy midway
    this.live.bytes += n;
    this.progress.tick();
  }

  private fileDone(size: number, how: 'hashed' | 'reused'): void {
    this.counts.files++;
    this.counts.bytes += size;
    this.counts[how]++;
    this.live.files++;
    this.live[how]++;
    if (how === 'reused') this.live.bytes += size;
    this.progress.tick();
  }

  /**
   * A periodic save lets a killed walk's retry reuse what was hashed; a failed one only costs re-hashing.
   * Each save rewrites the whole cache, so saves are spaced at least 20 times their own duration apart.
   */
  private maybeSaveCache(hashed = 1): void {
    if (!this.cache) return;
    this.hashedSinceSave += hashed;
    const since = Date.now() - this.lastSave;
    if (this.hashedSinceSave < (this.opts.saveCacheEvery ?? 500) && since < CACHE_SAVE_INTERVAL_MS) return;
    if (since < 20 * this.lastSaveTook) return;
    this.hashedSinceSave = 0;
    this.lastSave = Date.now();
    const started = Date.now();
    const cache = this.cache;
    // The blobs first: the save then holds every entry recorded by their commit.
    this.batch.commit().then(() => cache.save()).then(
      () => (this.lastSaveTook = Date.now() - started),
      () => undefined,
    );
  }
}
