import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { ColumnInfo } from '../../domain/tables';
import { WarehouseError, isConflict } from './errors';
import { quoteIdentifier } from './sql';

type Row = Record<string, unknown>;

// The tables a user sees: base tables of the main schema of this database file (not temporary ones, not views).
const USER_TABLES = `FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' AND NOT temporary`;

/** One DuckDB connection used by one warehouse operation; connections are never shared, so transactions never interleave. */
export class Session {
  constructor(private readonly connection: DuckDBConnection) {}

  /** Rows of a query as JSON-safe objects (BIGINT arrives as a string, see `count`). */
  async rows(sql: string, params: DuckDBValue[] = []): Promise<Row[]> {
    return (await this.connection.runAndReadAll(sql, params)).getRowObjectsJson() as Row[];
  }

  async run(sql: string, params: DuckDBValue[] = []): Promise<void> {
    await this.connection.run(sql, params);
  }

  /** Runs a statement and returns the rows it changed or wrote (COPY … TO counts the rows written). */
  async changes(sql: string, params: DuckDBValue[] = []): Promise<number> {
    return (await this.connection.run(sql, params)).rowsChanged;
  }

  /**
   * Runs `body` in one transaction: all of it happens or none of it. DuckDB's DDL is transactional,
   * so a failed import rolls back a table it created or replaced.
   */
  async transaction<T>(body: () => Promise<T>, what: string): Promise<T> {
    await this.connection.run('BEGIN TRANSACTION');
    try {
      const result = await body();
      await this.connection.run('COMMIT');
      return result;
    } catch (err) {
      // A failed COMMIT has already rolled back, and then ROLLBACK itself fails; nothing else to undo.
      await this.connection.run('ROLLBACK').catch(() => undefined);
      if (isConflict(err)) {
        throw new WarehouseError('conflict', `${what}: another operation changed the same table at the same time; try again`, { cause: err });
      }
      throw err;
    }
  }

  /** The stored name of the table `name` refers to (names are case-insensitive), or null. */
  async resolve(name: string): Promise<string | null> {
    const found = await this.rows(`SELECT table_name ${USER_TABLES} AND lower(table_name) = lower($1)`, [name]);
    return found.length ? String(found[0].table_name) : null;
  }

  /** Like `resolve`, but a missing table is a `not_found` error. */
  async existing(name: string): Promise<string> {
    const stored = await this.resolve(name);
    if (stored === null) throw new WarehouseError('not_found', `table "${name}" not found`);
    return stored;
  }

  /** Stored names of all user tables, sorted ignoring case (as names are matched), never by locale. */
  async tableNames(): Promise<string[]> {
    const rows = await this.rows(`SELECT table_name ${USER_TABLES} ORDER BY lower(table_name), table_name`);
    return rows.map((r) => String(r.table_name));
  }

  async count(stored: string): Promise<number> {
    const [row] = await this.rows(`SELECT count(*) AS n FROM ${quoteIdentifier(stored)}`);
    return Number(row.n);
  }

  async columns(stored: string): Promise<ColumnInfo[]> {
    const rows = await this.rows(
      `SELECT column_name, data_type, is_nullable FROM duckdb_columns()
       WHERE database_name = current_database() AND schema_name = 'main' AND table_name = $1 ORDER BY column_index`,
      [stored],
    );
    return rows.map((r) => ({ name: String(r.column_name), type: String(r.data_type), nullable: Boolean(r.is_nullable) }));
  }

  /** The CREATE TABLE statement DuckDB keeps for the table (constraints and defaults included). */
  async ddl(stored: string): Promise<string> {
    const [row] = await this.rows(`SELECT sql ${USER_TABLES} AND table_name = $1`, [stored]);
    return String(row.sql);
  }
}
