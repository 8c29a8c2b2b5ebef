import { lstat, mkdir, readdir, rename, symlink, unlink } from 'node:fs/promises';
import { MaterializeStrategy, type DirEntry, type FileEntry, type MaterializeResult, type SymlinkEntry, type TreeEntry } from '../../domain/trees';
import type { BlobStore } from '../blob-store';
import type { KnownContents } from '../stat-cache';
import { asConflict, identityOf, procFdAvailable, removeEntry, TreeAnchor, type Identity, type OpenDir } from './anchor';
import { canSyncFileSystem, EarlyWriteback, syncFileSystem } from './durability';
import { SmallWrite } from './small-write';
import { abortError, FileTreeError } from './errors';
import { FsJobError, fsPool } from './fs-pool';
import { TaskPool, throttled } from './limit';
import { isLeftover, TEMP_PREFIX, tempName } from './temp-names';
import { readTree, selectPaths, type Selection } from './read';

export interface MaterializeOptions {
  /** Restore only these relative paths (files or folders): absent, or one of them '', means the whole tree; [] means nothing. */
  subPaths?: string[];
  strategy: MaterializeStrategy;
  /** Folders worked on at once (default 16); their files are written by the file-system worker threads. */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?(progress: { files: number; bytes: number }): void;
  /** Make everything written durable before returning (default true); see `Durability`. */
  fsync?: boolean;
  /** Bytes written between two early writebacks of an 'at-end' write (default WRITEBACK_STEP_BYTES); see EarlyWriteback. */
  writebackStepBytes?: number;
  /**
   * What the target's files are known to hold (its stat cache): overwrite and mirror then leave alone a
   * file whose stamp says it holds exactly the bytes and mode the tree has. See `Materializer.stillToWrite`.
   */
  known?: KnownContents;
}

/**
 * How a materialize makes its writes durable. 'at-end': nothing is synced while writing, and one
 * syncfs of the target's file system runs after the last write, before materializeTree returns.
 * Crash safety rests on the caller: an activity reports success only after that, so a crash before it
 * (power loss: files renamed into place whose bytes never reached the disk may be empty or torn) means
 * the activity is retried, and the retry writes every file of the selection again, except those the
 * target's stat cache (`known`) vouches for, which no file touched since it was hashed can match:
 * overwrite and mirror never skip a file for looking done. 'per-file': each file is fsync'ed before it
 * gets its name, for ignore_existing (a retry keeps whatever it finds, so a file must be whole on disk
 * before it is found) and where `sync -f` is not available. 'none': no durability asked for
 * (benchmarks, scratch).
 * A small 'at-end' write (a few files in a few folders: a notice pushed to 500 students) skips the
 * syncfs, which costs a child process and a flush of the whole file system: its files are fsync'ed
 * before their rename, as 'per-file' does, and the folders it changed are fsync'ed at the end.
 */
type Durability = 'at-end' | 'per-file' | 'none';

async function durabilityFor(strategy: MaterializeStrategy, fsync: boolean): Promise<Durability> {
  if (!fsync) return 'none';
  return strategy !== 'ignore_existing' && (await canSyncFileSystem()) ? 'at-end' : 'per-file';
}

// How often progress is reported while the final sync runs.
const SYNC_PROGRESS_MS = 1000;
// A batch of files is one worker job, and a folder's batches all go to one worker (creating files in
// one folder from two threads only contends for its lock): a job per folder for folders of ordinary
// size, split so that no job runs long (an abort waits for the jobs under way).
const BATCH_FILES = 1024;
const BATCH_BYTES = 64 << 20;
let folderCount = 0;

interface Subdir {
  entry: DirEntry;
  id: Identity;
  finalMode: number;
  /** Set for a folder built under a temp name and moved to its own once full (see NewFolders). */
  building?: Building;
}

/**
 * Where the folders a listing lacks are built. 'temp': under a temp name beside their place, then
 * renamed into it once full, so a new folder appears whole (and its files need no rename of their
 * own: no one sees them before the folder). 'inside': in a folder still under its temp name, at their
 * own names. 'in-place': created at their names and filled there (ignore_existing, which must never
 * replace what appears at a name meanwhile, and a read-only folder, where that rename would fail).
 */
type NewFolders = 'temp' | 'inside' | 'in-place';

/** A folder under its temp name, not yet moved into place: removed if the materialize fails. */
interface Building {
  parentRel: string;
  parentId: Identity;
  temp: string;
  name: string;
}

const relJoin = (dir: string, name: string) => (dir === '' ? name : `${dir}/${name}`);

