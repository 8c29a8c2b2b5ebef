import pino, { type Logger } from 'pino';

/** The server's logger: JSON lines on stderr, so stdout stays for what `handout up` tells its user. */
export function createLogger(level: string): Logger {
  return pino({ level, base: undefined }, pino.destination(2));
}
export type { Logger };
