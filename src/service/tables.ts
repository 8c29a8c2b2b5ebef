import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { InstanceRef } from '../domain/context';
import type { ColumnInfo, TableFormat, TableImportMode, TableInfo } from '../domain/tables';
import { appendAuditEvent } from '../store/catalog/audit-log';
import { scratchFile } from '../store/scratch';
import { TooLargeError, writeStreamToFile } from '../store/streams';
import { WarehouseError, withWarehouse, type Warehouse } from '../store/warehouse';
import { actorOf, type Principal, type ServiceDeps } from './deps';
import { HandoutError } from './errors';
import { openInstance, type OpenedInstance } from './instance-access';
import { sha256OfFile } from './hashing';

// Tables of an instance's current state. Imports and exports pass through a temporary file in the
// data directory, so the warehouse only ever reads and writes server-chosen paths.

/** Runs warehouse work; a user-fixable failure becomes an API error that names no server path. */
async function warehouseCall<T>(target: OpenedInstance, work: (w: Warehouse) => Promise<T>, tempPath?: string): Promise<T> {
  try {
    return await withWarehouse(target.paths.warehouse, work);
  } catch (err) {
    if (!(err instanceof WarehouseError)) throw err;
    const message = tempPath ? err.message.split(JSON.stringify(tempPath)).join('the uploaded file').split(tempPath).join('the uploaded file') : err.message;
    throw new HandoutError(err.code, message);
  }
}

export async function listTables(deps: ServiceDeps, p: Principal, ref: InstanceRef): Promise<TableInfo[]> {
  const target = await openInstance(deps, p, ref, 'viewer');
  return warehouseCall(target, (w) => w.listTables());
}

export async function tableColumns(deps: ServiceDeps, p: Principal, ref: InstanceRef, table: string): Promise<ColumnInfo[]> {
  const target = await openInstance(deps, p, ref, 'viewer');
  return warehouseCall(target, (w) => w.columns(table));
}

export async function tableDdl(deps: ServiceDeps, p: Principal, ref: InstanceRef, table?: string): Promise<string> {
  const target = await openInstance(deps, p, ref, 'viewer');
  return warehouseCall(target, (w) => (table === undefined ? w.schemaDdl() : w.ddl(table)));
}

/** Imports an uploaded CSV or Parquet file into a table (all or nothing) and audits it with the file's hash. */
export async function importTable(deps: ServiceDeps, p: Principal, ref: InstanceRef, table: string, format: TableFormat, mode: TableImportMode, body: Readable) {
  const target = await openInstance(deps, p, ref, 'editor');
  const file = await scratchFile(deps.dataDir, `.${format}`);
  try {
    const { sha256, size } = await writeStreamToFile(body, file, deps.maxUploadBytes, `the file is larger than the upload limit of ${deps.maxUploadBytes} bytes (HANDOUT_MAX_UPLOAD_BYTES)`).catch((err) => {
      throw err instanceof TooLargeError ? new HandoutError('invalid_input', err.message) : err;
    });
    const rows = await warehouseCall(target, (w) => w.importFile(table, file, format, { mode }), file);
    await appendAuditEvent(deps.catalog.db, {
      event_key: `api/${randomUUID()}`,
      actor: actorOf(p),
      action: 'table.imported',
      subject: target.subject,
      details: { table, format, mode, rows, size },
      content_hashes: { [`upload:${table}.${format}`]: sha256 },
    });
    return { table, rows, sha256 };
  } finally {
    await rm(file, { force: true });
  }
}

/** Exports a table of the current state to a temporary file; the caller streams it and calls `done`. */
export async function exportCurrentTable(deps: ServiceDeps, p: Principal, ref: InstanceRef, table: string, format: TableFormat) {
  const target = await openInstance(deps, p, ref, 'viewer');
  const file = await scratchFile(deps.dataDir, `.${format}`);
  try {
    const rows = await warehouseCall(target, (w) => w.exportFile(table, file, format));
    const sha256 = await sha256OfFile(file);
    await appendAuditEvent(deps.catalog.db, {
      event_key: `api/${randomUUID()}`,
      actor: actorOf(p),
      action: 'table.exported',
      subject: target.subject,
      details: { table, format, rows, snapshot: 'development' },
      content_hashes: { [`export:${table}.${format}`]: sha256 },
    });
    return { stream: createReadStream(file), size: (await stat(file)).size, done: () => rm(file, { force: true }) };
  } catch (err) {
    await rm(file, { force: true });
    throw err;
  }
}

export async function renameTable(deps: ServiceDeps, p: Principal, ref: InstanceRef, table: string, newName: string) {
  const target = await openInstance(deps, p, ref, 'editor');
  await warehouseCall(target, (w) => w.rename(table, newName));
  await appendAuditEvent(deps.catalog.db, { event_key: `api/${randomUUID()}`, actor: actorOf(p), action: 'table.renamed', subject: target.subject, details: { table, new_name: newName } });
  return { table: newName };
}

export async function deleteTable(deps: ServiceDeps, p: Principal, ref: InstanceRef, table: string) {
  const target = await openInstance(deps, p, ref, 'editor');
  await warehouseCall(target, (w) => w.drop(table));
  await appendAuditEvent(deps.catalog.db, { event_key: `api/${randomUUID()}`, actor: actorOf(p), action: 'table.deleted', subject: target.subject, details: { table } });
  return { deleted: table };
}
