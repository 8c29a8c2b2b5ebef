import { randomBytes } from 'node:crypto';
import { lstat, readFile, rename, writeFile } from 'node:fs/promises';
import { SnapshotTable } from '../domain/snapshots';
import { fileSystemClockNs, stampOf } from './stat-cache';

// What an instance's tables were at its last capture, under the stamps of its warehouse files, so a
// snapshot of an unchanged warehouse does not open DuckDB at all. Opening and closing it costs
// 20 ms on an idle machine and was measured at 0.5 s beside a files walk: longer than the walk.
// Like the stat cache it is only an optimisation: a missing, torn or stale file costs a capture,
// never a wrong table, because a record is only taken while DuckDB's files keep the very stamps
// (inode, size, mtime and ctime in ns) the captured state had.

/** DuckDB's files of a warehouse: the database and its write-ahead log (committed writes land in one of them). */
const filesOf = (warehouse: string) => [warehouse, `${warehouse}.wal`];

/**
 * The stamps of a warehouse's files (`-` for a missing log), and the latest of their mtimes and ctimes.
 * Any committed change to the warehouse changes one of them.
 */
export async function warehouseStamp(warehouse: string): Promise<{ text: string; latestNs: bigint }> {
  let latestNs = 0n;
  const parts: string[] = [];
  for (const path of filesOf(warehouse)) {
    const st = await lstat(path, { bigint: true }).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));
    parts.push(st ? stampOf(st) : '-');
    for (const ns of st ? [st.mtimeNs, st.ctimeNs] : []) if (ns > latestNs) latestNs = ns;
  }
  return { text: parts.join('|'), latestNs };
}

/** The tables recorded for exactly this warehouse stamp, or undefined (none, another stamp, or an unreadable file). */
export async function cachedTables(cachePath: string, stamp: string): Promise<SnapshotTable[] | undefined> {
  const text = await readFile(cachePath, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const file = JSON.parse(text) as { version?: unknown; stamp?: unknown; tables?: unknown };
    if (file.version !== 1 || file.stamp !== stamp) return undefined;
    return SnapshotTable.array().parse(file.tables);
  } catch {
    return undefined; // torn or foreign: capture again
  }
}

/**
 * Captures the warehouse's tables with `capture` and records them for the next capture, when that is
 * safe: the warehouse's stamp did not change while `capture` read it, and each of its files was last
 * changed before a clock reading taken before the capture began (git's racy rule: a change in the same
 * clock tick as the reading could leave a stamp unchanged, so such a stamp is not trusted).
 */
export async function captureAndRecordTables(cachePath: string, warehouse: string, capture: () => Promise<SnapshotTable[]>): Promise<SnapshotTable[]> {
  const clockNs = await fileSystemClockNs(`${cachePath}.clock`);
  const before = await warehouseStamp(warehouse);
  const tables = await capture();
  const after = await warehouseStamp(warehouse);
  if (after.text === before.text && before.latestNs < clockNs) {
    // Atomic (temp + rename) and without fsync: a file lost in a power cut costs one capture.
    const temp = `${cachePath}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(temp, JSON.stringify({ version: 1, stamp: before.text, tables }));
    await rename(temp, cachePath);
  }
  return tables;
}

/** How long recordEmptyWarehouse waits for the clock at most (ms); past it the record is simply not taken. */
const CLOCK_POLLS = 100;

/**
 * Records that a warehouse just created holds no tables, so the instance's first snapshot need not
 * open DuckDB to find that out. The record must pass the racy rule above, so this first waits (a few ms
 * at most: one tick of the file system's clock) until the clock has moved past the warehouse's last change.
 */
export async function recordEmptyWarehouse(cachePath: string, warehouse: string): Promise<void> {
  const { latestNs } = await warehouseStamp(warehouse);
  for (let polls = 0; polls < CLOCK_POLLS && (await fileSystemClockNs(`${cachePath}.clock`)) <= latestNs; polls++) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await captureAndRecordTables(cachePath, warehouse, async () => []);
}
