import { assertSha256, type BlobStore } from '../blob-store';
import { StatCache } from '../stat-cache';
import { FileTreeError } from './errors';
import { mapLimit } from './limit';
import { readTree } from './read';

/**
 * Mark: every blob reachable from `rootTrees` (the trees themselves, sub-trees and file blobs) plus
 * `extraBlobs` (manifests, table exports, …). A tree that cannot be read stops the collection:
 * without it we cannot know what is reachable, and deleting on a guess loses data.
 */
export async function markReachable(blobs: BlobStore, rootTrees: Iterable<string>, extraBlobs: Iterable<string> = []): Promise<Set<string>> {
  const reachable = new Set<string>();
  // Kept apart from `reachable`: a file may hold exactly a tree's bytes, and the tree must still be walked.
  const walked = new Set<string>();
  for (const sha of extraBlobs) {
    assertSha256(sha);
    reachable.add(sha);
  }
  let frontier = [...new Set(rootTrees)];
  frontier.forEach(assertSha256);
  while (frontier.length) {
    const next = new Set<string>();
    frontier.forEach((tree) => walked.add(tree));
    await mapLimit(frontier, 16, async (tree) => {
      reachable.add(tree);
      let entries;
      try {
        entries = await readTree(blobs, tree);
      } catch (err) {
        throw new FileTreeError('internal', `garbage collection stopped: tree ${tree} cannot be read (${(err as Error).message})`, { cause: err });
      }
      for (const entry of entries) {
        if (entry.type === 'file') reachable.add(entry.sha256);
        else if (entry.type === 'dir' && !walked.has(entry.sha256)) next.add(entry.sha256);
      }
    });
    frontier = [...next].filter((tree) => !walked.has(tree));
  }
  return reachable;
}

/**
 * Adds to `reachable` what captures may be using without a committed snapshot yet: every blob a stat
 * cache names (a walk reuses them unseen), then all that the capture roots recorded since `rootsSinceMs`
 * reach (capture-roots.ts). In this order: a cache forgets an entry only in a walk that starts after
 * the capture that reused it recorded its root, so each reused blob is found by one of the two reads.
 */
export async function markCaptures(blobs: BlobStore, statCaches: Iterable<string>, rootsSinceMs: number, reachable: Set<string>): Promise<void> {
  const trees = new Set<string>();
  for (const path of statCaches) {
    const named = await StatCache.blobsNamedBy(path);
    for (const sha of named.files) reachable.add(sha);
    for (const sha of named.trees) trees.add(sha);
  }
  for (const sha of await blobs.captureRootsSince(rootsSinceMs)) trees.add(sha);
  for (const sha of await markReachable(blobs, trees)) reachable.add(sha);
}

/**
 * Sweep: deletes blobs that are not in `reachable` and were not written or touched for `graceMs`.
 * The grace period protects the new blobs of a capture still being written (`markCaptures` covers
 * those it reuses); each deletion re-checks the age atomically. No reference counts.
 */
export async function sweepBlobs(
  blobs: BlobStore,
  reachable: ReadonlySet<string>,
  opts: { graceMs: number; now?: number },
): Promise<{ deleted: number; kept: number; bytesFreed: number }> {
  if (!Number.isFinite(opts.graceMs) || opts.graceMs < 0) throw new FileTreeError('invalid_input', `graceMs must be a non-negative number, not ${opts.graceMs}`);
  const cutoff = (opts.now ?? Date.now()) - opts.graceMs;
  const outcome = { deleted: 0, kept: 0, bytesFreed: 0 };
  for await (const blob of blobs.list()) {
    if (reachable.has(blob.sha256) || blob.mtimeMs >= cutoff || !(await blobs.delete(blob.sha256, { ifOlderThanMs: cutoff }))) {
      outcome.kept++;
      continue;
    }
    outcome.deleted++;
    outcome.bytesFreed += blob.size;
  }
  return outcome;
}
