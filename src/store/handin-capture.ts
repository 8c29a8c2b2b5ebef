import { canonicalJson } from '../domain/audit';
import type { ManifestFile } from '../domain/assignments';
import type { BlobStore } from './blob-store';
import { readTree, resolvePath, snapshotTree } from './file-tree';
import type { InstancePaths } from './instance-storage';
import { pruneTree } from './stage';
import { StatCache } from './stat-cache';

// Taking a hand-in: the student's whole files tree is recorded the way a snapshot records it (symlinks
// kept as links, never followed; unchanged files not read again thanks to the stat cache), then pruned
// to the hand-in paths. The result is write-once: blobs plus a manifest blob whose sha256 is the receipt.

export interface CapturedTree {
  treeSha256: string;
  manifestSha256: string;
  manifest: ManifestFile[];
  files: number;
  bytes: number;
  /** Hand-in paths (as `/files/...`) the student's state does not have. */
  missing: string[];
}

export async function captureHandinTree(blobs: BlobStore, paths: InstancePaths, handinPaths: string[], opts: { signal?: AbortSignal } = {}): Promise<CapturedTree> {
  const whole = await StatCache.use(paths.statCache, (cache) => snapshotTree(paths.files, blobs, cache, { signal: opts.signal, deferCacheSave: true }));
  const present: string[] = [];
  const missing: string[] = [];
  for (const rel of handinPaths) ((await resolvePath(blobs, whole.rootTree, rel)) ? present : missing).push(rel);
  const treeSha256 = await pruneTree(blobs, whole.rootTree, present);
  const manifest = await listFiles(blobs, treeSha256, '');
  const manifestSha256 = (await blobs.putBytes(canonicalJson({ tree: treeSha256, files: manifest }))).sha256;
  return {
    treeSha256,
    manifestSha256,
    manifest,
    files: manifest.length,
    bytes: manifest.reduce((sum, f) => sum + f.size, 0),
    missing: missing.map((rel) => `/files/${rel}`),
  };
}

/** Every file below a tree, as `/files/...` with size and sha256, in path order. */
export async function listFiles(blobs: BlobStore, treeSha: string, prefix: string): Promise<ManifestFile[]> {
  const out: ManifestFile[] = [];
  for (const entry of await readTree(blobs, treeSha)) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.type === 'file') out.push({ path: `/files/${rel}`, size: entry.size, sha256: entry.sha256 });
    else if (entry.type === 'dir') out.push(...(await listFiles(blobs, entry.sha256, rel)));
  }
  return out;
}
