import { randomBytes } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { copyFile, lstat, mkdir, open, readdir, rename, symlink, unlink } from 'node:fs/promises';
import { MaterializeStrategy, type DirEntry, type FileEntry, type MaterializeResult, type SymlinkEntry, type TreeEntry } from '../../domain/trees';
import type { BlobStore } from '../blob-store';
import { asConflict, identityOf, removeEntry, reopenPath, TreeAnchor, type Identity, type OpenDir } from './anchor';
import { abortError, FileTreeError } from './errors';
import { mapLimit, TaskPool, throttled } from './limit';
import { parseRelPath, readTree, resolveChain } from './read';

export interface MaterializeOptions {
  /** Restore only these relative paths (files or folders): absent, or one of them '', means the whole tree; [] means nothing. */
  subPaths?: string[];
  strategy: MaterializeStrategy;
  /** Files written at once (default 16). */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?(progress: { files: number; bytes: number }): void;
  /** Sync each file before it replaces the old one (default true): a crash never leaves a short file in place. */
  fsync?: boolean;
}

// Our temp files inside the target; a crashed run's leftovers are removed once they are an hour old.
const TEMP_PREFIX = '.handout-tmp-';
const STALE_TEMP_MS = 60 * 60 * 1000;
// Random per process (runs never collide), then a counter: cheaper than random bytes per file.
const tempTag = `${randomBytes(6).toString('hex')}-`;
let tempCount = 0;
const tempName = () => `${TEMP_PREFIX}${tempTag}${(tempCount++).toString(36)}`;
const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = constants;

interface Selection {
  parts: string[];
  /** The tree's entries along `parts`, outermost first. */
  chain: TreeEntry[];
}

interface Subdir {
  entry: DirEntry;
  id: Identity;
  finalMode: number;
}

const relJoin = (dir: string, name: string) => (dir === '' ? name : `${dir}/${name}`);
const errno = (err: unknown) => (err as NodeJS.ErrnoException)?.code;

/**
 * Writes the tree (or `subPaths` of it) into `targetDir`. Each file appears whole (temp file + rename);
 * symlinks are recreated as links; nothing is ever written through a symlink found in the target — a
 * link where a folder belongs is replaced (or, with ignore_existing, left alone and skipped).
 * 'mirror' also removes what the tree does not have, inside the selected paths only.
 */
export async function materializeTree(blobs: BlobStore, rootTree: string, targetDir: string, opts: MaterializeOptions): Promise<MaterializeResult> {
  const strategy = MaterializeStrategy.safeParse(opts.strategy);
  if (!strategy.success) throw new FileTreeError('invalid_input', `unknown strategy ${JSON.stringify(opts.strategy)}: use overwrite, mirror or ignore_existing`);
  const selections = await selectPaths(blobs, rootTree, opts.subPaths);
  await mkdir(targetDir, { recursive: true });
  const anchor = await TreeAnchor.open(targetDir);
  try {
    return await new Materializer(anchor, blobs, rootTree, strategy.data, opts).run(selections);
  } finally {
    await anchor.close();
  }
}

/** Resolves every sub-path before anything is written (a bad one changes nothing) and drops those inside another. */
async function selectPaths(blobs: BlobStore, rootTree: string, subPaths: string[] | undefined): Promise<Selection[]> {
  const selections: Selection[] = [];
  for (const relPath of subPaths ?? ['']) {
    const parts = parseRelPath(relPath);
    const chain = await resolveChain(blobs, rootTree, relPath);
    if (!chain) throw new FileTreeError('not_found', `/${parts.join('/')} is not in the snapshot`);
    selections.push({ parts, chain });
  }
  selections.sort((a, b) => a.parts.length - b.parts.length);
  const within = (inner: string[], outer: string[]) => outer.length <= inner.length && outer.every((p, i) => p === inner[i]);
  return selections.filter((s, i) => !selections.slice(0, i).some((o) => within(s.parts, o.parts)));
}

