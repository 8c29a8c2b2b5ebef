import { identityOf, type Identity, type OpenDir, type TreeAnchor } from './anchor';

// Up to this many files and folders, an 'at-end' write (materialize.ts, Durability) syncs each of them
// instead of the whole file system: pushing one notice to 500 students then costs an fsync or two per
// target, not a `sync -f` child process and a flush of everything else the file system holds.
export const SMALL_WRITE_FILES = 32;
const SMALL_WRITE_DIRS = 16;

/**
 * Tracks whether an 'at-end' write is still small enough to be made durable file by file and folder by
 * folder (see Durability). Once it is not, every later file is written without a sync, and the one
 * syncfs at the end covers everything, including the files synced before.
 */
export class SmallWrite {
  private fileBudget = SMALL_WRITE_FILES;
  private readonly dirs = new Map<string, Identity>();
  private small: boolean;

  constructor(possible: boolean) {
    this.small = possible;
  }

  /** Whether these files are to be synced before their rename (taken from the budget), or left to the syncfs. */
  syncFiles(count: number): boolean {
    if (this.small && count <= this.fileBudget) {
      this.fileBudget -= count;
      return true;
    }
    this.small = false;
    return false;
  }

  /** The folder had an entry added, replaced or removed, or its mode changed. */
  async dirChanged(dir: OpenDir): Promise<void> {
    if (!this.small || this.dirs.has(dir.rel)) return;
    this.dirs.set(dir.rel, identityOf(await dir.handle.stat({ bigint: true })));
    if (this.dirs.size > SMALL_WRITE_DIRS) this.small = false;
  }

  /** A folder built under a temp name (`from`) was renamed to `to`: what was recorded in it is found there now. */
  moved(from: string, to: string): void {
    if (!this.small) return; // nothing recorded will be synced one by one
    for (const [rel, id] of [...this.dirs]) {
      if (rel !== from && !rel.startsWith(`${from}/`)) continue;
      this.dirs.delete(rel);
      this.dirs.set(to + rel.slice(from.length), id);
    }
  }

  /** Something was written that only a syncfs makes durable here (a symlink's own inode). */
  needsFileSystemSync(): void {
    this.small = false;
  }

  /**
   * Fsyncs each changed folder, through the materialize's own anchor; false when the write was not
   * small (or not possible: no 'at-end' durability) or a folder moved meanwhile: the caller syncs the
   * file system instead.
   */
  async syncChangedDirs(anchor: TreeAnchor): Promise<boolean> {
    if (!this.small) return false;
    try {
      for (const [rel, id] of this.dirs) {
        const dir = await anchor.openDir(rel, id);
        await dir.handle.sync().finally(() => dir.close());
      }
      return true;
    } catch {
      return false;
    }
  }
}
