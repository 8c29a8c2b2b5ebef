import type { BigIntStats } from 'node:fs';
import type { SkippedPath, SnapshotTreeResult, TreeEntry } from '../../domain/trees';
import { BlobStoreError, type BlobRef, type BlobStore } from '../blob-store';
import type { StatCache } from '../stat-cache';
import { changedError, TreeAnchor, type Identity } from './anchor';
import { abortError } from './errors';
import { encodeTreeEntries } from './encode';
import type { ListedEntry, ListedKind } from './fs-jobs';
import { FsJobError, fsPool } from './fs-pool';
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
}

const READ_ATTEMPTS = 3;
const CACHE_SAVE_INTERVAL_MS = 10_000;

const relJoin = (dir: string, name: string) => (dir === '' ? name : `${dir}/${name}`);
const SPECIAL: Partial<Record<ListedKind, string>> = { socket: 'a socket', fifo: 'a FIFO', device: 'a device file', other: 'a special file' };
/** A listed entry's device and inode, from its decimal device and its stamp (which starts with the inode). */
const identityOfListed = (entry: ListedEntry): Identity => ({ dev: BigInt(entry[4]), ino: BigInt(entry[5].slice(0, entry[5].indexOf(':'))) });

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

class SnapshotWalk {
  // One pool bounds every I/O call; no pooled task waits for another, so it cannot deadlock.
  private readonly pool: TaskPool;
  private readonly referenced = new Set<string>();
  private readonly skipped: SkippedPath[] = [];
  private readonly counts = { files: 0, dirs: 0, symlinks: 0, bytes: 0, hashed: 0, reused: 0 };
  private readonly live: SnapshotProgress = { files: 0, bytes: 0, hashed: 0, reused: 0 };
  private readonly progress;
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
    this.progress = throttled(opts.onProgress && (() => opts.onProgress!({ ...this.live })));
  }

  async run(): Promise<SnapshotTreeResult> {
    try {
      this.pool.assertRunning();
      // Read before any file is: whatever changes from now on gets an mtime at or after this reading.
      this.hashedAtNs = this.cache ? await this.cache.clockNs() : 0n;
      const root = await this.dirTree('', this.anchor.rootIdentity);
      this.cache?.pruneUnvisited();
      await this.cache?.save();
      await this.blobs.flush();
      this.progress.flush();
      const { files, dirs, symlinks, bytes, hashed, reused } = this.counts;
      return { rootTree: root.sha256, files, dirs, symlinks, bytes, hashedFiles: hashed, reusedFiles: reused, blobs: [...this.referenced].sort(), skipped: this.skipped };
    } catch (err) {
      this.pool.stop(err as Error);
      await this.pool.idle();
      await this.cache?.save().catch(() => undefined);
      if (this.opts.signal?.aborted) throw abortError(this.opts.signal);
      throw err;
    }
  }

  /** Snapshots one directory after its children; returns its tree object's id and the bytes below it. */
  private async dirTree(rel: string, id: Identity): Promise<BlobRef> {
    const listed = await this.pool.run(() => this.listing(rel, id));
    const reused = await this.reusable(rel, listed);
    const entries: TreeEntry[] = [];
    const pending: Array<Promise<TreeEntry | undefined>> = [];
    for (const item of listed) {
      const [name, kind, mode, size] = item;
      if (kind === 'symlink') {
        this.counts.symlinks++;
        entries.push({ name, type: 'symlink', mode, target: item[6]! });
      } else if (kind === 'dir') {
        pending.push(this.dirTree(relJoin(rel, name), identityOfListed(item)).then((sub) => ({ name, type: 'dir', mode, size: sub.size, sha256: sub.sha256 })));
      } else if (reused.has(name)) {
        const sha256 = reused.get(name)!;
        this.fileDone(sha256, size, 'reused');
        entries.push({ name, type: 'file', mode, size, sha256 });
      } else {
        pending.push(this.fileEntry(rel, id, item));
      }
    }
    for (const entry of await Promise.all(pending)) if (entry) entries.push(entry);
    const ref = await this.pool.run(() => this.blobs.putBytes(encodeTreeEntries(entries)));
    this.referenced.add(ref.sha256);
    this.counts.dirs += rel === '' ? 0 : 1;
    return { sha256: ref.sha256, size: entries.reduce((sum, e) => sum + (e.type === 'symlink' ? 0 : e.size), 0) };
  }

  /** The files of a listing the stat cache knows unchanged and whose blobs are still there, by name → sha256. */
  private async reusable(rel: string, listed: ListedEntry[]): Promise<Map<string, string>> {
    const known = new Map<string, string>();
    if (!this.cache) return known;
    const refs: BlobRef[] = [];
    for (const [name, kind, , size, , stamp] of listed) {
      const cached = kind === 'file' ? this.cache.lookupStamp(rel, name, stamp) : undefined;
      if (!cached) continue;
      known.set(name, cached);
      refs.push({ sha256: cached, size });
    }
    if (known.size === 0) return known;
    const missing = await this.pool.run(() => this.blobs.keepAlive(refs));
    if (missing.size) for (const [name, sha256] of known) if (missing.has(sha256)) known.delete(name);
    return known;
  }

  private async fileEntry(parentRel: string, parentId: Identity, item: ListedEntry): Promise<TreeEntry | undefined> {
    const rel = relJoin(parentRel, item[0]);
    const hashed = await this.pool.run(() => this.hashFile(parentRel, parentId, item));
    if (!hashed) return undefined;
    this.cache?.record(rel, hashed.stat, hashed.ref.sha256, this.hashedAtNs);
    this.fileDone(hashed.ref.sha256, hashed.ref.size, 'hashed');
    this.maybeSaveCache();
    return { name: item[0], type: 'file', mode: Number(hashed.stat.mode & 0o777n), size: hashed.ref.size, sha256: hashed.ref.sha256 };
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
    return (await this.listing(parentRel, parentId, name))[0];
  }

  /**
   * Lists a directory through its own descriptor (in a worker: names, lstat, link targets; nothing is
   * followed), without the entries a snapshot cannot hold, which are listed in `skipped`.
   */
  private async listing(rel: string, id: Identity, only?: string): Promise<ListedEntry[]> {
    let entries: ListedEntry[];
    try {
      entries = await fsPool().run('listDir', { dir: this.anchor.dirForJob(rel, id), only });
    } catch (err) {
      if (err instanceof FsJobError && err.code === 'ECHANGED') throw changedError(rel, 'was moved or replaced', err);
      throw err;
    }
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

  private skip(path: string, reason: string): void {
    this.skipped.push({ path, reason });
  }

  private bytesRead(n: number): void {
    this.pool.assertRunning(); // lets an abort stop a long copy midway
    this.live.bytes += n;
    this.progress.tick();
  }

  private fileDone(sha256: string, size: number, how: 'hashed' | 'reused'): void {
    this.referenced.add(sha256);
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
  private maybeSaveCache(): void {
    if (!this.cache) return;
    this.hashedSinceSave++;
    const since = Date.now() - this.lastSave;
    if (this.hashedSinceSave < (this.opts.saveCacheEvery ?? 500) && since < CACHE_SAVE_INTERVAL_MS) return;
    if (since < 20 * this.lastSaveTook) return;
    this.hashedSinceSave = 0;
    this.lastSave = Date.now();
    const started = Date.now();
    this.cache.save().then(
      () => (this.lastSaveTook = Date.now() - started),
      () => undefined,
    );
  }
}
