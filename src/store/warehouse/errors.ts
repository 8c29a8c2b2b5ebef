import type { ErrorCode } from '../../domain/errors';

/** The failures a user can fix; anything else (disk full, a bug) stays a plain Error. */
export type WarehouseErrorCode = Extract<ErrorCode, 'not_found' | 'conflict' | 'invalid_input'>;

/** A warehouse failure a user can fix; the message names the table or file and what is wrong. */
export class WarehouseError extends Error {
  constructor(
    readonly code: WarehouseErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'WarehouseError';
  }
}

// Anchored to DuckDB's error class: a CSV error quotes the offending line, which could contain any words.
const CONFLICT = /^(TransactionContext Error: .*conflict|Catalog Error: .*already exists)/i;
// DuckDB error classes caused by the content of a file the user supplied (bad CSV, wrong types, missing columns).
const BAD_INPUT = /^(Invalid Input|Conversion|Binder|Constraint) Error:/;

// Not `instanceof Error`: the native addon creates its errors in the main realm, which fails that check
// inside another realm (a vm context, as jest uses).
function messageOf(err: unknown): string {
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(err);
}

/** True when DuckDB refused a change because another transaction changed the same table first. */
export function isConflict(err: unknown): boolean {
  return !(err instanceof WarehouseError) && CONFLICT.test(messageOf(err));
}

/** True when DuckDB rejected the data itself, so retrying cannot help but fixing the file can. */
export function isBadInput(err: unknown): boolean {
  return !(err instanceof WarehouseError) && BAD_INPUT.test(messageOf(err));
}

/**
 * DuckDB's message cut to what a user can act on: DuckDB appends read_csv options ("Possible fixes",
 * the sniffer's settings, the SQL text) that a Handout user cannot set, so keep only the first paragraph.
 */
export function duckdbReason(err: unknown): string {
  const message = messageOf(err);
  if (message.includes('Error when sniffing file')) {
    return 'it is not valid CSV (comma-separated, "-quoted, with a header row): a quote is not closed or rows have different numbers of fields';
  }
  const kept: string[] = [];
  for (const line of message.split('\n')) {
    const text = line.trim();
    if (text === '' || /^(Possible|LINE \d|Did you mean|Column .* is being converted)/.test(text)) break;
    kept.push(text);
  }
  return kept.join('; ').replace(/^[A-Za-z ]+ Error: /, '').slice(0, 500);
}
