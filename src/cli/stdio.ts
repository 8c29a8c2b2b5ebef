import { pipeline } from 'node:stream/promises';

// `-` as a local path: standard input for an upload, standard output for a download, as in `tar`,
// `curl -o -` or `aws s3 cp`. So `handout files get /files/data.csv - | head` and
// `generate | handout files put - /files/out.txt` work without a temporary file.

export const STDIO_PATH = '-';

/**
 * Streams a download to standard output, which stays open (`end: false`). A reader that stops early
 * (`| head`) closes the pipe: that ends the download quietly, as it does for `cat`, not with EPIPE.
 */
export async function streamToStdout(body: NodeJS.ReadableStream): Promise<void> {
  try {
    await pipeline(body, process.stdout, { end: false });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPIPE') throw err;
  }
}
