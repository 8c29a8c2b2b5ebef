import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { blobsNamedIn, cacheFileText, decimalLess, DIGITS, parseCacheFile, type CacheFileV1, type CacheFileV2, type CacheFileV3 } from './stat-cache-file';

// Per-instance memory of file hashes, keyed by relative path, so an unchanged file is never read twice.
// It is only ever an optimisation: an entry is trusted only while the file's stat is identical, and a
// missing, stale or corrupt cache file costs re-hashing, never a wrong hash.

/**
 * The file system's own clock: the mtime (ns) of the file `probe`, just written. File times come from
 * the kernel's coarse clock, which lags `Date.now()`, so only this reading compares with them.
 */
export async function fileSystemClockNs(probe: string): Promise<bigint> {
  await writeFile(probe, randomBytes(1));
  return (await lstat(probe, { bigint: true })).mtimeNs;
}

/** The parts of a file's `lstat(…, { bigint: true })` that say whether it changed. */
export interface FileStamp {
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/**
 * A stamp as one string, `ino:size:mtimeNs:ctimeNs` in decimal: comparing it is one string comparison.
 * The walk's worker threads build the very same text from their lstat (fs-jobs.ts `stampText`).
 */
export const stampOf = (st: FileStamp): string => `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;

interface Entry {
  stamp: string;
  sha256: string;
  /** The file system clock (decimal ns) before the file's bytes were read; see `lookup`. */
  hashedAtNs: string;
  /** The racy-git rule, decided once: the file's mtime was strictly before `hashedAtNs`. */
  trusted: boolean;
  /** The walk (`generation`) that last looked the entry up or recorded it. */
  seen: number;
  /**
   * The blob is known to be in the store and kept there by the garbage collector, which treats every
   * blob a stat cache names as live (garbage.ts). False for entries read from a cache written before
   * that rule (versions 1 and 2): a collector of that time may have removed their blobs, so a walk
   * checks those once (`BlobStore.keepAlive`) before it trusts them.
   */
  verified: boolean;
}

/**
 * What a walk made of one folder: its tree object and counts, under the key of what it saw (the
 * folder's listing and its sub-folders' trees). A walk that sees the same again takes the tree as is,
 * without looking at each file (snapshot.ts).
 */
export interface DirRecord {
  key: string;
  tree: string;
  /** Bytes of every file below the folder (the tree's size). */
  size: number;
  /** Files, symlinks and their bytes directly in the folder. */
  files: number;
  symlinks: number;
  bytes: number;
}

const SHA256 = /^[0-9a-f]{64}$/;
const STAMP = /^(?:0|[1-9][0-9]*):(?:0|[1-9][0-9]*):(0|[1-9][0-9]*):(?:0|[1-9][0-9]*)$/;
const splitRel = (rel: string): [string, string] => {
  const slash = rel.lastIndexOf('/');
  return slash < 0 ? ['', rel] : [rel.slice(0, slash), rel.slice(slash + 1)];
};

/**
 * Caches handed back after a walk (`release`), by path, with the stamp of the file as they last read or
 * wrote it: the next open of that file (the instance's next snapshot, in a server that keeps running)
 * takes the cache as it is instead of parsing the file again, as long as the file is still exactly
 * that one. The most recent few are kept.
 */
const released = new Map<string, { cache: StatCache; fileStamp: string }>();
const RELEASED_KEPT = 8;
/**
 * Caches released while their last save is still being written (a walk defers it past its answer):
 * what they know is final, so `knownContentsAt` reads them without waiting for that save.
 */
const settling = new Map<string, StatCache>();
/**
 * One walk per cache file at a time (this process owns the data directory): a second `open` waits for
 * the first cache's `release`. Two walks of one instance would otherwise each save what they saw, and
 * one could forget (prune) an entry the other is reusing, which the garbage collector relies on.
 */
const inUse = new Map<string, Promise<void>>();

/**
 * What a folder's files are known to hold: the sha256 of the file `name` in `dirRel` while its stamp
 * (`stampOf`) is exactly `stamp`. Nothing is known of a file that changed in any way since it was hashed.
 */
export interface KnownContents {
  knowsDir(dirRel: string): boolean;
  sha256Of(dirRel: string, name: string, stamp: string): string | undefined;
}

/** A stat cache backed by one file (outside the files tree); writes are atomic (temp + rename). */
export class StatCache {
  // Folder → name → entry, so a walk finds a folder's entries without building each file's path.
  private readonly dirs = new Map<string, Map<string, Entry>>();
  // `seen`: the walk that last reused or recorded it; `reused`: the last that took it as is (and so
  // looked at none of the folder's file entries, which must not be pruned for that).
  private readonly records = new Map<string, DirRecord & { seen: number; reused: number }>();
  private generation = 1;
  // Changes made, and how many of them the file on disk holds: a walk that changed nothing saves nothing.
  private changes = 0;
  private savedChanges = 0;
  private saving: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;
  private writtenAtNs = 0n;
  /** The stamp of the file as this cache last read or wrote it, if it did. */
  private fileStamp: string | undefined;
  private unlock: (() => void) | undefined;

  private constructor(readonly path: string) {}

  /**
   * Loads the cache at `path` (or takes it as released, if the file is unchanged), once the walk using
   * it before has released it; a missing, torn or unreadable file gives an empty cache. The caller must
   * `release()` it when done, also on failure.
   */
  static async open(path: string): Promise<StatCache> {
    while (inUse.has(path)) await inUse.get(path);
    let unlock!: () => void;
    inUse.set(path, new Promise<void>((resolve) => (unlock = resolve)));
    const free = () => {
      inUse.delete(path);
      unlock();
    };
    try {
      const cache = await StatCache.load(path);
      cache.unlock = free;
      return cache;
    } catch (err) {
      free();
      throw err;
    }
  }

  /** Runs `work` with the cache at `path`, released afterwards whatever happens. */
  static async use<T>(path: string, work: (cache: StatCache) => Promise<T>): Promise<T> {
    const cache = await StatCache.open(path);
    try {
      return await work(cache);
    } finally {
      cache.release();
    }
  }

  private static async load(path: string): Promise<StatCache> {
    const kept = released.get(path);
    if (kept) {
      released.delete(path);
      const st = await lstat(path, { bigint: true }).catch(() => undefined);
      if (st && stampOf(st) === kept.fileStamp) return kept.cache;
    }
    const cache = new StatCache(path);
    let text: string;
    try {
      const handle = await open(path, 'r');
      try {
        cache.fileStamp = stampOf(await handle.stat({ bigint: true }));
        text = await handle.readFile('utf8');
      } finally {
        await handle.close();
      }
    } catch {
      return cache;
    }
    try {
      const file = parseCacheFile(text);
      if (file?.version === 1) cache.loadV1(file);
      else if (file) cache.loadV2Or3(file);
    } catch {
      cache.dirs.clear();
      cache.records.clear();
    }
    return cache;
  }

  /**
   * Every blob the cache file at `path` names (file contents, and folders' tree objects), whatever its
   * version; none for a missing or torn file. The garbage collector keeps them (garbage.ts).
   */
  static async blobsNamedBy(path: string): Promise<{ files: string[]; trees: string[] }> {
    const text = await readFile(path, 'utf8').catch(() => undefined);
    return blobsNamedIn(text);
  }

  private loadV2Or3(file: CacheFileV2 | CacheFileV3): void {
    if ((file?.version !== 2 && file?.version !== 3) || !Array.isArray(file.entries) || !Array.isArray(file.hashedAt) || !DIGITS.test(String(file.writtenAtNs))) return;
    this.writtenAtNs = BigInt(file.writtenAtNs);
    const written = file.writtenAtNs;
    // An entry can never be newer than the save that wrote it; clamp in case the file was edited by hand.
    const readings = file.hashedAt.map((t) => (DIGITS.test(String(t)) && decimalLess(t, written) ? t : written));
    for (const e of file.entries) {
      if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'string' || !SHA256.test(String(e[2])) || readings[e[3]] === undefined) continue;
      this.set(e[0], e[1], e[2], readings[e[3]]!, 0, file.version === 3 && (e as CacheFileV3['entries'][number])[4] === 1);
    }
    if (file.version !== 3 || !Array.isArray(file.dirs)) return;
    for (const d of file.dirs) {
      if (!Array.isArray(d) || typeof d[0] !== 'string' || typeof d[1] !== 'string' || !SHA256.test(String(d[2])) || !d.slice(3).every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) continue;
      this.records.set(d[0], { key: d[1], tree: d[2], size: d[3], files: d[4], symlinks: d[5], bytes: d[6], seen: 0, reused: 0 });
    }
  }

  private loadV1(file: CacheFileV1): void {
    if (file?.version !== 1 || typeof file.entries !== 'object' || file.entries === null) return;
    const written = DIGITS.test(String(file.writtenAtNs)) ? file.writtenAtNs : '0';
    this.writtenAtNs = BigInt(written);
    for (const [rel, e] of Object.entries(file.entries)) {
      if (!DIGITS.test(String(e?.hashedAtNs)) || !SHA256.test(String(e.sha256))) continue;
      this.set(rel, `${e.ino}:${e.size}:${e.mtimeNs}:${e.ctimeNs}`, e.sha256, decimalLess(e.hashedAtNs, written) ? e.hashedAtNs : written, 0, false);
    }
  }

  /** Stores an entry; a malformed stamp is dropped (it could never match, and must not be trusted). */
  private set(relPath: string, stamp: string, sha256: string, hashedAtNs: string, seen: number, verified: boolean): void {
    const mtime = STAMP.exec(stamp)?.[1];
    if (mtime === undefined) return;
    const [dir, name] = splitRel(relPath);
    let names = this.dirs.get(dir);
    if (!names) this.dirs.set(dir, (names = new Map()));
    names.set(name, { stamp, sha256, hashedAtNs, trusted: decimalLess(mtime, hashedAtNs), seen, verified });
  }

  /**
   * Hands the cache back once its walk is over: the next `open` of the same file may start (once the
   * last save is written), and may reuse it. The caller must not use it afterwards.
   */
  release(): void {
    const unlock = this.unlock;
    this.unlock = undefined;
    settling.set(this.path, this);
    // After any save still being written (a walk may leave its last one running): the next walk then
    // finds the file as saved, and takes this cache as it is.
    void this.saving.then(() => {
      if (this.fileStamp !== undefined) {
        released.delete(this.path);
        released.set(this.path, { cache: this, fileStamp: this.fileStamp });
        for (const path of released.keys()) {
          if (released.size <= RELEASED_KEPT) break;
          released.delete(path);
        }
      }
      if (settling.get(this.path) === this) settling.delete(this.path);
      unlock?.();
    });
  }

  get size(): number {
    let n = 0;
    for (const names of this.dirs.values()) n += names.size;
    return n;
  }

  /** The file system's clock at the last save (0 before the first); informational. */
  get lastWrittenAtNs(): bigint {
    return this.writtenAtNs;
  }

  /**
   * The sha256 recorded for `relPath` if the file is unchanged: ino, size, mtime and ctime all equal,
   * and (racy-git) its mtime strictly before the clock reading taken before it was hashed — a file
   * written in the same clock tick as, or after, that reading may have changed without changing its
   * stat, so it is hashed again. That reading is never later than the save that recorded the entry.
   */
  lookup(relPath: string, stat: FileStamp): string | undefined {
    const [dir, name] = splitRel(relPath);
    return this.lookupStamp(dir, name, stampOf(stat))?.sha256;
  }

  /** `lookup` for the file `name` in the folder `dirRel`, with its stamp as `stampOf` writes it; says whether its blob is verified. */
  lookupStamp(dirRel: string, name: string, stamp: string): { sha256: string; verified: boolean } | undefined {
    const e = this.dirs.get(dirRel)?.get(name);
    if (!e) return undefined;
    e.seen = this.generation;
    return StatCache.matches(e, stamp) ? e : undefined;
  }

  /** The rule of every lookup: the entry is trusted (racy git) and the file's stamp is the one hashed. */
  private static matches(e: Entry, stamp: string): boolean {
    return e.trusted && e.stamp === stamp;
  }

  /**
   * What the cache at `path` trusts: taken from a cache just released (its last save may still be under
   * way; a restore's safety snapshot defers its save past its commit, and the restore need not wait for
   * it), else from the cache once no walk holds it.
   */
  static async knownContentsAt(path: string): Promise<KnownContents> {
    return settling.get(path)?.knownContents() ?? StatCache.use(path, async (cache) => cache.knownContents());
  }

  /**
   * What the cache trusts (see `lookup`), for a restore that skips the files already holding what it
   * would write (materialize.ts `KnownContents`). A read-only view that neither holds the cache nor
   * counts as a walk's visit: the cache may be released at once (a snapshot of the instance need not
   * wait for the restore), and whatever a later walk records or prunes meanwhile is as true.
   */
  knownContents(): KnownContents {
    return {
      knowsDir: (dirRel) => {
        for (const e of this.dirs.get(dirRel)?.values() ?? []) if (e.trusted) return true;
        return false;
      },
      sha256Of: (dirRel, name, stamp) => {
        const e = this.dirs.get(dirRel)?.get(name);
        return e && StatCache.matches(e, stamp) ? e.sha256 : undefined;
      },
    };
  }

  /** Notes that the blob of the entry `name` in `dirRel` was found in the store (see `Entry.verified`). */
  markVerified(dirRel: string, name: string): void {
    const e = this.dirs.get(dirRel)?.get(name);
    if (e && !e.verified) {
      e.verified = true;
      this.changes++;
    }
  }

  /** Remembers that the file with `stat` hashed to `sha256`; `hashedAtNs` is a `clockNs()` reading taken before reading it. */
  record(relPath: string, stat: FileStamp, sha256: string, hashedAtNs: bigint): void {
    this.recordStamp(relPath, stampOf(stat), sha256, hashedAtNs);
  }

  /** `record` with the file's stamp as `stampOf` writes it. */
  recordStamp(relPath: string, stamp: string, sha256: string, hashedAtNs: bigint): void {
    if (!SHA256.test(sha256)) throw new RangeError(`not a sha256: ${sha256}`);
    this.set(relPath, stamp, sha256, String(hashedAtNs), this.generation, true);
    this.changes++;
  }

  /**
   * The folder's record if it was made under `key`: the walk may then take its tree as is. Counts as a
   * visit of the folder and of every file entry in it (none is pruned).
   */
  reuseDir(rel: string, key: string): DirRecord | undefined {
    const record = this.records.get(rel);
    if (!record || record.key !== key) return undefined;
    record.seen = record.reused = this.generation;
    return record;
  }

  /** Records what the walk made of a folder, for the next walk (only when every file in it was trusted). */
  recordDir(rel: string, record: DirRecord): void {
    const old = this.records.get(rel);
    this.records.set(rel, { ...record, seen: this.generation, reused: 0 });
    if (old?.key !== record.key || old.tree !== record.tree) this.changes++;
  }

  /** Forgets entries for paths neither looked up nor recorded since the last prune (files that are gone), and folders not visited. */
  pruneUnvisited(): number {
    let pruned = 0;
    for (const [dir, names] of this.dirs) {
      if (this.records.get(dir)?.reused === this.generation) continue; // taken as is: its files are all still there
      for (const [name, e] of names) {
        if (e.seen !== this.generation) {
          names.delete(name);
          pruned++;
        }
      }
      if (names.size === 0) this.dirs.delete(dir);
    }
    for (const [dir, record] of this.records) {
      if (record.seen !== this.generation) {
        this.records.delete(dir);
        pruned++;
      }
    }
    this.generation++;
    this.changes += pruned;
    return pruned;
  }

  /** The file system's clock (fileSystemClockNs), probed beside the cache file. */
  async clockNs(): Promise<bigint> {
    await mkdir(dirname(this.path), { recursive: true });
    return fileSystemClockNs(`${this.path}.clock`);
  }

  /**
   * Writes the cache atomically, unless the file already holds every change. Safe to call while a walk
   * runs: saves queue up, and a burst collapses into one.
   */
  save(): Promise<void> {
    return this.saveAfter(0);
  }

  /**
   * save(), started `delayMs` from now: a walk's last save, which need not compete for the main thread
   * with the snapshot's commit and the answer to its caller. Like any save, `release` waits for it.
   */
  saveAfter(delayMs: number): Promise<void> {
    if (this.queued) return this.queued;
    if (this.changes === this.savedChanges) return this.saving;
    const next = this.saving.then(() => (delayMs > 0 ? new Promise((resolve) => setTimeout(resolve, delayMs)) : undefined)).then(() => this.writeNow());
    this.queued = next;
    this.saving = next.catch(() => undefined);
    return next;
  }

  private async writeNow(): Promise<void> {
    // From here on a new save() call queues another write, so it also covers entries recorded during this one.
    this.queued = undefined;
    const writtenAtNs = await this.clockNs();
    const changes = this.changes;
    const readings = new Map<string, number>();
    const entries: CacheFileV3['entries'] = [];
    for (const [dir, names] of this.dirs) {
      for (const [name, e] of names) {
        let index = readings.get(e.hashedAtNs);
        if (index === undefined) readings.set(e.hashedAtNs, (index = readings.size));
        entries.push([dir === '' ? name : `${dir}/${name}`, e.stamp, e.sha256, index, e.verified ? 1 : 0]);
      }
    }
    const dirs: CacheFileV3['dirs'] = [];
    for (const [rel, r] of this.records) dirs.push([rel, r.key, r.tree, r.size, r.files, r.symlinks, r.bytes]);
    const json = JSON.stringify({ version: 3, writtenAtNs: String(writtenAtNs), hashedAt: [...readings.keys()], entries, dirs } satisfies CacheFileV3);
    const temp = `${this.path}.${randomBytes(6).toString('hex')}.tmp`;
    const handle = await open(temp, 'wx', 0o600);
    try {
      // No fsync: see CacheFileV2 (the checksum turns a torn file into an empty cache).
      await handle.writeFile(cacheFileText(json));
    } catch (err) {
      await handle.close();
      await unlink(temp).catch(() => undefined);
      throw err;
    }
    await handle.close();
    await rename(temp, this.path);
    this.writtenAtNs = writtenAtNs;
    this.savedChanges = changes;
    this.fileStamp = stampOf(await lstat(this.path, { bigint: true }));
  }
}
