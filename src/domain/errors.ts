/** Error codes the API returns and the CLI prints; each maps to one HTTP status. */
export const ERROR_STATUS = {
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  invalid_input: 400,
  unavailable: 503,
  internal: 500,
} as const;
export type ErrorCode = keyof typeof ERROR_STATUS;

/** The JSON body of every API error. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

/** Temporal ApplicationFailure types that mean "the input is wrong; do not retry". */
export const FAILURE_TYPES = { conflict: 'Conflict', notFound: 'NotFound', invalid: 'InvalidInput' } as const;

/** The innermost message of a failure chain (activity → application failure → …): the reason a user can act on. */
export function innermostMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  let message = e?.message ?? String(err);
  while (e?.cause) {
    e = e.cause as { message?: string; cause?: unknown };
    if (e.message) message = e.message;
  }
  return message;
}