/**
 * Writes the tree (or `subPaths` of it) into `targetDir`. Each file appears whole (temp file + rename),
 * and so does each folder the target lacks (built under a temp name, then renamed; see NewFolders);
 * symlinks are recreated as links; nothing is ever written through a symlink found in the target — a
 * link where a folder belongs is replaced (or, with ignore_existing, left alone and skipped).
 * 'mirror' also removes what the tree does not have, inside the selected paths only.
 */
export async function materializeTree(blobs: BlobStore, rootTree: string, targetDir: string, opts: MaterializeOptions): Promise<MaterializeResult> {
  const strategy = MaterializeStrategy.safeParse(opts.strategy);
  if (!strategy.success) throw new FileTreeError('invalid_input', `unknown strategy ${JSON.stringify(opts.strategy)}: use overwrite, mirror or ignore_existing`);
  const selections = await selectPaths(blobs, rootTree, opts.subPaths);
  await mkdir(targetDir, { recursive: true });
  const durability = await durabilityFor(strategy.data, opts.fsync ?? true);
  const anchor = await TreeAnchor.open(targetDir);
  const small = new SmallWrite(durability === 'at-end');
  const writeback = durability === 'at-end' ? new EarlyWriteback(targetDir, opts.writebackStepBytes) : undefined;
  let result: MaterializeResult;
  let synced = false;
  try {
    result = await new Materializer(anchor, blobs, rootTree, strategy.data, opts, durability, small, writeback).run(selections);
    synced = await small.syncChangedDirs(anchor);
  } finally {
    await writeback?.settled();
    await anchor.close();
  }
  const { filesWritten, symlinksWritten, dirsCreated, removed, filesUnchanged } = result;
  if (durability === 'at-end' && filesWritten + symlinksWritten + dirsCreated + removed + filesUnchanged > 0 && !synced) {
    // Writing back what the page cache holds can take many seconds on a slow disk: progress is reported
    // meanwhile, so the activity's heartbeats go on and a long sync is not taken for a dead worker.
    const report = opts.onProgress && (() => opts.onProgress!({ files: filesWritten, bytes: result.bytes }));
    const timer = report && setInterval(report, SYNC_PROGRESS_MS);
    try {
      await syncFileSystem(targetDir);
    } finally {
      clearInterval(timer);
    }
  }
  return result;
}

/** A failure's message with the paths inside folders still under their temp names given as in the tree. */
function inTreeTerms(err: unknown, unfinished: Building[]): unknown {
  if (!(err instanceof FileTreeError)) return err;
  let message = err.message;
  for (const b of unfinished) {
    // The whole temp name only (`…-1` must not match `…-10`): followed by a slash, a space or the end.
    const escaped = `/${relJoin(b.parentRel, b.temp)}`.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    message = message.replace(new RegExp(`${escaped}(?=[/\\s]|$)`, 'g'), () => `/${relJoin(b.parentRel, b.name)}`);
  }
  return message === err.message ? err : new FileTreeError(err.code, message, { cause: err.cause });
}

class Materializer {
  // A folder task holds its slot (and its open descriptor) while the workers write its files; the
  // workers wait for nothing, so this cannot deadlock.
  private readonly dirPool: TaskPool;
  private readonly result: MaterializeResult = { filesWritten: 0, bytes: 0, symlinksWritten: 0, dirsCreated: 0, removed: 0, keptExisting: 0, filesUnchanged: 0 };
  private readonly progress;
  private readonly keepExisting: boolean;
  private readonly mirror: boolean;
  private readonly building = new Set<Building>();
  private readonly known: KnownContents | undefined;

  constructor(
    private readonly anchor: TreeAnchor,
    private readonly blobs: BlobStore,
    private readonly rootTree: string,
    strategy: MaterializeStrategy,
    private readonly opts: MaterializeOptions,
    private readonly durability: Durability,
    private readonly small: SmallWrite,
    private readonly writeback: EarlyWriteback | undefined,
  ) {
    this.dirPool = new TaskPool(opts.concurrency ?? 16, opts.signal);
    this.keepExisting = strategy === 'ignore_existing';
    this.mirror = strategy === 'mirror';
    // Not with per-file durability: a file left alone there would not be synced (see stillToWrite).
    this.known = !this.keepExisting && durability !== 'per-file' ? opts.known : undefined;
    this.progress = throttled(opts.onProgress && (() => opts.onProgress!({ files: this.result.filesWritten, bytes: this.result.bytes })));
  }

