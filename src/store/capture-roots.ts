import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';

// Capture roots: the root tree of every recent capture (snapshot, hand-in), kept as an empty file
// `<blob store>/roots/<sha256>-<recorded at, ms>-<random>`, so the garbage collector keeps what a
// capture reached from the moment the capture ends until its snapshot commits and references it. The
// walk reuses blobs its stat cache names without looking at them; the collector keeps every blob a
// stat cache names, but the next walk of the instance may forget an entry before this one commits.
// One file per capture (never rewritten), so removing old ones cannot race with recording a new one.

const NAME = /^([0-9a-f]{64})-([0-9]{1,15})-[0-9a-f]+$/;
/**
 * Records older than this are removed when new ones are written, at most hourly, so they do not pile
 * up where no collection runs: a capture commits within minutes of recording its root (its workflow's
 * next step), so a week covers any stop of the server in between.
 */
const KEPT_MS = 7 * 24 * 3600_000;
const PRUNE_EVERY_MS = 3600_000;
const lastPruned = new Map<string, number>();

/** Records `sha256` (checked by the blob store: it becomes part of a name) as a capture root now; durable before it returns when `fsync`. */
export async function recordCaptureRoot(blobsRoot: string, sha256: string, fsync: boolean): Promise<void> {
  const dir = join(blobsRoot, 'roots');
  await mkdir(dir, { recursive: true });
  const handle = await open(join(dir, `${sha256}-${Date.now()}-${randomBytes(6).toString('hex')}`), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o444);
  await handle.close();
  if (fsync) {
    const folder = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    await folder.sync().finally(() => folder.close());
  }
  if (Date.now() - (lastPruned.get(blobsRoot) ?? 0) < PRUNE_EVERY_MS) return;
  lastPruned.set(blobsRoot, Date.now());
  await captureRootsSince(blobsRoot, Date.now() - KEPT_MS);
}

/**
 * The roots recorded at or after `sinceMs` (what a collection with that grace must keep); older records
 * are removed: their snapshots committed (or failed) long ago.
 */
export async function captureRootsSince(blobsRoot: string, sinceMs: number): Promise<string[]> {
  const dir = join(blobsRoot, 'roots');
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : Promise.reject(err)));
  const roots = new Set<string>();
  for (const name of names) {
    const m = NAME.exec(name);
    if (!m) continue;
    if (Number(m[2]) >= sinceMs) roots.add(m[1]!);
    else await unlink(join(dir, name)).catch(() => undefined);
  }
  return [...roots];
}
