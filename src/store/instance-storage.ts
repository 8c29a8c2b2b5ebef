import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { recordEmptyWarehouse } from './tables-cache';

// Where an instance's current state lives on disk: <data>/instances/<instance id>/{files/, warehouse.duckdb, stat-cache.json, tables-cache.json}.
// Keyed by the immutable instance id, never by user-supplied text, so no slug can escape the data directory.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface InstancePaths {
  root: string;
  files: string;
  warehouse: string;
  /** The snapshot stat cache: beside the files tree, never inside it, so it is not part of any snapshot. */
  statCache: string;
  /** The tables of the last capture under the warehouse's stamps (tables-cache.ts), beside the stat cache. */
  tablesCache: string;
}

export function instancePaths(dataDir: string, instanceId: string): InstancePaths {
  if (!UUID.test(instanceId)) throw new Error(`not an instance id: ${instanceId}`);
  const root = join(dataDir, 'instances', instanceId);
  return { root, files: join(root, 'files'), warehouse: join(root, 'warehouse.duckdb'), statCache: join(root, 'stat-cache.json'), tablesCache: join(root, 'tables-cache.json') };
}

/** Creates the files tree and the warehouse database file. Safe to repeat: both steps keep what exists. */
export async function createInstanceStorage(dataDir: string, instanceId: string): Promise<InstancePaths> {
  const paths = instancePaths(dataDir, instanceId);
  await mkdir(paths.files, { recursive: true });
  const exists = await stat(paths.warehouse).then(() => true, () => false);
  if (!exists) {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    // Create under a temporary name and rename, so a crash never leaves a half-initialised warehouse.
    const tmp = `${paths.warehouse}.creating`;
    await rm(tmp, { force: true });
    await rm(`${tmp}.wal`, { force: true });
    const db = await DuckDBInstance.create(tmp);
    const connection = await db.connect();
    await connection.run('CHECKPOINT');
    connection.closeSync();
    db.closeSync();
    const { rename } = await import('node:fs/promises');
    await rename(tmp, paths.warehouse);
    await recordEmptyWarehouse(paths.tablesCache, paths.warehouse);
  }
  return paths;
}

/** Removes an instance's storage entirely (used only to undo a provisioning that was cancelled). */
export async function removeInstanceStorage(dataDir: string, instanceId: string): Promise<void> {
  await rm(instancePaths(dataDir, instanceId).root, { recursive: true, force: true });
}

/** The stat cache file of every instance (whether it exists yet or not). */
export async function statCachePaths(dataDir: string): Promise<string[]> {
  const ids = await readdir(join(dataDir, 'instances')).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : Promise.reject(err)));
  return ids.filter((name) => UUID.test(name)).map((id) => instancePaths(dataDir, id).statCache);
}