  async run(selections: Selection[]): Promise<MaterializeResult> {
    try {
      for (const selection of selections) await this.apply(selection);
      this.progress.flush();
      return { ...this.result };
    } catch (err) {
      this.dirPool.stop(err as Error);
      await this.dirPool.idle();
      const unfinished = [...this.building];
      await this.removeUnfinished();
      if (this.opts.signal?.aborted) throw abortError(this.opts.signal);
      throw inTreeTerms(err, unfinished);
    }
  }

  private async apply({ parts, chain }: Selection): Promise<void> {
    if (parts.length === 0) return this.fillDir('', this.anchor.rootIdentity, this.rootTree, this.mirror, false);
    let rel = '';
    let id = this.anchor.rootIdentity;
    const made: Array<{ rel: string; id: Identity; mode: number }> = [];
    for (const entry of chain.slice(0, -1) as DirEntry[]) {
      const step = await this.dirPool.run(() => this.ensureDir(rel, id, entry));
      if (!step) return;
      rel = relJoin(rel, entry.name);
      id = step.id;
      if (step.created) made.push({ rel, id, mode: entry.mode });
    }
    // Only the selected entry is written here: its siblings are outside the selection, even for mirror.
    await this.applyEntries(rel, id, [chain[chain.length - 1]!], false, false);
    for (const dir of made.reverse()) await this.setMode(dir.rel, dir.id, dir.mode);
  }

  /** Makes `entry` a real folder under the parent; undefined when ignore_existing keeps something else there. */
  private async ensureDir(parentRel: string, parentId: Identity, entry: DirEntry): Promise<{ id: Identity; created: boolean } | undefined> {
    const dir = await this.anchor.openDir(parentRel, parentId);
    try {
      const existing = await lstat(dir.child(entry.name), { bigint: true }).catch(() => undefined);
      if (existing?.isDirectory()) return { id: identityOf(existing), created: false };
      if (existing && this.keepExisting) {
        this.result.keptExisting++;
        return undefined;
      }
      if (existing) await this.remove(dir, entry.name);
      await mkdir(dir.child(entry.name), 0o700);
      await this.small.dirChanged(dir);
      this.result.dirsCreated++;
      return { id: identityOf(await lstat(dir.child(entry.name), { bigint: true })), created: true };
    } catch (err) {
      throw asConflict(err, dir.relOf(entry.name));
    } finally {
      await dir.close();
    }
  }

  private async fillDir(rel: string, id: Identity, treeSha: string, mirror: boolean, hidden: boolean): Promise<void> {
    await this.applyEntries(rel, id, await readTree(this.blobs, treeSha), mirror, hidden);
  }

  /**
   * Writes `entries` into the folder at `rel`, then fills its sub-folders, then sets their modes (and
   * moves those built under a temp name into place). `hidden`: the folder is one this run created
   * out of sight (under a temp name, or inside such a folder), so it holds nothing else.
   */
  private async applyEntries(rel: string, id: Identity, entries: readonly TreeEntry[], mirror: boolean, hidden: boolean): Promise<void> {
    const subdirs: Subdir[] = [];
    await this.dirPool.run(async () => {
      const dir = await this.anchor.openDir(rel, id);
      const mode = (await dir.handle.stat()).mode & 0o7777;
      const readOnly = (mode & 0o700) !== 0o700;
      try {
        // Owner-writable while we add entries (a read-only folder from an earlier restore), then as it was.
        if (readOnly) await dir.handle.chmod(mode | 0o700);
        const present = hidden ? new Map<string, 'dir'>() : await this.tidy(dir, new Set(entries.map((e) => e.name)), mirror);
        const newFolders: NewFolders = hidden ? 'inside' : this.keepExisting || readOnly ? 'in-place' : 'temp';
        const files: FileEntry[] = [];
        for (const entry of entries) {
          try {
            if (await this.putEntry(dir, id, entry, present.get(entry.name), subdirs, newFolders)) files.push(entry as FileEntry);
          } catch (err) {
            throw asConflict(err, dir.relOf(entry.name));
          }
        }
        await this.writeFiles(dir, hidden ? files : await this.stillToWrite(dir, id, files, present), hidden);
      } finally {
        if (readOnly) await dir.handle.chmod(mode).catch(() => undefined);
        await dir.close();
      }
    });
    await Promise.all(
      subdirs.map(async ({ entry, id: subId, finalMode, building }) => {
        const subRel = relJoin(rel, building?.temp ?? entry.name);
        await this.fillDir(subRel, subId, entry.sha256, this.mirror, hidden || building !== undefined);
        await this.setMode(subRel, subId, finalMode);
        if (building) await this.moveIntoPlace(building);
      }),
    );
  }

