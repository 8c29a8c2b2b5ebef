import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { StageSelection } from '../activities/apply-stage';
import type { AppConfig } from '../domain/apps';
import type { InstanceRef } from '../domain/context';
import type { FileEntry } from '../domain/files';
import type { TableFormat, TableInfo } from '../domain/tables';
import type { TreeEntry } from '../domain/trees';
import { blobStoreOf } from '../store/blobs';
import { scratchFile } from '../store/scratch';
import { readSnapshotObject } from '../store/snapshot-objects';
import { listDir, resolvePath } from '../store/file-tree';
import { randomUUID } from 'node:crypto';
import { appendAuditEvent } from '../store/catalog/audit-log';
import { actorOf, type Principal, type ServiceDeps } from './deps';
import { invalidInput, notFound } from './errors';
import { filesSegments } from './files';
import { resolveSnapshot } from './snapshot-lookup';

// Reading what a snapshot holds (files, tables), and checking a selection against it.

const toEntry = (path: string, e: TreeEntry): FileEntry => ({
  path,
  type: e.type,
  size: e.type === 'symlink' ? null : e.type === 'dir' ? null : e.size,
  sha256: e.type === 'file' ? e.sha256 : null,
  target: e.type === 'symlink' ? e.target : null,
  modified_at: null,
});

/** Lists a folder of a snapshot (or one file), like `files list` on the current state. */
export async function listSnapshotFiles(deps: ServiceDeps, p: Principal, ref: InstanceRef, snapshot: string, path: string, recursive: boolean): Promise<FileEntry[]> {
  const segments = filesSegments(path);
  const { row } = await resolveSnapshot(deps, p, ref, snapshot);
  const blobs = await blobStoreOf(deps.dataDir);
  const rel = segments.join('/');
  const display = (r: string) => (r === '' ? '/files' : `/files/${r}`);
  const top = rel === '' ? undefined : await resolvePath(blobs, row.filesTree, rel);
  if (rel !== '' && !top) throw notFound(`${display(rel)} in snapshot "${snapshot}"`);
  if (top && top.type !== 'dir') return [toEntry(display(rel), top)];
  const out: FileEntry[] = [];
  const walk = async (dir: string) => {
    for (const entry of await listDir(blobs, row.filesTree, dir)) {
      const child = dir === '' ? entry.name : `${dir}/${entry.name}`;
      out.push(toEntry(display(child), entry));
      if (recursive && entry.type === 'dir') await walk(child);
    }
  };
  await walk(rel);
  return out;
}

/** Streams one file of a snapshot from its blob. */
export async function readSnapshotFile(deps: ServiceDeps, p: Principal, ref: InstanceRef, snapshot: string, path: string): Promise<{ stream: Readable; size: number }> {
  const segments = filesSegments(path);
  const { row } = await resolveSnapshot(deps, p, ref, snapshot);
  const blobs = await blobStoreOf(deps.dataDir);
  const entry = segments.length ? await resolvePath(blobs, row.filesTree, segments.join('/')) : undefined;
  if (!entry) throw notFound(`${path} in snapshot "${snapshot}"`);
  if (entry.type !== 'file') throw invalidInput(`${path} in snapshot "${snapshot}" is a ${entry.type === 'dir' ? 'folder' : 'symbolic link'}, not a file`);
  return { stream: createReadStream(blobs.pathOf(entry.sha256)), size: entry.size };
}

/** The snapshot object of a snapshot the caller may read. */
async function snapshotObject(deps: ServiceDeps, p: Principal, ref: InstanceRef, snapshot: string) {
  const { row } = await resolveSnapshot(deps, p, ref, snapshot);
  return readSnapshotObject(await blobStoreOf(deps.dataDir), row.objectSha256);
}

export async function listSnapshotTables(deps: ServiceDeps, p: Principal, ref: InstanceRef, snapshot: string): Promise<TableInfo[]> {
  return (await snapshotObject(deps, p, ref, snapshot)).tables.map((t) => ({ name: t.name, row_count: t.row_count, column_count: t.schema.length }));
}

/** A snapshot table's columns and DDL, as recorded when the snapshot was taken. */
export async function snapshotTable(deps: ServiceDeps, p: Principal, ref: InstanceRef, snapshot: string, table: string) {
  const entry = (await snapshotObject(deps, p, ref, snapshot)).tables.find((t) => t.name.toLowerCase() === table.toLowerCase());
  if (!entry) throw notFound(`table "${table}" in snapshot "${snapshot}"`);
  return entry;
}

