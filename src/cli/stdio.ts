import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

// `-` as a local path: standard input for an upload, standard output for a download, as in `tar`,
// `curl -o -` or `aws s3 cp`. So `handout files get /files/data.csv - | head` and
// `generate | handout files put - /files/out.txt` work without a temporary file.

export const STDIO_PATH = '-';

/**
 * Streams a download to standard output. A reader that stops early (`| head`) closes the pipe: that
 * ends the download quietly, as it does for `cat`, instead of failing with EPIPE.
 */
export async function streamToStdout(body: NodeJS.ReadableStream): Promise<void> {
  const stdout = process.stdout;
  // Standard output is never ended (later output, and Node itself, still use it): each chunk is
  // handed on, and the pipeline finishes once the last one has been written.
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (stdout.write(chunk)) done();
      else stdout.once('drain', () => done());
    },
  });
  let closedEarly = false;
  const onError = (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') return;
    closedEarly = true;
    sink.destroy();
    (body as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
  };
  stdout.on('error', onError);
  try {
    await pipeline(body, sink);
  } catch (err) {
    if (!closedEarly) throw err;
  } finally {
    stdout.off('error', onError);
  }
}
