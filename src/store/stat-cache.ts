import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, open, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

// Per-instance memory of file hashes, keyed by relative path, so an unchanged file is never read twice.
// It is only ever an optimisation: an entry is trusted only while the file's stat is identical, and a
// missing, stale or corrupt cache file costs re-hashing, never a wrong hash.

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
}

/**
 * On disk: the hex SHA-256 of the JSON text, a newline, then the JSON text. The checksum is why a save
 * needs no fsync: a file torn by a power cut fails it and the cache starts empty (costing re-hashing,
 * never a wrong hash), and an older intact file only holds entries that were true for their stamps.
 * Each entry is [relative path, stamp, sha256, index into hashedAt]: a walk hashes most files under one
 * clock reading, so the readings are listed once.
 */
interface CacheFileV2 {
  version: 2;
  writtenAtNs: string;
  hashedAt: string[];
  entries: Array<[string, string, string, number]>;
}

/** Version 1 (one object per entry, no checksum), still read so an upgrade does not re-hash everything. */
interface CacheFileV1 {
  version: 1;
  writtenAtNs: string;
  entries: Record<string, { ino: string; size: string; mtimeNs: string; ctimeNs: string; sha256: string; hashedAtNs: string }>;
}

const SHA256 = /^[0-9a-f]{64}$/;
const DIGITS = /^(0|[1-9][0-9]*)$/;
const STAMP = /^(?:0|[1-9][0-9]*):(?:0|[1-9][0-9]*):(0|[1-9][0-9]*):(?:0|[1-9][0-9]*)$/;
const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');
/** a < b for decimal numbers without leading zeros, without parsing them. */
const decimalLess = (a: string, b: string) => (a.length !== b.length ? a.length < b.length : a < b);
const splitRel = (rel: string): [string, string] => {
  const slash = rel.lastIndexOf('/');
  return slash < 0 ? ['', rel] : [rel.slice(0, slash), rel.slice(slash + 1)];
};

/**
 * Caches handed back after a walk (`release`), by path, with the stamp of the file as they last read or
 * wrote it: the next open of that file (the instance's next snapshot, in a server that keeps running)
 * takes the cache as it is instead of parsing the file again, as long as the file is still exactly
 * that one. A cache is taken out while in use, so two walks never share one; the most recent few are kept.
 */
const released = new Map<string, { cache: StatCache; fileStamp: string }>();
const RELEASED_KEPT = 8;

/** A stat cache backed by one file (outside the files tree); writes are atomic (temp + rename). */
export class StatCache {
  // Folder → name → entry, so a walk finds a folder's entries without building each file's path.
  private readonly dirs = new Map<string, Map<string, Entry>>();
  private generation = 1;
  // Changes made, and how many of them the file on disk holds: a walk that changed nothing saves nothing.
  private changes = 0;
  private savedChanges = 0;
  private saving: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;
  private writtenAtNs = 0n;
  /** The stamp of the file as this cache last read or wrote it, if it did. */
  private fileStamp: string | undefined;

  private constructor(readonly path: string) {}

