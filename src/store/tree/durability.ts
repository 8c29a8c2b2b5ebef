import { execFile } from 'node:child_process';

// syncfs(2) for Node, which has no binding for it: coreutils' (or busybox's) `sync -f PATH` calls
// syncfs on the file system holding PATH. One syncfs writes back everything a materialize wrote with a
// single device flush, where an fdatasync per file costs one flush each (the most of a restore's time).
// `sync` is looked up on this process's PATH (`env` passed explicitly, so a test's environment applies).

let available: Promise<boolean> | undefined;

/** Whether `sync -f` works here; probed once per process on /proc, where syncfs costs nothing. */
export function canSyncFileSystem(): Promise<boolean> {
  available ??= new Promise((resolve) => execFile('sync', ['-f', '--', '/proc'], { env: process.env }, (err) => resolve(!err)));
  return available;
}

/** Makes everything written to the file system holding `path` durable; rejects if that failed. */
export function syncFileSystem(path: string): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile('sync', ['-f', '--', path], { env: process.env }, (err, _stdout, stderr) => (err ? reject(new Error(`sync -f ${path} failed: ${stderr.trim() || err.message}`, { cause: err })) : resolve())),
  );
}
