import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readFile, rename, unlink, writeFile } from 'node:fs/promises';
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

interface Entry extends FileStamp {
  sha256: string;
  /** The file system clock before the file's bytes were read; see `lookup`. */
  hashedAtNs: bigint;
}

interface CacheFile {
  version: 1;
  writtenAtNs: string;
  entries: Record<string, { ino: string; size: string; mtimeNs: string; ctimeNs: string; sha256: string; hashedAtNs: string }>;
}

const SHA256 = /^[0-9a-f]{64}$/;
const DIGITS = /^[0-9]+$/;

/** A stat cache backed by one JSON file (outside the files tree); writes are atomic (temp + rename). */
export class StatCache {
  private readonly entries = new Map<string, Entry>();
  private readonly visited = new Set<string>();
  private saving: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;
  private writtenAtNs = 0n;

  private constructor(readonly path: string) {}

  /** Loads the cache at `path`; a missing or unreadable file gives an empty cache. */
  static async open(path: string): Promise<StatCache> {
    const cache = new StatCache(path);
    let parsed: CacheFile | undefined;
    try {
      parsed = JSON.parse(await readFile(path, 'utf8')) as CacheFile;
    } catch {
      parsed = undefined;
    }
    if (parsed?.version === 1 && typeof parsed.entries === 'object' && parsed.entries !== null) {
      cache.writtenAtNs = DIGITS.test(String(parsed.writtenAtNs)) ? BigInt(parsed.writtenAtNs) : 0n;
      for (const [rel, e] of Object.entries(parsed.entries)) {
        const numbers = [e?.ino, e?.size, e?.mtimeNs, e?.ctimeNs, e?.hashedAtNs];
        if (!numbers.every((n) => typeof n === 'string' && DIGITS.test(n)) || !SHA256.test(String(e.sha256))) continue;
        const [ino, size, mtimeNs, ctimeNs, hashedAtNs] = numbers.map((n) => BigInt(n as string)) as [bigint, bigint, bigint, bigint, bigint];
        // An entry can never be newer than the save that wrote it; clamp in case the file was edited by hand.
        cache.entries.set(rel, { ino, size, mtimeNs, ctimeNs, sha256: e.sha256, hashedAtNs: hashedAtNs < cache.writtenAtNs ? hashedAtNs : cache.writtenAtNs });
      }
    }
    return cache;
  }

  get size(): number {
    return this.entries.size;
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
    this.visited.add(relPath);
    const e = this.entries.get(relPath);
    if (!e) return undefined;
    const same = e.ino === stat.ino && e.size === stat.size && e.mtimeNs === stat.mtimeNs && e.ctimeNs === stat.ctimeNs;
    return same && stat.mtimeNs < e.hashedAtNs ? e.sha256 : undefined;
  }

  /** Remembers that the file with `stat` hashed to `sha256`; `hashedAtNs` is a `clockNs()` reading taken before reading it. */
  record(relPath: string, stat: FileStamp, sha256: string, hashedAtNs: bigint): void {
    if (!SHA256.test(sha256)) throw new RangeError(`not a sha256: ${sha256}`);
    this.visited.add(relPath);
    this.entries.set(relPath, { ino: stat.ino, size: stat.size, mtimeNs: stat.mtimeNs, ctimeNs: stat.ctimeNs, sha256, hashedAtNs });
  }

  /** Forgets entries for paths neither looked up nor recorded since the last prune (files that are gone). */
  pruneUnvisited(): number {
    let pruned = 0;
    for (const rel of this.entries.keys()) {
      if (!this.visited.has(rel)) {
        this.entries.delete(rel);
        pruned++;
      }
    }
    this.visited.clear();
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

  /** Writes the cache atomically. Safe to call while a walk runs: saves queue up, and a burst collapses into one. */
  save(): Promise<void> {
    if (this.queued) return this.queued;
    const next = this.saving.then(() => this.writeNow());
    this.queued = next;
    this.saving = next.catch(() => undefined);
    return next;
  }

  private async writeNow(): Promise<void> {
    // From here on a new save() call queues another write, so it also covers entries recorded during this one.
    this.queued = undefined;
    const writtenAtNs = await this.clockNs();
    // No prototype: a file may be called "__proto__".
    const out: CacheFile = { version: 1, writtenAtNs: String(writtenAtNs), entries: Object.create(null) };
    for (const [rel, e] of this.entries) {
      out.entries[rel] = { ino: String(e.ino), size: String(e.size), mtimeNs: String(e.mtimeNs), ctimeNs: String(e.ctimeNs), sha256: e.sha256, hashedAtNs: String(e.hashedAtNs) };
    }
    const temp = `${this.path}.${randomBytes(6).toString('hex')}.tmp`;
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(JSON.stringify(out));
      await handle.datasync();
    } catch (err) {
      await handle.close();
      await unlink(temp).catch(() => undefined);
      throw err;
    }
    await handle.close();
    await rename(temp, this.path);
    this.writtenAtNs = writtenAtNs;
  }
}
