import type { ErrorCode } from '../../domain/errors';

/** The failures of a files-tree operation a caller can act on. */
export type FileTreeErrorCode = Extract<ErrorCode, 'not_found' | 'conflict' | 'invalid_input' | 'internal'>;

/**
 * A files-tree failure: `not_found` (a path is not in the snapshot), `invalid_input` (a bad path),
 * `conflict` (the tree changed under the walk; retrying later helps), `internal` (a damaged store).
 */
export class FileTreeError extends Error {
  constructor(
    readonly code: FileTreeErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FileTreeError';
  }
}

/** The error to throw for an aborted signal: its reason when that is an Error (e.g. a Temporal cancellation), else an AbortError. */
export function abortError(signal: AbortSignal): Error {
  if (signal.reason instanceof Error) return signal.reason;
  const err = new Error('the operation was aborted');
  err.name = 'AbortError';
  return err;
}
