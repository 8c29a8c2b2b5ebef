import { encodeTree, type DirEntry, type TreeEntry } from '../domain/trees';
import type { SnapshotObject } from '../domain/snapshots';
import type { BlobStore } from './blob-store';
import { FileTreeError, readTree, resolvePath } from './file-tree';
import { writeSnapshotObject } from './snapshot-objects';

// The stage: the part of a frozen source state a distribution pushes. It is itself a snapshot object
// (a files tree holding only the selected paths, the selected tables and apps), so every target —
// and every late joiner, days later — applies exactly the same bytes, and `mirror` can treat the
// stage as a whole.

/** What to take from the source: relative paths below /files ("" = all), table names, app slugs. */
export interface StagePick {
  files: string[];
  tables: string[];
  apps: string[];
}

/** A node of the pruned tree: either a whole entry of the source, or a folder with only some children. */
interface PickNode {
  whole?: TreeEntry;
  children: Map<string, PickNode>;
}

/**
 * Writes the stage for `pick` from `source` and returns its snapshot object's sha256. Deterministic:
 * the same source and pick give the same tree and object blobs, so a retry writes nothing new.
 */
export async function buildStage(blobs: BlobStore, source: SnapshotObject, pick: StagePick, name: string): Promise<{ objectSha256: string; filesTree: string }> {
  const filesTree = await pruneTree(blobs, source.files_tree, pick.files);
  const wantedTables = new Set(pick.tables.map((t) => t.toLowerCase()));
  const wantedApps = new Set(pick.apps);
  const object: SnapshotObject = {
    version: 1,
    instance_id: source.instance_id,
    name,
    created_at: source.created_at,
    files_tree: filesTree,
    tables: source.tables.filter((t) => wantedTables.has(t.name.toLowerCase())),
    apps: source.apps.filter((a) => wantedApps.has(a.slug)),
  };
  return { objectSha256: await writeSnapshotObject(blobs, object), filesTree };
}

/** A files tree holding only `paths` of `rootTree` (and the folders leading to them). */
export async function pruneTree(blobs: BlobStore, rootTree: string, paths: string[]): Promise<string> {
  if (paths.includes('')) return rootTree;
  const root: PickNode = { children: new Map() };
  for (const path of paths) {
    const entry = await resolvePath(blobs, rootTree, path);
    if (!entry) throw new FileTreeError('not_found', `/files/${path} is not in the source`);
    let node = root;
    for (const part of path.split('/')) {
      if (node.whole) break; // an enclosing folder is already taken whole
      let next = node.children.get(part);
      if (!next) node.children.set(part, (next = { children: new Map() }));
      node = next;
    }
    if (!node.whole) {
      node.whole = entry;
      node.children.clear();
    }
  }
  return writePruned(blobs, rootTree, root);
}

async function writePruned(blobs: BlobStore, treeSha: string, node: PickNode): Promise<string> {
  const source = await readTree(blobs, treeSha);
  const entries: TreeEntry[] = [];
  for (const [name, child] of node.children) {
    const original = source.find((e) => e.name === name)!;
    if (child.whole) {
      entries.push(child.whole);
      continue;
    }
    const dir = original as DirEntry;
    const sha256 = await writePruned(blobs, dir.sha256, child);
    entries.push({ ...dir, sha256, size: await treeBytes(blobs, sha256) });
  }
  return (await blobs.putBytes(encodeTree(entries))).sha256;
}

/** Total file bytes below a tree (a folder entry's `size`). */
async function treeBytes(blobs: BlobStore, treeSha: string): Promise<number> {
  let total = 0;
  for (const e of await readTree(blobs, treeSha)) if (e.type !== 'symlink') total += e.size;
  return total;
}