  /** Renames a folder built under its temp name to its own, in the same parent (so its mode does not matter). */
  private async moveIntoPlace(building: Building): Promise<void> {
    const { parentRel, parentId, temp, name } = building;
    await this.dirPool.run(async () => {
      const dir = await this.anchor.openDir(parentRel, parentId);
      try {
        // Fails for what appeared at the name meanwhile (ENOTDIR, ENOTEMPTY) unless it is an empty folder.
        await rename(dir.child(temp), dir.child(name));
        await this.small.dirChanged(dir);
      } catch (err) {
        throw asConflict(err, dir.relOf(name));
      } finally {
        await dir.close();
      }
    });
    this.building.delete(building);
    this.small.moved(relJoin(parentRel, temp), relJoin(parentRel, name));
  }

  /** After a failure: removes the folders still under their temp names (a crash leaves them to the next run's tidy). */
  private async removeUnfinished(): Promise<void> {
    for (const { parentRel, parentId, temp } of this.building) {
      const dir = await this.anchor.openDir(parentRel, parentId).catch(() => undefined);
      if (dir) await removeEntry(dir, temp).catch(() => undefined).finally(() => dir.close());
    }
  }

  /**
   * Makes room for one entry (`existing`: what the listing found at its name, if anything) and puts a
   * folder or symlink in place; a folder is only created here and filled later (listed in `subdirs`).
   * True for a file to write.
   */
  private async putEntry(dir: OpenDir, dirId: Identity, entry: TreeEntry, existing: 'dir' | 'other' | undefined, subdirs: Subdir[], newFolders: NewFolders): Promise<boolean> {
    if (entry.type === 'dir' && existing === 'dir') {
      const st = await lstat(dir.child(entry.name), { bigint: true });
      if (st.isDirectory()) {
        // A folder that exists keeps its mode under ignore_existing; we may still add new entries to it.
        subdirs.push({ entry, id: identityOf(st), finalMode: this.keepExisting ? Number(st.mode & 0o7777n) : entry.mode });
        return false;
      }
    }
    if (existing && this.keepExisting) {
      this.result.keptExisting++;
      return false;
    }
    if (existing && (entry.type === 'dir' || existing === 'dir')) await this.remove(dir, entry.name);
    if (entry.type === 'dir') {
      const building = newFolders === 'temp' ? { parentRel: dir.rel, parentId: dirId, temp: tempName(), name: entry.name } : undefined;
      const path = dir.child(building?.temp ?? entry.name);
      await mkdir(path, 0o700); // owner-writable until its content is in place
      if (building) this.building.add(building); // from here on, a failure removes it
      await this.small.dirChanged(dir);
      this.result.dirsCreated++;
      subdirs.push({ entry, id: identityOf(await lstat(path, { bigint: true })), finalMode: entry.mode, building });
      return false;
    }
    // A file or link replaces what is there by rename(), so a link in the target is replaced, never followed.
    if (entry.type === 'symlink') await this.writeSymlink(dir, entry);
    return entry.type === 'file';
  }

  /**
   * Lists the folder: returns what is present under the names the tree has (folder or not), removes
   * what the tree lacks when mirroring, and removes temp files a crashed run left behind.
   */
  private async tidy(dir: OpenDir, wanted: Set<string>, mirror: boolean): Promise<Map<string, 'dir' | 'other'>> {
    const present = new Map<string, 'dir' | 'other'>();
    for (const dirent of await readdir(dir.base, { encoding: 'buffer', withFileTypes: true })) {
      const raw = dirent.name;
      const name = raw.toString('utf8');
      const isUtf8 = Buffer.from(name, 'utf8').equals(raw);
      if (isUtf8 && wanted.has(name)) {
        present.set(name, dirent.isDirectory() ? 'dir' : 'other');
        continue;
      }
      if (isUtf8 && name.startsWith(TEMP_PREFIX)) {
        const temp = await lstat(dir.child(name)).catch(() => undefined);
        if (temp && isLeftover(name, temp)) await removeEntry(dir, name).catch(() => undefined);
        continue; // a fresh one of a live writer belongs to a run still going on
      }
      if (mirror) await this.remove(dir, raw).catch((err) => Promise.reject(asConflict(err, dir.relOf(name))));
    }
    return present;
  }

