import { randomUUID } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ColumnInfo, TableFormat, TableImportMode, TableLoadMode, TableSnapshotEntry } from '../../domain/tables';
import { WarehouseError, duckdbReason, isBadInput } from './errors';
import type { Session } from './session';
import { copyOptions, fileReader, quoteIdentifier as q } from './sql';

/** What `loadParquet` did: `loaded` is false when an existing table was kept; `row_count` is the table's rows now. */
export interface LoadResult {
  table: string;
  loaded: boolean;
  row_count: number;
}

/** Turns DuckDB's rejection of a file's content into an `invalid_input` error that names the file and table. */
async function explainingBadInput<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isBadInput(err)) throw new WarehouseError('invalid_input', `${what}: ${duckdbReason(err)}`, { cause: err });
    throw err;
  }
}

/** Imports a checked file into a checked table name in one transaction; returns the rows imported. */
export function importTable(s: Session, table: string, file: string, format: TableFormat, mode: TableImportMode): Promise<number> {
  const what = `cannot import ${JSON.stringify(file)} into table "${table}"`;
  const source = `SELECT * FROM ${fileReader(format)}`;
  return explainingBadInput(what, () =>
    s.transaction(async () => {
      const stored = await s.resolve(table);
      if (mode === 'append') {
        if (stored === null) throw new WarehouseError('not_found', `${what}: table "${table}" not found (import with mode create or replace first)`);
        const before = await s.count(stored);
        // BY NAME: a CSV's columns may come in any order; a column the table lacks is an error, a missing one is NULL.
        await s.run(`INSERT INTO ${q(stored)} BY NAME ${source}`, [file]);
        return (await s.count(stored)) - before;
      }
      if (stored !== null && mode === 'create') throw new WarehouseError('conflict', `${what}: table "${stored}" already exists (use mode replace or append)`);
      if (stored !== null) await s.run(`DROP TABLE ${q(stored)}`);
      await s.run(`CREATE TABLE ${q(table)} AS ${source}`, [file]);
      return s.count(table);
    }, what),
  );
}

/** A temporary name beside `file`, so the final rename stays on one file system and is atomic. */
function tempBeside(file: string): string {
  return join(dirname(file), `.${basename(file)}.${randomUUID()}.tmp`);
}

/**
 * Writes a table to a checked path: first to a temporary file, renamed into place only when complete, so a
 * reader never sees half a file. Schema, DDL and rows come from one transaction, so they always agree.
 */
export async function writeTable(s: Session, table: string, file: string, format: TableFormat): Promise<TableSnapshotEntry> {
  const what = `cannot export table "${table}" to ${JSON.stringify(file)}`;
  const temp = tempBeside(file);
  try {
    const entry = await s.transaction(async () => {
      const stored = await s.existing(table);
      const schema = await s.columns(stored);
      const ddl = await s.ddl(stored);
      const rowCount = await s.changes(`COPY (SELECT * FROM ${q(stored)}) TO $1 (${copyOptions(format)})`, [temp]);
      return { name: stored, row_count: rowCount, schema, ddl };
    }, what);
    await rename(temp, file);
    return entry;
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/**
 * Loads a checked Parquet file as a table, replacing an existing one in the same transaction (so a reader sees the
 * old table or the new one, never none) or keeping it. Parquet drops NOT NULL, so `schema` (from the snapshot)
 * puts it back, and a file whose columns differ from `schema` is refused.
 */
export function loadTable(s: Session, table: string, file: string, mode: TableLoadMode, schema?: readonly ColumnInfo[]): Promise<LoadResult> {
  const what = `cannot load ${JSON.stringify(file)} into table "${table}"`;
  return explainingBadInput(what, () =>
    s.transaction(async () => {
      const stored = await s.resolve(table);
      if (stored !== null && mode === 'ignore_existing') return { table: stored, loaded: false, row_count: await s.count(stored) };
      if (stored !== null) await s.run(`DROP TABLE ${q(stored)}`);
      await s.run(`CREATE TABLE ${q(table)} AS SELECT * FROM read_parquet($1)`, [file]);
      if (schema) await restoreNotNull(s, table, schema, what);
      return { table, loaded: true, row_count: await s.count(table) };
    }, what),
  );
}

async function restoreNotNull(s: Session, table: string, schema: readonly ColumnInfo[], what: string): Promise<void> {
  const loaded = (await s.columns(table)).map((c) => c.name);
  const expected = schema.map((c) => c.name);
  if (loaded.join('\u0000') !== expected.join('\u0000')) {
    throw new WarehouseError('invalid_input', `${what}: the file's columns (${loaded.join(', ')}) differ from the snapshot's (${expected.join(', ')})`);
  }
  for (const column of schema.filter((c) => !c.nullable)) {
    await s.run(`ALTER TABLE ${q(table)} ALTER COLUMN ${q(column.name)} SET NOT NULL`);
  }
}
