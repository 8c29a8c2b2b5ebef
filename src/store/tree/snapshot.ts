import type { BigIntStats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { encodeTree, type SkippedPath, type SnapshotTreeResult, type TreeEntry } from '../../domain/trees';
import { BlobStoreError, type BlobRef, type BlobStore } from '../blob-store';
import type { StatCache } from '../stat-cache';
import { changedError, identityOf, TreeAnchor, type Identity, type OpenDir } from './anchor';
import { abortError } from './errors';
import { mapLimit, TaskPool, throttled } from './limit';

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

type Listed = { name: string; stat: BigIntStats } & ({ kind: 'file' | 'dir' } | { kind: 'symlink'; target: string });

const modeOf = (st: BigIntStats) => Number(st.mode & 0o777n);
const relJoin = (dir: string, name: string) => (dir === '' ? name : `${dir}/${name}`);
const errno = (err: unknown) => (err as NodeJS.ErrnoException)?.code;

/** The name as text, or undefined if its bytes are not UTF-8 (a tree object could not hold it). */
function utf8(raw: Buffer): string | undefined {
  const text = raw.toString('utf8');
  return Buffer.from(text, 'utf8').equals(raw) ? text : undefined;
}

function kindName(st: BigIntStats): string {
  if (st.isSocket()) return 'a socket';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device file';
  return 'a special file';
}

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
    const listed = await this.pool.run(() => this.list(rel, id));
    const entries = (await Promise.all(listed.map((item) => this.entryFor(rel, id, item)))).filter((e): e is TreeEntry => !!e);
    const ref = await this.pool.run(() => this.blobs.putBytes(encodeTree(entries)));
    this.referenced.add(ref.sha256);
    this.counts.dirs += rel === '' ? 0 : 1;
    return { sha256: ref.sha256, size: entries.reduce((sum, e) => sum + (e.type === 'symlink' ? 0 : e.size), 0) };
  }

  private async entryFor(parentRel: string, parentId: Identity, item: Listed): Promise<TreeEntry | undefined> {
    const mode = modeOf(item.stat);
    if (item.kind === 'symlink') {
      this.counts.symlinks++;
      return { name: item.name, type: 'symlink', mode, target: item.target };
    }
    if (item.kind === 'dir') {
      const sub = await this.dirTree(relJoin(parentRel, item.name), identityOf(item.stat));
      return { name: item.name, type: 'dir', mode, size: sub.size, sha256: sub.sha256 };
    }
    return this.fileEntry(parentRel, parentId, item);
  }

  private async fileEntry(parentRel: string, parentId: Identity, item: Listed): Promise<TreeEntry | undefined> {
    const rel = relJoin(parentRel, item.name);
    const cached = this.cache?.lookup(rel, item.stat);
    if (cached && (await this.pool.run(() => this.blobs.touch(cached)))) {
      this.fileDone(cached, Number(item.stat.size), 'reused');
      return { name: item.name, type: 'file', mode: modeOf(item.stat), size: Number(item.stat.size), sha256: cached };
    }
    const hashed = await this.pool.run(() => this.hashFile(parentRel, parentId, item));
    if (!hashed) return undefined;
    this.cache?.record(rel, hashed.stat, hashed.ref.sha256, this.hashedAtNs);
    this.fileDone(hashed.ref.sha256, hashed.ref.size, 'hashed');
    this.maybeSaveCache();
    return { name: item.name, type: 'file', mode: modeOf(hashed.stat), size: hashed.ref.size, sha256: hashed.ref.sha256 };
  }

  /**
   * Stores one file with the stat taken when it was opened: putFile refuses a file that changes while
   * read, and a change before that only makes the recorded stat older, which can never match later.
   * A file replaced (an editor saving by rename) or written while read is read again; undefined if gone.
   */
  private async hashFile(parentRel: string, parentId: Identity, item: Listed): Promise<{ ref: BlobRef; stat: BigIntStats } | undefined> {
    const rel = relJoin(parentRel, item.name);
    let expected = item.stat;
    for (let attempt = 1; ; attempt++) {
      const opened = await this.anchor.openFile(rel, identityOf(expected));
      if (!opened) {
        const again = await this.relist(parentRel, parentId, item.name);
        if (!again) return undefined;
        if (again.kind !== 'file' || attempt >= READ_ATTEMPTS) throw changedError(rel, 'kept being replaced');
        expected = again.stat;
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

  /** Lists a directory through its own descriptor: names, lstat, link targets; nothing is followed. */
  private async list(rel: string, id: Identity): Promise<Listed[]> {
    const dir = await this.anchor.openDir(rel, id);
    try {
      const names = await readdir(dir.base, { encoding: 'buffer' });
      const items = await mapLimit(names, 32, (raw) => this.describe(dir, raw));
      return items.filter((item): item is Listed => !!item);
    } finally {
      await dir.close();
    }
  }

  private async relist(parentRel: string, parentId: Identity, name: string): Promise<Listed | undefined> {
    const dir = await this.anchor.openDir(parentRel, parentId);
    try {
      return await this.describe(dir, Buffer.from(name, 'utf8'));
    } finally {
      await dir.close();
    }
  }

  private async describe(dir: OpenDir, raw: Buffer): Promise<Listed | undefined> {
    const name = utf8(raw);
    if (name === undefined) return this.skip(dir.relOf(raw.toString('utf8')), 'its name is not valid UTF-8');
    const path = dir.child(name);
    let stat: BigIntStats;
    try {
      stat = await lstat(path, { bigint: true });
    } catch (err) {
      if (errno(err) === 'ENOENT') return undefined; // deleted while we listed: not part of the snapshot
      throw err;
    }
    if (stat.isFile()) return { kind: 'file', name, stat };
    if (stat.isDirectory()) return { kind: 'dir', name, stat };
    if (!stat.isSymbolicLink()) return this.skip(dir.relOf(name), `${kindName(stat)} cannot be part of a snapshot`);
    let target: string | undefined;
    try {
      target = utf8(await readlink(path, { encoding: 'buffer' }));
    } catch (err) {
      if (errno(err) === 'ENOENT') return undefined;
      if (errno(err) === 'EINVAL') throw changedError(dir.relOf(name), 'stopped being a symbolic link', err);
      throw err;
    }
    if (target === undefined) return this.skip(dir.relOf(name), 'its link target is not valid UTF-8');
    return { kind: 'symlink', name, stat, target };
  }

  private skip(path: string, reason: string): undefined {
    this.skipped.push({ path, reason });
    return undefined;
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
