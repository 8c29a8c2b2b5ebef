import { encodeTree, RelPath, splitRelPath, type TreeEntry } from '../domain/trees';
import type { BlobStore } from './blob-store';

// Feedback files as a tree, and the hand-back wrapper `handback/<assignment>/<version>/…` that is
// written into a student's instance. Files are read-only (0444): a hand-back is for reading.

export interface FeedbackFile {
  /** Relative path inside the hand-back folder, e.g. `corrected/answers.md`. */
  path: string;
  sha256: string;
  size: number;
}

interface Node {
  files: Map<string, FeedbackFile>;
  dirs: Map<string, Node>;
}

const READ_ONLY = 0o444;
const FOLDER = 0o755;

/** Checks and splits a feedback file's relative path (no `..`, no empty parts, no NUL). */
export function feedbackPath(path: string): string[] {
  const parsed = RelPath.safeParse(path);
  if (!parsed.success || path === '') throw new Error(`"${path}" is not a relative file path`);
  return splitRelPath(path);
}

/** Writes the tree objects for `files` (plus `extra` generated files) and returns the root tree's sha256. */
export async function buildFeedbackTree(blobs: BlobStore, files: FeedbackFile[]): Promise<{ sha256: string; size: number }> {
  const root: Node = { files: new Map(), dirs: new Map() };
  for (const file of files) {
    const parts = feedbackPath(file.path);
    let node = root;
    for (const part of parts.slice(0, -1)) {
      if (node.files.has(part)) throw new Error(`"${file.path}" puts a file inside the file ${part}`);
      let next = node.dirs.get(part);
      if (!next) node.dirs.set(part, (next = { files: new Map(), dirs: new Map() }));
      node = next;
    }
    const name = parts[parts.length - 1]!;
    if (node.files.has(name) || node.dirs.has(name)) throw new Error(`"${file.path}" is named twice`);
    node.files.set(name, file);
  }
  return writeNode(blobs, root);
}

async function writeNode(blobs: BlobStore, node: Node): Promise<{ sha256: string; size: number }> {
  const entries: TreeEntry[] = [];
  let size = 0;
  for (const [name, file] of node.files) {
    entries.push({ name, type: 'file', mode: READ_ONLY, size: file.size, sha256: file.sha256 });
    size += file.size;
  }
  for (const [name, child] of node.dirs) {
    const written = await writeNode(blobs, child);
    entries.push({ name, type: 'dir', mode: FOLDER, size: written.size, sha256: written.sha256 });
    size += written.size;
  }
  return { sha256: (await blobs.putBytes(encodeTree(entries))).sha256, size };
}

/** A root tree holding only `handback/<slug>/<version>/` = `tree`, to be applied at the instance's /files. */
export async function wrapHandback(blobs: BlobStore, slug: string, version: number, tree: { sha256: string; size: number }): Promise<string> {
  let inner: TreeEntry = { name: String(version), type: 'dir', mode: FOLDER, size: tree.size, sha256: tree.sha256 };
  for (const name of [slug, 'handback']) {
    const sha256: string = (await blobs.putBytes(encodeTree([inner]))).sha256;
    inner = { name, type: 'dir', mode: FOLDER, size: tree.size, sha256 };
  }
  return (await blobs.putBytes(encodeTree([inner]))).sha256;
}