  /**
   * The files of a folder still to write: without those the target already holds exactly, by their
   * stamp (inode, size, mtime and ctime in ns, listed now) and what the stat cache knows of it, with the
   * tree's mode. Safe after a crash too: a file this restore (or any writer) touched since the cache
   * hashed it has another stamp, so a torn or half-written file is never taken for done. A file left
   * alone may still have bytes only in the page cache, so it counts as a write for the final syncfs.
   */
  private async stillToWrite(dir: OpenDir, id: Identity, files: FileEntry[], present: Map<string, 'dir' | 'other'>): Promise<FileEntry[]> {
    const known = this.known;
    if (!known?.knowsDir(dir.rel) || !files.some((f) => present.get(f.name) === 'other')) return files;
    const listed = new Map((await fsPool().run('listDir', { dir: this.anchor.dirForJob(dir.rel, id) })).map((e) => [e[0], e]));
    const rest = files.filter((f) => {
      const e = listed.get(f.name);
      return !(e && e[1] === 'file' && e[2] === f.mode && e[3] === f.size && known.sha256Of(dir.rel, f.name, e[5]) === f.sha256);
    });
    if (rest.length < files.length) {
      this.result.filesUnchanged += files.length - rest.length;
      this.small.needsFileSystemSync();
      this.progress.tick();
    }
    return rest;
  }

  /**
   * Writes the folder's files through the worker threads, in batches (`direct`: at their own names, in
   * a folder no one sees yet; see fs-jobs writeFiles). Every batch is waited for, even
   * after one failed: a worker still using the folder's /proc path must finish before it is closed,
   * or its number could name another folder opened meanwhile.
   */
  private async writeFiles(dir: OpenDir, files: FileEntry[], direct: boolean): Promise<void> {
    const batches: FileEntry[][] = [];
    let bytes = Infinity;
    for (const file of files) {
      if (bytes >= BATCH_BYTES || batches[batches.length - 1]!.length >= BATCH_FILES) {
        batches.push([]);
        bytes = 0;
      }
      batches[batches.length - 1]!.push(file);
      bytes += file.size;
    }
    const folder = folderCount++;
    const outcomes = await Promise.allSettled(batches.map((batch) => this.writeBatch(dir, batch, folder, direct)));
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async writeBatch(dir: OpenDir, batch: FileEntry[], folder: number, direct: boolean): Promise<void> {
    this.dirPool.assertRunning();
    const files = batch.map((entry) => {
      dir.child(entry.name); // throws for a name that is not exactly one path component
      return { name: entry.name, blob: this.blobs.pathOf(entry.sha256), size: entry.size, mode: entry.mode };
    });
    let done: { written: number; bytes: number };
    const fsync = this.durability === 'per-file' || this.small.syncFiles(files.length);
    try {
      await this.small.dirChanged(dir);
      done = await fsPool().run('writeFiles', { dir: dir.base, tempPrefix: `${tempName()}-`, files, fsync, kernelCopy: procFdAvailable(), direct }, folder);
    } catch (err) {
      const entry = err instanceof FsJobError && err.index !== undefined ? batch[err.index] : undefined;
      if (!entry || !(err instanceof FsJobError)) throw err;
      const rel = dir.relOf(entry.name);
      if (err.stage !== 'blob') throw asConflict(err, rel);
      if (err.code === 'ENOENT') throw new FileTreeError('internal', `blob ${entry.sha256} of /${rel} is missing from the blob store`, { cause: err });
      throw new FileTreeError('internal', `blob ${entry.sha256} of /${rel} is damaged: ${err.message}`, { cause: err });
    }
    this.result.filesWritten += done.written;
    this.result.bytes += done.bytes;
    if (!fsync) this.writeback?.written(done.bytes);
    this.progress.tick();
  }

  private async writeSymlink(dir: OpenDir, entry: SymlinkEntry): Promise<void> {
    const temp = dir.child(tempName());
    this.small.needsFileSystemSync();
    await symlink(entry.target, temp);
    await this.replace(dir, temp, entry.name);
    this.result.symlinksWritten++;
  }

  /** rename() replaces a file or a link itself, atomically, and never follows one. */
  private async replace(dir: OpenDir, temp: string, name: string): Promise<void> {
    try {
      await rename(temp, dir.child(name));
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
  }

  private async remove(dir: OpenDir, name: string | Buffer): Promise<void> {
    await removeEntry(dir, name);
    await this.small.dirChanged(dir);
    this.result.removed++;
  }

  private async setMode(rel: string, id: Identity, mode: number): Promise<void> {
    await this.dirPool.run(async () => {
      const dir = await this.anchor.openDir(rel, id);
      await dir.handle
        .chmod(mode)
        .then(() => this.small.dirChanged(dir))
        .finally(() => dir.close());
    });
  }
}
