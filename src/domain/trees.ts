import { z } from 'zod';
import { canonicalJson } from './audit';

/**
 * Files trees — the contract of a snapshot's `/files` content.
 *
 * - blob: immutable bytes stored under their SHA-256 (the blob store).
 * - tree object: one per directory, the canonical JSON `{"entries":[…]}` of its entries sorted by name
 *   (UTF-8 byte order), itself stored as a blob; its sha256 is the directory's id.
 * - root tree: the tree object of the instance's `/files` directory; it identifies the whole tree.
 * - relative path: a path inside a tree such as `data/x.csv`; '' is the root.
 */

/** A SHA-256 digest as 64 lowercase hex characters: the id of every blob and tree object. */
export const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 is 64 lowercase hex characters');
export type Sha256 = z.infer<typeof Sha256>;

// Unpaired UTF-16 surrogates cannot be written as UTF-8, so no file system name can contain one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Length of a string in UTF-8 bytes (no TextEncoder: this file must stay workflow-safe). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return bytes;
}

/** True when `name` can be one path component: what keeps a tree from naming anything outside itself. */
export function isEntryName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !/[/\0]/.test(name) && !LONE_SURROGATE.test(name) && utf8Length(name) <= 255;
}

/** One path component: not empty, ".", "..", no "/" or NUL, at most 255 UTF-8 bytes. */
export const EntryName = z.string().refine(isEntryName, 'a file name must not be empty, "." or "..", contain "/" or NUL, or exceed 255 bytes');

/** Permission bits only (0–0o777): setuid, setgid and sticky bits are never recorded or restored. */
export const PermissionBits = z.number().int().min(0).max(0o777);

export const FileEntry = z.object({
  name: EntryName,
  type: z.literal('file'),
  mode: PermissionBits,
  size: z.number().int().nonnegative(),
  sha256: Sha256,
});
export type FileEntry = z.infer<typeof FileEntry>;

/** A directory; `size` is the total bytes of the files below it, `sha256` its tree object. */
export const DirEntry = z.object({
  name: EntryName,
  type: z.literal('dir'),
  mode: PermissionBits,
  size: z.number().int().nonnegative(),
  sha256: Sha256,
});
export type DirEntry = z.infer<typeof DirEntry>;

/** A symbolic link, kept as its target text and never followed, wherever it points. */
export const SymlinkEntry = z.object({
  name: EntryName,
  type: z.literal('symlink'),
  mode: PermissionBits,
  target: z.string().min(1).max(4095).refine((t) => !t.includes('\0') && !LONE_SURROGATE.test(t), 'a link target must be valid UTF-8 without NUL'),
});
export type SymlinkEntry = z.infer<typeof SymlinkEntry>;

export const TreeEntry = z.discriminatedUnion('type', [FileEntry, DirEntry, SymlinkEntry]);
export type TreeEntry = z.infer<typeof TreeEntry>;
export type TreeEntryType = TreeEntry['type'];

/** Orders names by UTF-8 bytes, which is Unicode code point order (plain `<` compares UTF-16 units). */
export function compareNames(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** A directory's tree object; names are unique and sorted, so one directory has exactly one encoding. */
export const TreeObject = z.object({ entries: z.array(TreeEntry) }).superRefine((tree, ctx) => {
  for (let i = 1; i < tree.entries.length; i++) {
    if (compareNames(tree.entries[i - 1]!.name, tree.entries[i]!.name) >= 0) {
      ctx.addIssue({ code: 'custom', message: `entries are not sorted and unique at "${tree.entries[i]!.name}"`, path: ['entries', i] });
      return;
    }
  }
});
export type TreeObject = z.infer<typeof TreeObject>;

/** The canonical bytes (as text) of a directory's tree object: sorted entries, sorted keys, no whitespace. */
export function encodeTree(entries: readonly TreeEntry[]): string {
  const sorted = [...entries].sort((a, b) => compareNames(a.name, b.name));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i - 1]!.name === sorted[i]!.name) throw new Error(`a tree cannot hold "${sorted[i]!.name}" twice`);
  }
  return canonicalJson({ entries: sorted });
}

/**
 * Splits a relative path into components ('' or '/' is the root; surrounding and doubled slashes are
 * ignored). Throws on ".", ".." or a bad name: a relative path can never climb out of its tree.
 */
export function splitRelPath(relPath: string): string[] {
  const parts = relPath.split('/').filter((p) => p !== '');
  for (const part of parts) {
    if (!isEntryName(part)) throw new RangeError(`"${relPath}" is not a path inside the files tree (no ".", ".." or NUL components)`);
  }
  return parts;
}

/** A path inside a files tree, as callers send it (`data/x.csv`; '' for the whole tree). */
export const RelPath = z.string().max(4096).refine((p) => {
  try {
    splitRelPath(p);
    return true;
  } catch {
    return false;
  }
}, 'a path inside the files tree must not contain ".", ".." or NUL components');

/** How a restore or distribution treats what already exists in the target. */
export const MaterializeStrategy = z.enum(['overwrite', 'mirror', 'ignore_existing']);
export type MaterializeStrategy = z.infer<typeof MaterializeStrategy>;

/** A path the snapshot left out, and why (sockets, FIFOs, devices, names that are not UTF-8). */
export const SkippedPath = z.object({ path: z.string(), reason: z.string() });
export type SkippedPath = z.infer<typeof SkippedPath>;

/** What snapshotting a files tree produced: its root tree and counts (`markReachable` lists its blobs). */
export const SnapshotTreeResult = z.object({
  rootTree: Sha256,
  files: z.number().int().nonnegative(),
  dirs: z.number().int().nonnegative(),
  symlinks: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  hashedFiles: z.number().int().nonnegative(),
  reusedFiles: z.number().int().nonnegative(),
  skipped: z.array(SkippedPath),
});
export type SnapshotTreeResult = z.infer<typeof SnapshotTreeResult>;

/** What writing a tree (or parts of it) into a directory did. */
export const MaterializeResult = z.object({
  filesWritten: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  symlinksWritten: z.number().int().nonnegative(),
  dirsCreated: z.number().int().nonnegative(),
  removed: z.number().int().nonnegative(),
  keptExisting: z.number().int().nonnegative(),
  /** Files the target already held exactly (its stat cache said so), left alone. */
  filesUnchanged: z.number().int().nonnegative(),
});
export type MaterializeResult = z.infer<typeof MaterializeResult>;