/** The CREATE statements of every table of a snapshot, one per line. */
export async function snapshotSchemaDdl(deps: ServiceDeps, p: Principal, ref: InstanceRef, snapshot: string): Promise<string> {
  return (await snapshotObject(deps, p, ref, snapshot)).tables.map((t) => `${t.ddl}\n`).join('');
}

/** The app configs a snapshot holds. */
export async function snapshotApps(deps: ServiceDeps, p: Principal, ref: InstanceRef, snapshot: string): Promise<AppConfig[]> {
  return (await snapshotObject(deps, p, ref, snapshot)).apps;
}

/** A table of a snapshot as Parquet (its blob, as stored) or CSV (converted in a scratch DuckDB). */
export async function exportSnapshotTable(deps: ServiceDeps, p: Principal, ref: InstanceRef, snapshot: string, table: string, format: TableFormat) {
  const { target, row } = await resolveSnapshot(deps, p, ref, snapshot);
  const blobs = await blobStoreOf(deps.dataDir);
  const object = await readSnapshotObject(blobs, row.objectSha256);
  const entry = object.tables.find((t) => t.name.toLowerCase() === table.toLowerCase());
  if (!entry) throw notFound(`table "${table}" in snapshot "${snapshot}"`);
  await appendAuditEvent(deps.catalog.db, {
    event_key: `api/${randomUUID()}`,
    actor: actorOf(p),
    action: 'table.exported',
    subject: target.subject,
    details: { table: entry.name, format, rows: entry.row_count, snapshot },
    content_hashes: { [`table:${entry.name}`]: entry.blob },
  });
  if (format === 'parquet') {
    const path = blobs.pathOf(entry.blob);
    return { stream: createReadStream(path), size: (await stat(path)).size, rows: entry.row_count, done: async () => undefined };
  }
  const file = await scratchFile(deps.dataDir, '.csv');
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  try {
    // Both paths are server-chosen and bound as parameters; nothing from the request reaches the SQL.
    const copy = await connection.prepare(`COPY (SELECT * FROM read_parquet($1)) TO $2 (FORMAT csv, HEADER true)`);
    copy.bindVarchar(1, blobs.pathOf(entry.blob));
    copy.bindVarchar(2, file);
    await copy.run();
  } catch (err) {
    await rm(file, { force: true });
    throw err;
  } finally {
    connection.closeSync();
    db.closeSync();
  }
  return { stream: createReadStream(file), size: (await stat(file)).size, rows: entry.row_count, done: () => rm(file, { force: true }) };
}

/** What a restore or distribution asks for: `/files/...` paths, table names and app slugs. */
export interface SelectionRequest {
  files?: string[];
  tables?: string[];
  apps?: string[];
}

/**
 * Checks that every selected path, table and app exists in the snapshot, and returns the selection
 * in the stage's terms (relative paths; null = the whole kind when nothing at all was selected).
 */
export async function validateSelection(deps: ServiceDeps, objectSha256: string, snapshotName: string, request: SelectionRequest): Promise<StageSelection> {
  const nothingSelected = request.files === undefined && request.tables === undefined && request.apps === undefined;
  if (nothingSelected) return { files: null, tables: null, apps: null };
  const blobs = await blobStoreOf(deps.dataDir);
  const object = await readSnapshotObject(blobs, objectSha256);
  const files: string[] = [];
  for (const path of request.files ?? []) {
    const rel = filesSegments(path).join('/');
    if (rel !== '' && !(await resolvePath(blobs, object.files_tree, rel))) throw invalidInput(`${path} is not in snapshot "${snapshotName}"`);
    files.push(rel);
  }
  const tables = (request.tables ?? []).map((name) => {
    const found = object.tables.find((t) => t.name.toLowerCase() === name.toLowerCase());
    if (!found) throw invalidInput(`table "${name}" is not in snapshot "${snapshotName}"`);
    return found.name;
  });
  const apps = (request.apps ?? []).map((slug) => {
    if (!object.apps.some((a) => a.slug === slug)) throw invalidInput(`app "${slug}" is not in snapshot "${snapshotName}"`);
    return slug;
  });
  return { files, tables, apps };
}
