import type { ErrorCode } from '../domain/errors';

/** An error a user can act on: a code (→ HTTP status) and a message that says what to do. */
export class HandoutError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'HandoutError';
  }
}

export const notFound = (what: string) => new HandoutError('not_found', `${what} not found`);
export const forbidden = (message: string) => new HandoutError('forbidden', message);
export const conflict = (message: string) => new HandoutError('conflict', message);
export const invalidInput = (message: string) => new HandoutError('invalid_input', message);

/** True for a PostgreSQL unique-constraint violation (both drivers report SQLSTATE 23505). */
export function isUniqueViolation(err: unknown): boolean {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: string }).code === '23505') return true;
  }
  return false;
}
