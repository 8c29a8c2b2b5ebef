// Files trees: the content-addressed record of an instance's /files (one tree object per directory,
// file contents as blobs), and the operations on it. The pieces live in ./tree/; this is the entry point.

export { FileTreeError, type FileTreeErrorCode } from './tree/errors';
export { markCaptures, markReachable, sweepBlobs } from './tree/gc';
export { materializeTree, type MaterializeOptions } from './tree/materialize';
export { listDir, readTree, resolvePath } from './tree/read';
export { snapshotTree, type SnapshotOptions, type SnapshotProgress } from './tree/snapshot';