class Materializer {
  // Folder tasks hold a slot while their files are written in the other pool; file tasks wait for
  // nothing, so the two pools cannot deadlock, and open descriptors stay below their sum.
  private readonly dirPool: TaskPool;
  private readonly filePool: TaskPool;
  private readonly result: MaterializeResult = { filesWritten: 0, bytes: 0, symlinksWritten: 0, dirsCreated: 0, removed: 0, keptExisting: 0 };
  private readonly progress;
  private readonly keepExisting: boolean;
  private readonly mirror: boolean;

  constructor(
    private readonly anchor: TreeAnchor,
    private readonly blobs: BlobStore,
    private readonly rootTree: string,
    strategy: MaterializeStrategy,
    private readonly opts: MaterializeOptions,
  ) {
    this.dirPool = new TaskPool(opts.concurrency ?? 16, opts.signal);
    this.filePool = new TaskPool(opts.concurrency ?? 16, opts.signal);
    this.keepExisting = strategy === 'ignore_existing';
    this.mirror = strategy === 'mirror';
    this.progress = throttled(opts.onProgress && (() => opts.onProgress!({ files: this.result.filesWritten, bytes: this.result.bytes })));
  }

  async run(selections: Selection[]): Promise<MaterializeResult> {
    try {
      for (const selection of selections) await this.apply(selection);
      this.progress.flush();
      return { ...this.result };
    } catch (err) {
      for (const pool of [this.dirPool, this.filePool]) pool.stop(err as Error);
      await Promise.all([this.dirPool.idle(), this.filePool.idle()]);
      if (this.opts.signal?.aborted) throw abortError(this.opts.signal);
      throw err;
    }
  }

