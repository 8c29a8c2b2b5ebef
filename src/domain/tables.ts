import { z } from 'zod';

/**
 * A table name: a plain identifier of 1–63 characters (letters, digits, `_`, not starting with a digit).
 * Keywords are allowed because the warehouse always quotes names. Like SQL, the warehouse treats names
 * case-insensitively: `Scores` and `scores` are the same table.
 */
export const TableName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'a table name is 1–63 characters of A-Z, a-z, 0-9 and "_", not starting with a digit');
export type TableName = z.infer<typeof TableName>;

/** File formats a table is imported from and exported to. */
export const TableFormat = z.enum(['csv', 'parquet']);
export type TableFormat = z.infer<typeof TableFormat>;

/** How an import treats an existing table: fail if it exists, replace it (or create it), or append to it. */
export const TableImportMode = z.enum(['create', 'replace', 'append']);
export type TableImportMode = z.infer<typeof TableImportMode>;

/** How a restore or distribution loads a table: replace an existing one, or keep an existing one untouched. */
export const TableLoadMode = z.enum(['replace', 'ignore_existing']);
export type TableLoadMode = z.infer<typeof TableLoadMode>;

/** One column of a table; `type` is the warehouse's SQL type as it prints it (e.g. `DECIMAL(10,2)`). */
export const ColumnInfo = z.object({ name: z.string(), type: z.string(), nullable: z.boolean() });
export type ColumnInfo = z.infer<typeof ColumnInfo>;

/** One table as `tables list` shows it. */
export const TableInfo = z.object({
  name: z.string(),
  row_count: z.number().int().nonnegative(),
  column_count: z.number().int().nonnegative(),
});
export type TableInfo = z.infer<typeof TableInfo>;

/** A table as a snapshot records it, beside its Parquet blob. */
export const TableSnapshotEntry = z.object({
  name: z.string(),
  row_count: z.number().int().nonnegative(),
  schema: z.array(ColumnInfo),
  ddl: z.string(),
});
export type TableSnapshotEntry = z.infer<typeof TableSnapshotEntry>;