  /** Loads the cache at `path` (or takes it as released, if the file is unchanged); a missing, torn or unreadable file gives an empty cache. */
  static async open(path: string): Promise<StatCache> {
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
      if (text.startsWith('{')) cache.loadV1(JSON.parse(text) as CacheFileV1);
      else {
        const json = text.slice(65);
        if (text[64] === '\n' && text.slice(0, 64) === sha256Hex(json)) cache.loadV2(JSON.parse(json) as CacheFileV2);
      }
    } catch {
      cache.dirs.clear();
    }
    return cache;
  }

  private loadV2(file: CacheFileV2): void {
    if (file?.version !== 2 || !Array.isArray(file.entries) || !Array.isArray(file.hashedAt) || !DIGITS.test(String(file.writtenAtNs))) return;
    this.writtenAtNs = BigInt(file.writtenAtNs);
    const written = file.writtenAtNs;
    // An entry can never be newer than the save that wrote it; clamp in case the file was edited by hand.
    const readings = file.hashedAt.map((t) => (DIGITS.test(String(t)) && decimalLess(t, written) ? t : written));
    for (const e of file.entries) {
      if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'string' || !SHA256.test(String(e[2])) || readings[e[3]] === undefined) continue;
      this.set(e[0], e[1], e[2], readings[e[3]]!, 0);
    }
  }

  private loadV1(file: CacheFileV1): void {
    if (file?.version !== 1 || typeof file.entries !== 'object' || file.entries === null) return;
    const written = DIGITS.test(String(file.writtenAtNs)) ? file.writtenAtNs : '0';
    this.writtenAtNs = BigInt(written);
    for (const [rel, e] of Object.entries(file.entries)) {
      if (!DIGITS.test(String(e?.hashedAtNs)) || !SHA256.test(String(e.sha256))) continue;
      this.set(rel, `${e.ino}:${e.size}:${e.mtimeNs}:${e.ctimeNs}`, e.sha256, decimalLess(e.hashedAtNs, written) ? e.hashedAtNs : written, 0);
    }
  }

  /** Stores an entry; a malformed stamp is dropped (it could never match, and must not be trusted). */
  private set(relPath: string, stamp: string, sha256: string, hashedAtNs: string, seen: number): void {
    const mtime = STAMP.exec(stamp)?.[1];
    if (mtime === undefined) return;
    const [dir, name] = splitRel(relPath);
    let names = this.dirs.get(dir);
    if (!names) this.dirs.set(dir, (names = new Map()));
    names.set(name, { stamp, sha256, hashedAtNs, trusted: decimalLess(mtime, hashedAtNs), seen });
  }

  /**
   * Hands the cache back once its walk is over: the next `open` of the same file may reuse it. The
   * caller must not use it afterwards.
   */
  release(): void {
    if (this.fileStamp === undefined) return;
    released.delete(this.path);
    released.set(this.path, { cache: this, fileStamp: this.fileStamp });
    for (const path of released.keys()) {
      if (released.size <= RELEASED_KEPT) break;
      released.delete(path);
    }
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
    return this.lookupStamp(dir, name, stampOf(stat));
  }

  /** `lookup` for the file `name` in the folder `dirRel`, with its stamp as `stampOf` writes it. */
  lookupStamp(dirRel: string, name: string, stamp: string): string | undefined {
    const e = this.dirs.get(dirRel)?.get(name);
    if (!e) return undefined;
    e.seen = this.generation;
    return e.trusted && e.stamp === stamp ? e.sha256 : undefined;
  }

  /** Remembers that the file with `stat` hashed to `sha256`; `hashedAtNs` is a `clockNs()` reading taken before reading it. */
  record(relPath: string, stat: FileStamp, sha256: string, hashedAtNs: bigint): void {
    if (!SHA256.test(sha256)) throw new RangeError(`not a sha256: ${sha256}`);
    this.set(relPath, stampOf(stat), sha256, String(hashedAtNs), this.generation);
    this.changes++;
  }

  /** Forgets entries for paths neither looked up nor recorded since the last prune (files that are gone). */
  pruneUnvisited(): number {
    let pruned = 0;
    for (const [dir, names] of this.dirs) {
      for (const [name, e] of names) {
        if (e.seen !== this.generation) {
          names.delete(name);
          pruned++;
        }
      }
      if (names.size === 0) this.dirs.delete(dir);
    }
    this.generation++;
    this.changes += pruned;
    return pruned;
  }

  /**
   * The file system's own clock, read from the mtime of a file it just wrote: file timestamps come from
   * the kernel's coarse clock, which lags `Date.now()`, so only this reading is comparable with them.
   */
  async clockNs(): Promise<bigint> {
    const stamp = `${this.path}.clock`;
    await mkdir(dirname(stamp), { recursive: true });
    await writeFile(stamp, randomBytes(1));
    return (await lstat(stamp, { bigint: true })).mtimeNs;
  }

  /**
   * Writes the cache atomically, unless the file already holds every change. Safe to call while a walk
   * runs: saves queue up, and a burst collapses into one.
   */
  save(): Promise<void> {
    if (this.queued) return this.queued;
    if (this.changes === this.savedChanges) return this.saving;
    const next = this.saving.then(() => this.writeNow());
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
    const entries: CacheFileV2['entries'] = [];
    for (const [dir, names] of this.dirs) {
      for (const [name, e] of names) {
        let index = readings.get(e.hashedAtNs);
        if (index === undefined) readings.set(e.hashedAtNs, (index = readings.size));
        entries.push([dir === '' ? name : `${dir}/${name}`, e.stamp, e.sha256, index]);
      }
    }
    const json = JSON.stringify({ version: 2, writtenAtNs: String(writtenAtNs), hashedAt: [...readings.keys()], entries } satisfies CacheFileV2);
    const temp = `${this.path}.${randomBytes(6).toString('hex')}.tmp`;
    const handle = await open(temp, 'wx', 0o600);
    try {
      // No fsync: see CacheFileV2 (the checksum turns a torn file into an empty cache).
      await handle.writeFile(`${sha256Hex(json)}\n${json}`);
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
