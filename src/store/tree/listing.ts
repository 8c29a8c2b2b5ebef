import { createHash } from 'node:crypto';
import type { BlobRef } from '../blob-store';
import { changedError, type Identity, type TreeAnchor } from './anchor';
import type { ListedDir, ListedEntry, ListedKind } from './fs-jobs';
import { FsJobError, fsPool } from './fs-pool';
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
          for (const [sub, dev, ino, subText] of dirs) this.addNode(sub === '' ? rel : `${rel}/${sub}`, { dev: BigInt(dev), ino: BigInt(ino) }, subText);
        }),
      );
    }
    this.nodes.set('', { id: this.anchor.rootIdentity, text, children });
  }

  /** A listed folder; children arrive before their parent, so the parent's list of them is complete when it is added. */
  private addNode(rel: string, id: Identity, text: string): void {
    const node = this.nodes.get(rel);
    if (node) Object.assign(node, { id, text });
    else this.nodes.set(rel, { id, text, children: [] });
    const slash = rel.lastIndexOf('/');
    if (slash < 0) return; // a top-level folder: the root lists it
    const parent = rel.slice(0, slash);
    const parentNode = this.nodes.get(parent);
    if (parentNode) parentNode.children.push(rel);
    else this.nodes.set(parent, { id: { dev: 0n, ino: 0n }, text: '', children: [rel] });
  }

  private async listTree(rel: string, id: Identity, shallow: boolean): Promise<ListedDir[]> {
    try {
      return await this.pool.run(() => fsPool().run('listTree', { dir: this.anchor.dirForJob(rel, id), shallow }));
    } catch (err) {
      if (err instanceof FsJobError && err.code === 'ECHANGED') throw changedError(rel, 'was moved or replaced', err);
      throw err;
    }
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
