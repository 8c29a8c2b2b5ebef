import { splitRelPath, TreeObject, type DirEntry, type TreeEntry } from '../../domain/trees';
import type { BlobStore } from '../blob-store';
import { FileTreeError } from './errors';

/** The entries of the tree object `sha256`, checked against its hash and the tree schema. */
export async function readTree(blobs: BlobStore, sha256: string): Promise<TreeEntry[]> {
  const bytes = await blobs.readBytes(sha256);
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new FileTreeError('internal', `blob ${sha256} is not a tree object`, { cause: err });
  }
  const parsed = TreeObject.safeParse(json);
  if (!parsed.success) throw new FileTreeError('internal', `blob ${sha256} is not a valid tree object: ${parsed.error.issues[0]?.message}`);
  return parsed.data.entries;
}

/** The root directory as an entry, for callers that treat '' like any other path. */
export function rootEntry(rootTree: string): DirEntry {
  return { name: '', type: 'dir', mode: 0o755, size: 0, sha256: rootTree };
}

/** Parses a caller's relative path, turning a bad one into an `invalid_input` error. */
export function parseRelPath(relPath: string): string[] {
  try {
    return splitRelPath(relPath);
  } catch (err) {
    throw new FileTreeError('invalid_input', (err as Error).message, { cause: err });
  }
}

/**
 * Every entry along `relPath`, outermost first ([] for the root), or undefined if the tree has no such
 * path. Symlinks inside the tree are never followed: a path through one does not exist.
 */
export async function resolveChain(blobs: BlobStore, rootTree: string, relPath: string): Promise<TreeEntry[] | undefined> {
  const parts = parseRelPath(relPath);
  const chain: TreeEntry[] = [];
  let tree = rootTree;
  for (let i = 0; i < parts.length; i++) {
    const entry = (await readTree(blobs, tree)).find((e) => e.name === parts[i]);
    if (!entry) return undefined;
    chain.push(entry);
    if (i < parts.length - 1) {
      if (entry.type !== 'dir') return undefined;
      tree = entry.sha256;
    }
  }
  return chain;
}

/** The entry at `relPath` ('' gives the root as a directory entry), or undefined if there is none. */
export async function resolvePath(blobs: BlobStore, rootTree: string, relPath: string): Promise<TreeEntry | undefined> {
  const chain = await resolveChain(blobs, rootTree, relPath);
  if (!chain) return undefined;
  return chain.length ? chain[chain.length - 1] : rootEntry(rootTree);
}

/** The entries of the directory at `relPath`; `not_found` if it is missing or not a directory. */
export async function listDir(blobs: BlobStore, rootTree: string, relPath: string): Promise<TreeEntry[]> {
  const entry = await resolvePath(blobs, rootTree, relPath);
  if (!entry) throw new FileTreeError('not_found', `/${parseRelPath(relPath).join('/')} is not in the snapshot`);
  if (entry.type !== 'dir') throw new FileTreeError('not_found', `/${parseRelPath(relPath).join('/')} is not a folder`);
  return readTree(blobs, entry.sha256);
}

export interface Selection {
  parts: string[];
  /** The tree's entries along `parts`, outermost first. */
  chain: TreeEntry[];
}

/** Resolves every sub-path before anything is written (a bad one changes nothing) and drops those inside another. */
export async function selectPaths(blobs: BlobStore, rootTree: string, subPaths: string[] | undefined): Promise<Selection[]> {
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