  private async apply({ parts, chain }: Selection): Promise<void> {
    if (parts.length === 0) return this.fillDir('', this.anchor.rootIdentity, this.rootTree, this.mirror);
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
    await this.applyEntries(rel, id, [chain[chain.length - 1]!], false);
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
      this.result.dirsCreated++;
      return { id: identityOf(await lstat(dir.child(entry.name), { bigint: true })), created: true };
    } catch (err) {
      throw asConflict(err, dir.relOf(entry.name));
    } finally {
      await dir.close();
    }
  }

  private async fillDir(rel: string, id: Identity, treeSha: string, mirror: boolean): Promise<void> {
    await this.applyEntries(rel, id, await readTree(this.blobs, treeSha), mirror);
  }

  /** Writes `entries` into the folder at `rel`, then fills its sub-folders, then sets their modes. */
  private async applyEntries(rel: string, id: Identity, entries: readonly TreeEntry[], mirror: boolean): Promise<void> {
    const subdirs: Subdir[] = [];
    await this.dirPool.run(async () => {
      const dir = await this.anchor.openDir(rel, id);
      const mode = (await dir.handle.stat()).mode & 0o7777;
      try {
        // Owner-writable while we add entries (a read-only folder from an earlier restore), then as it was.
        if ((mode & 0o700) !== 0o700) await dir.handle.chmod(mode | 0o700);
        const present = await this.tidy(dir, new Set(entries.map((e) => e.name)), mirror);
        await mapLimit(entries, 16, (entry) => this.applyEntry(dir, entry, present.has(entry.name), subdirs));
      } finally {
        if ((mode & 0o700) !== 0o700) await dir.handle.chmod(mode).catch(() => undefined);
        await dir.close();
      }
    });
    await Promise.all(
      subdirs.map(async ({ entry, id: subId, finalMode }) => {
        const subRel = relJoin(rel, entry.name);
        await this.fillDir(subRel, subId, entry.sha256, this.mirror);
        await this.setMode(subRel, subId, finalMode);
      }),
    );
  }

  /** Puts one entry in place; a folder is only created here and filled later (listed in `subdirs`). */
  private async applyEntry(dir: OpenDir, entry: TreeEntry, present: boolean, subdirs: Subdir[]): Promise<void> {
    try {
      await this.putEntry(dir, entry, present, subdirs);
    } catch (err) {
      throw asConflict(err, dir.relOf(entry.name));
    }
  }

  private async putEntry(dir: OpenDir, entry: TreeEntry, present: boolean, subdirs: Subdir[]): Promise<void> {
    const existing = present ? await lstat(dir.child(entry.name), { bigint: true }).catch(() => undefined) : undefined;
    if (entry.type === 'dir' && existing?.isDirectory()) {
      // A folder that exists keeps its mode under ignore_existing; we may still add new entries to it.
      subdirs.push({ entry, id: identityOf(existing), finalMode: this.keepExisting ? Number(existing.mode & 0o7777n) : entry.mode });
      return;
    }
    if (existing && this.keepExisting) {
      this.result.keptExisting++;
      return;
    }
    if (existing && (entry.type === 'dir' || existing.isDirectory())) await this.remove(dir, entry.name);
    if (entry.type === 'dir') {
      await mkdir(dir.child(entry.name), 0o700); // owner-writable until its content is in place
      this.result.dirsCreated++;
      subdirs.push({ entry, id: identityOf(await lstat(dir.child(entry.name), { bigint: true })), finalMode: entry.mode });
      return;
    }
    // A file or link replaces what is there by rename(), so a link in the target is replaced, never followed.
    await this.filePool.run(() => (entry.type === 'file' ? this.writeFile(dir, entry) : this.writeSymlink(dir, entry)));
  }

  /**
   * Lists the folder: returns the names present, removes what the tree lacks when mirroring, and
   * removes temp files a crashed run left behind.
   */
  private async tidy(dir: OpenDir, wanted: Set<string>, mirror: boolean): Promise<Set<string>> {
    const present = new Set<string>();
    for (const raw of await readdir(dir.base, { encoding: 'buffer' })) {
      const name = raw.toString('utf8');
      const isUtf8 = Buffer.from(name, 'utf8').equals(raw);
      if (isUtf8 && wanted.has(name)) {
        present.add(name);
        continue;
      }
      if (isUtf8 && name.startsWith(TEMP_PREFIX)) {
        const temp = await lstat(dir.child(name)).catch(() => undefined);
        if (temp && Date.now() - temp.mtimeMs > STALE_TEMP_MS) await unlink(dir.child(name)).catch(() => undefined);
        continue; // a fresh one belongs to a run still going on
      }
      if (mirror) await this.remove(dir, raw).catch((err) => Promise.reject(asConflict(err, dir.relOf(name))));
    }
    return present;
  }

  private async writeFile(dir: OpenDir, entry: FileEntry): Promise<void> {
    const temp = dir.child(tempName());
    // O_EXCL | O_NOFOLLOW: we create a new file and nothing else; a link planted at the name fails the open.
    const out = await open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    try {
      const blob = this.blobs.pathOf(entry.sha256);
      const self = reopenPath(out);
      try {
        if (self) await copyFile(blob, self); // kernel copy into exactly the file we created
        else for await (const chunk of createReadStream(blob)) await out.write(chunk as Buffer);
      } catch (err) {
        if (errno(err) === 'ENOENT') throw new FileTreeError('internal', `blob ${entry.sha256} of /${dir.relOf(entry.name)} is missing from the blob store`, { cause: err });
        throw err;
      }
      await out.chmod(entry.mode);
      if (this.opts.fsync ?? true) await out.datasync();
    } catch (err) {
      await out.close();
      await unlink(temp).catch(() => undefined);
      throw err;
    }
    await out.close();
    await this.replace(dir, temp, entry.name);
    this.result.filesWritten++;
    this.result.bytes += entry.size;
    this.progress.tick();
  }

  private async writeSymlink(dir: OpenDir, entry: SymlinkEntry): Promise<void> {
    const temp = dir.child(tempName());
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
    this.result.removed++;
  }

  private async setMode(rel: string, id: Identity, mode: number): Promise<void> {
    await this.dirPool.run(async () => {
      const dir = await this.anchor.openDir(rel, id);
      await dir.handle.chmod(mode).finally(() => dir.close());
    });
  }
}
