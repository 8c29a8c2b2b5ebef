import { stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute } from 'node:path';
import { TableFormat, TableName } from '../../domain/tables';
import { WarehouseError } from './errors';

// SQL in the warehouse is never spliced from user text: a table name must pass TableName and is then
// quoted as an identifier; a file path is always a bound parameter ($1), which DuckDB 1.5 accepts in
// read_csv, read_parquet and COPY … TO alike. Paths still come only from the server (upload and export
// folders it chose), and are checked below because DuckDB gives some path strings a meaning of their own.

/** `name` as a DuckDB identifier: double-quoted, with any `"` doubled (TableName already forbids them). */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Validates a table name from a user, or throws `invalid_input` naming it. */
export function checkTableName(name: unknown): string {
  const parsed = TableName.safeParse(name);
  if (parsed.success) return parsed.data;
  throw new WarehouseError('invalid_input', `invalid table name ${JSON.stringify(name)}: ${parsed.error.issues[0]?.message ?? 'not a table name'}`);
}

/** Validates a file format, or throws `invalid_input`. */
export function checkFormat(format: unknown): TableFormat {
  const parsed = TableFormat.safeParse(format);
  if (parsed.success) return parsed.data;
  throw new WarehouseError('invalid_input', `unknown table file format ${JSON.stringify(format)}: use csv or parquet`);
}

// DuckDB expands these as a glob even in a bound path, so one file name could read many files.
const GLOB = /[*?[\]{}]/;

function checkPathShape(file: string): void {
  // A relative path would resolve against the process's directory; "s3://…" or "~/…" would reach beyond the disk.
  if (typeof file !== 'string' || !isAbsolute(file)) throw new WarehouseError('invalid_input', `file ${JSON.stringify(file)} is not an absolute path`);
  if (GLOB.test(basename(file)) || GLOB.test(dirname(file))) {
    throw new WarehouseError('invalid_input', `file ${JSON.stringify(file)} contains a wildcard character (* ? [ ] { })`);
  }
}

/** Checks that a file to import exists, is a regular file and is not empty. */
export async function checkSourceFile(file: string): Promise<void> {
  checkPathShape(file);
  const info = await stat(file).catch(() => null);
  if (!info) throw new WarehouseError('not_found', `file ${JSON.stringify(file)} not found`);
  if (!info.isFile()) throw new WarehouseError('invalid_input', `${JSON.stringify(file)} is not a file`);
  if (info.size === 0) throw new WarehouseError('invalid_input', `file ${JSON.stringify(file)} is empty`);
}

/** Checks that a file can be written: its folder exists and the path is not a folder itself. */
export async function checkTargetFile(file: string): Promise<void> {
  checkPathShape(file);
  const folder = await stat(dirname(file)).catch(() => null);
  if (!folder?.isDirectory()) throw new WarehouseError('not_found', `folder ${JSON.stringify(dirname(file))} for ${JSON.stringify(basename(file))} not found`);
  const existing = await stat(file).catch(() => null);
  if (existing && !existing.isFile()) throw new WarehouseError('invalid_input', `${JSON.stringify(file)} is a folder, not a file`);
}

// RFC 4180 CSV with a header row on the first line. The dialect is fixed rather than sniffed: with sniffing,
// DuckDB reads a file with an unclosed quote or ragged rows as one text column, or skips the leading rows that
// do not fit, instead of failing. Column types are still detected.
const CSV_READ_OPTIONS = `header = true, skip = 0, delim = ',', quote = '"', escape = '"', strict_mode = true`;
const CSV_WRITE_OPTIONS = `FORMAT csv, HEADER true, DELIMITER ',', QUOTE '"', ESCAPE '"'`;

/** A FROM-clause source that reads the file bound to $1. */
export function fileReader(format: TableFormat): string {
  return format === 'csv' ? `read_csv($1, ${CSV_READ_OPTIONS})` : 'read_parquet($1)';
}

/** The options of a `COPY … TO $1` that writes `format`. */
export function copyOptions(format: TableFormat): string {
  return format === 'csv' ? CSV_WRITE_OPTIONS : 'FORMAT parquet';
}
