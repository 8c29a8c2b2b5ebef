import { canonicalJson } from '../domain/audit';
import { SnapshotObject } from '../domain/snapshots';
import type { BlobStore } from './blob-store';
import { markReachable } from './file-tree';

// Snapshot objects: the one blob a snapshot's catalog row points at. Canonical JSON, so the same
// snapshot content always has the same id, and a retried commit writes the same bytes.

export async function writeSnapshotObject(blobs: BlobStore, object: SnapshotObject): Promise<string> {
  return (await blobs.putBytes(canonicalJson(SnapshotObject.parse(object)))).sha256;
}

export async function readSnapshotObject(blobs: BlobStore, sha256: string): Promise<SnapshotObject> {
  return SnapshotObject.parse(JSON.parse((await blobs.readBytes(sha256)).toString('utf8')));
}

/** Every blob the given snapshots reference: their objects, table blobs, trees and file blobs. */
export async function reachableFromSnapshots(blobs: BlobStore, objectShas: Iterable<string>): Promise<Set<string>> {
  const roots: string[] = [];
  const extra: string[] = [];
  for (const sha of objectShas) {
    const object = await readSnapshotObject(blobs, sha);
    roots.push(object.files_tree);
    extra.push(sha, ...object.tables.map((t) => t.blob));
  }
  return markReachable(blobs, roots, extra);
}
