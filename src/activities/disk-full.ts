import { ApplicationFailure } from '@temporalio/activity';

function isDiskFull(err: unknown): boolean {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
    if (/No space left on device/i.test((e as Error).message ?? '')) return true;
  }
  return false;
}

/**
 * A full disk fails the task at once with a message a user can act on, instead of retrying for
 * ever; whatever was written so far is unreferenced and the garbage collector frees it.
 */
export async function diskFullAsFailure<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isDiskFull(err)) throw ApplicationFailure.nonRetryable('the disk of the data directory is full; free space and try again', 'DiskFull', (err as Error).message);
    throw err;
  }
}
