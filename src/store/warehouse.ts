import { stat } from 'node:fs/promises';
import type { DuckDBInstance } from '@duckdb/node-api';
import { TableImportMode, TableLoadMode, type ColumnInfo, type TableFormat, type TableInfo, type TableSnapshotEntry } from '../domain/tables';
import { WarehouseError } from './warehouse/errors';
import { Session } from './warehouse/session';
import { checkFormat, checkSourceFile, checkTableName, checkTargetFile, quoteIdentifier } from './warehouse/sql';
import { importTable, loadTable, writeTable, type LoadResult } from './warehouse/transfer';

export { WarehouseError, type WarehouseErrorCode } from './warehouse/errors';
export type { LoadResult } from './warehouse/transfer';

/*
 * An instance's warehouse: the DuckDB file <data>/instances/<id>/warehouse.duckdb holding its tables.
 *
 * Lifetime rule. DuckDB must have one database instance per file per process (two independent instances on
 * one file corrupt it, and POSIX file locks do not stop a second open from the same process). So every
 * handle comes from DuckDB's process-wide instance cache, and each handle holds its own reference to the
 * shared instance:
 *   - whoever calls `openWarehouse` owns the handle and calls `close()` exactly once (or uses `withWarehouse`);
 *   - `close()` waits for the handle's running operations, then drops only its own reference: other handles
 *     on the same file (the API's and the worker's) keep working; DuckDB closes the file with the last one;
 *   - never open a warehouse file with `DuckDBInstance.create`, or from the cache with different options
 *     (DuckDB refuses a second configuration for a cached file).
 * Each operation runs on a fresh connection, so concurrent calls on one handle never share a transaction.
 */

/** Options of an import: `create` fails if the table exists, `replace` replaces or creates it, `append` adds rows. */
export interface ImportOptions {
  mode: TableImportMode;
}

