import { allHandinRoots } from '../store/catalog/assignments';
import { allStageObjects } from '../store/catalog/distributions';
import { allSnapshotObjects } from '../store/catalog/snapshots';
import { blobStoreOf } from '../store/blobs';
import { statCachePaths } from '../store/instance-storage';
import { reachableFromSnapshots } from '../store/snapshot-objects';
import { markCaptures, markReachable, sweepBlobs } from '../store/file-tree';
import type { ActivityDeps } from './deps';

export function createGarbageActivities({ catalog, dataDir }: ActivityDeps) {
  return {
    /**
     * Mark-and-sweep over the blob store: marks everything reachable from committed snapshots and distribution stages (a late joiner
     * may still need a stage), hand-ins and feedback, then
     * deletes unmarked blobs older than the grace period (a snapshot being written right now has fresh
     * new blobs, and reuses only blobs a stat cache names). Retry-safe: deleting what is already gone is a no-op, and the mark is recomputed.
     */
    async collectGarbage(graceMs: number): Promise<{ deleted: number; kept: number; bytesFreed: number }> {
      const blobs = await blobStoreOf(dataDir);
      const reachable = await reachableFromSnapshots(blobs, [...(await allSnapshotObjects(catalog.db)), ...(await allStageObjects(catalog.db))]);
      // Hand-ins and feedback are write-once records too: their trees and manifests are kept.
      const kept = await allHandinRoots(catalog.db);
      for (const sha of await markReachable(blobs, kept.trees, kept.blobs)) reachable.add(sha);
      // What captures may be using before their snapshot commits (stat caches, recent capture roots).
      await markCaptures(blobs, await statCachePaths(dataDir), Date.now() - graceMs, reachable);
      return sweepBlobs(blobs, reachable, { graceMs });
    },
  };
}
