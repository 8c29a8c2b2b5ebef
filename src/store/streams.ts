import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Raised when a stream carries more bytes than allowed; nothing past the limit is written. */
export class TooLargeError extends Error {}

/**
 * Streams `body` into a new file (created exclusively), hashing it on the way and stopping with
 * TooLargeError past `maxBytes`. The caller removes the file on failure.
 */
export async function writeStreamToFile(body: Readable, file: string, maxBytes: number, tooLargeMessage: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > maxBytes) return done(new TooLargeError(tooLargeMessage));
      hash.update(chunk);
      done(null, chunk);
    },
  });
  await pipeline(body, meter, createWriteStream(file, { flags: 'wx', mode: 0o644 }));
  return { sha256: hash.digest('hex'), size };
}