/** A handle on one instance's warehouse; see the lifetime rule above. */
export class Warehouse {
  private running = new Set<Promise<unknown>>();
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly instance: DuckDBInstance,
  ) {}

  /** @internal Use `openWarehouse`. */
  static async open(path: string): Promise<Warehouse> {
    // Provisioning creates the file; opening a missing one would silently create a stray, empty warehouse.
    const info = await stat(path).catch(() => null);
    if (!info?.isFile()) throw new WarehouseError('not_found', `warehouse ${JSON.stringify(path)} not found`);
    const { DuckDBInstance } = await import('@duckdb/node-api');
    return new Warehouse(path, await DuckDBInstance.fromCache(path));
  }

  /** All tables of the warehouse with exact row counts, sorted by name ignoring case. */
  async listTables(): Promise<TableInfo[]> {
    return this.use((s) =>
      s.transaction(async () => {
        const tables: TableInfo[] = [];
        for (const name of await s.tableNames()) {
          tables.push({ name, row_count: await s.count(name), column_count: (await s.columns(name)).length });
        }
        return tables;
      }, 'cannot list tables'),
    );
  }

  /** The columns of a table, in order. */
  async columns(table: string): Promise<ColumnInfo[]> {
    const name = checkTableName(table);
    return this.use(async (s) => s.columns(await s.existing(name)));
  }

  /** The CREATE TABLE statement of a table. */
  async ddl(table: string): Promise<string> {
    const name = checkTableName(table);
    return this.use(async (s) => s.ddl(await s.existing(name)));
  }

  /** The CREATE TABLE statements of all tables, sorted by name, one per line ('' when there are none). */
  async schemaDdl(): Promise<string> {
    return this.use((s) =>
      s.transaction(async () => {
        const statements: string[] = [];
        for (const name of await s.tableNames()) statements.push(await s.ddl(name));
        return statements.map((sql) => `${sql}\n`).join('');
      }, 'cannot read the schema'),
    );
  }

  /** True when the table exists (names are case-insensitive). */
  async exists(table: string): Promise<boolean> {
    const name = checkTableName(table);
    return this.use(async (s) => (await s.resolve(name)) !== null);
  }

  /** Imports a CSV (with a header row) or Parquet file; all or nothing. Returns the number of rows imported. */
  async importFile(table: string, file: string, format: TableFormat, options: ImportOptions): Promise<number> {
    const name = checkTableName(table);
    const checkedFormat = checkFormat(format);
    if (!TableImportMode.safeParse(options?.mode).success) throw new WarehouseError('invalid_input', `unknown import mode ${JSON.stringify(options?.mode)}: use create, replace or append`);
    return this.use((s) => importTable(s, name, file, checkedFormat, options.mode), () => checkSourceFile(file));
  }

  /** Writes a table to a CSV or Parquet file (replacing it atomically). Returns the number of rows written. */
  async exportFile(table: string, file: string, format: TableFormat): Promise<number> {
    const name = checkTableName(table);
    const checkedFormat = checkFormat(format);
    return this.use(async (s) => (await writeTable(s, name, file, checkedFormat)).row_count, () => checkTargetFile(file));
  }

  /** Renames a table; fails if the new name is taken by another table. */
  async rename(table: string, newName: string): Promise<void> {
    const from = checkTableName(table);
    const to = checkTableName(newName);
    const what = `cannot rename table "${from}" to "${to}"`;
    return this.use((s) =>
      s.transaction(async () => {
        const stored = await s.existing(from);
        if (stored === to) throw new WarehouseError('invalid_input', `${what}: it already has that name`);
        const taken = await s.resolve(to);
        // Names are case-insensitive, so "scores" → "Scores" renames the same table rather than clashing.
        if (taken !== null && taken !== stored) throw new WarehouseError('conflict', `${what}: table "${taken}" already exists`);
        await s.run(`ALTER TABLE ${quoteIdentifier(stored)} RENAME TO ${quoteIdentifier(to)}`);
      }, what),
    );
  }

  /** Deletes a table and its rows. */
  async drop(table: string): Promise<void> {
    const name = checkTableName(table);
    return this.use((s) => s.transaction(async () => s.run(`DROP TABLE ${quoteIdentifier(await s.existing(name))}`), `cannot delete table "${name}"`));
  }

  /** Writes a table to a Parquet file for a snapshot and describes it (schema, DDL and rows from one moment). */
  async exportTableToParquet(table: string, file: string): Promise<TableSnapshotEntry> {
    const name = checkTableName(table);
    return this.use((s) => writeTable(s, name, file, 'parquet'), () => checkTargetFile(file));
  }

  /**
   * Loads a Parquet file as a table for a restore or distribution: `replace` swaps the table in one transaction,
   * `ignore_existing` keeps an existing table. Pass the snapshot's `schema` to restore NOT NULL and check the columns.
   */
  async loadParquet(table: string, file: string, mode: TableLoadMode, options: { schema?: readonly ColumnInfo[] } = {}): Promise<LoadResult> {
    const name = checkTableName(table);
    if (!TableLoadMode.safeParse(mode).success) throw new WarehouseError('invalid_input', `unknown load mode ${JSON.stringify(mode)}: use replace or ignore_existing`);
    return this.use((s) => loadTable(s, name, file, mode, options.schema), () => checkSourceFile(file));
  }

  /** Waits for this handle's running operations, then releases its reference to the database (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.running]);
    this.instance.closeSync();
  }

  /** Runs one operation (after its file checks) on its own connection, tracked from the call on so `close()` waits for it. */
  private use<T>(operation: (session: Session) => Promise<T>, checkFirst?: () => Promise<void>): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`warehouse handle for ${this.path} is closed`));
    const work = (async () => {
      await checkFirst?.();
      const connection = await this.instance.connect();
      try {
        return await operation(new Session(connection));
      } finally {
        connection.closeSync();
      }
    })();
    this.running.add(work);
    void work.finally(() => this.running.delete(work)).catch(() => undefined);
    return work;
  }
}

/** Opens a handle on the warehouse file at `path` (which must exist); the caller closes it. */
export function openWarehouse(path: string): Promise<Warehouse> {
  return Warehouse.open(path);
}

/** Runs `work` with a warehouse handle and always closes the handle afterwards. */
export async function withWarehouse<T>(path: string, work: (warehouse: Warehouse) => Promise<T>): Promise<T> {
  const warehouse = await openWarehouse(path);
  try {
    return await work(warehouse);
  } finally {
    await warehouse.close();
  }
}
