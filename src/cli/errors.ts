/** An error the CLI prints as one line on stderr before exiting with code 1. */
export class CliError extends Error {
  constructor(
    message: string,
    options?: { cause?: unknown; detail?: string },
  ) {
    super(message, options);
    this.name = 'CliError';
    this.detail = options?.detail;
  }

  /** More lines for an operator (e.g. the tail of a server's log); client errors have none. */
  readonly detail: string | undefined;
}
