import { createHash } from 'node:crypto';
import type { BlobRef } from '../blob-store';
import { movedAsConflict, type Identity, type TreeAnchor } from './anchor';
import type { ListedDir, ListedEntry, ListedKind } from './fs-jobs';
import { fsPool } from './fs-pool';
import type { TaskPool } from './limit';

// Listing a tree for a snapshot walk: the root alone, then each top-level folder's whole subtree in
// one worker-thread job (fs-jobs.ts listTree), several at once. The walk takes each folder's listing
// when it makes the folder's tree.

/** A listed entry's device and inode, from its decimal device and its stamp (which starts with the inode). */
export const identityOfListed = (entry: ListedEntry): Identity => ({ dev: BigInt(entry[4]), ino: BigInt(entry[5].slice(0, entry[5].indexOf(':'))) });

/** A listing text (fs-jobs.ts `listingText`) as entries again. */
export function parseListing(text: string): ListedEntry[] {
  const fields = text.split('\0');
  const entries: ListedEntry[] = [];
  for (let i = 0; i + 7 <= fields.length; i += 7) {
    const entry: ListedEntry = [fields[i]!, fields[i + 1] as ListedKind, Number(fields[i + 2]), Number(fields[i + 3]), fields[i + 4]!, fields[i + 5]!];
    if (entry[1] === 'symlink' || fields[i + 6] !== '') entry.push(fields[i + 6]!);
    entries.push(entry);
  }
  return entries;
}

/** What a folder's stat-cache record is kept under: its listing and its sub-folders' trees, by name. */
export function folderKey(text: string, subs: ReadonlyArray<readonly [string, BlobRef]>): string {
  const hash = createHash('sha256').update(text);
  for (const [name, sub] of [...subs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) hash.update(`${name}\0${sub.sha256}\0`);
  return hash.digest('hex');
}

/** A listed folder waiting to be made into a tree: its identity, its listing text and its sub-folders' paths. */
export interface ListedNode {
  id: Identity;
  text: string;
  children: string[];
}

/** The listed folders of one walk, by path, until the walk takes them. */
export class TreeListing {
  private readonly nodes = new Map<string, ListedNode>();
  // A top-level folder's subtree arrives with its job.
  private readonly subtreeJobs = new Map<string, Promise<void>>();

  constructor(
    private readonly anchor: TreeAnchor,
    private readonly pool: TaskPool,
  ) {}

  /**
   * Lists the root alone, then each top-level folder's whole subtree as one job in a worker thread
   * (several at once): listing is a system call per entry, and a message per subtree instead of per
   * folder keeps the main thread out of it.
   */
  async start(): Promise<void> {
    const [[, , , text]] = await this.listTree('', this.anchor.rootIdentity, true);
    const children: string[] = [];
    for (const entry of parseListing(text)) {
      if (entry[1] !== 'dir') continue;
      const rel = entry[0];
      children.push(rel);
      this.subtreeJobs.set(
        rel,
        this.listTree(rel, identityOfListed(entry), false).then((dirs) => {
          const full = (sub: string) => (sub === '' ? rel : `${rel}/${sub}`);
          for (const [sub, dev, ino, subText] of dirs) this.nodes.set(full(sub), { id: { dev: BigInt(dev), ino: BigInt(ino) }, text: subText, children: [] });
          // Then each folder's children (the job lists a subtree's paths below its top: 'a', 'a/b', …).
          for (const [sub] of dirs) if (sub !== '') this.nodes.get(full(sub.slice(0, Math.max(0, sub.lastIndexOf('/')))))!.children.push(full(sub));
        }),
      );
    }
    this.nodes.set('', { id: this.anchor.rootIdentity, text, children });
  }

  private async listTree(rel: string, id: Identity, shallow: boolean): Promise<ListedDir[]> {
    return this.pool.run(() => fsPool().run('listTree', { dir: this.anchor.dirForJob(rel, id), shallow })).catch((err) => Promise.reject(movedAsConflict(err, rel)));
  }

  /** The folder at `rel` (once its subtree is listed), handed over once. */
  async take(rel: string): Promise<ListedNode> {
    await this.subtreeJobs.get(rel);
    const node = this.nodes.get(rel)!;
    this.nodes.delete(rel);
    return node;
  }

  /** Resolves once no listing job runs any more (after a failure). */
  async settled(): Promise<void> {
    await Promise.allSettled(this.subtreeJobs.values());
  }
}
