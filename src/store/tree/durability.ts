import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Socket } from 'node:net';

// syncfs(2) for Node, which has no binding for it: coreutils' (or busybox's) `sync -f PATH` calls
// syncfs on the file system holding PATH. One syncfs writes back everything a materialize wrote with a
// single device flush, where an fdatasync per file costs one flush each (the most of a restore's time).
// `sync` is looked up on this process's PATH, in the environment of the moment (so a test's applies).
//
// The `sync` processes are started by a small shell that lives as long as it is used, not by this
// process: forking a server of a few hundred MB copies its page tables, which took 30 ms per sync
// (measured beside a 570 MB heap: 34 ms, against 2 ms through the shell), on the path of every snapshot.

/** Reads paths, one per line, and answers each with "ok" or "fail" once `sync -f` on it has ended. */
const HELPER_SCRIPT = 'while IFS= read -r p; do if sync -f -- "$p" 2>/dev/null; then echo ok; else echo fail; fi; done';

/** The shell that runs `sync -f` for this process, started in a given environment. */
class SyncHelper {
  // Its pipes are sockets, which can be unref'd.
  private readonly child: ChildProcessByStdio<Socket, Socket, null>;
  private readonly waiting: Array<(ok: boolean | undefined) => void> = [];
  private output = '';
  private gone = false;

  constructor(readonly environment: string) {
    this.child = spawn('sh', ['-c', HELPER_SCRIPT], { env: process.env, stdio: ['pipe', 'pipe', 'ignore'] }) as ChildProcessByStdio<Socket, Socket, null>;
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => this.read(chunk));
    // Gone (killed, or no shell): what waits is told "no answer", and runs `sync` itself.
    const end = () => {
      this.gone = true;
      for (const resolve of this.waiting.splice(0)) resolve(undefined);
    };
    this.child.on('error', end);
    this.child.on('exit', end);
    this.child.stdin.on('error', end);
    this.idle();
  }

  get usable(): boolean {
    return !this.gone;
  }

  /** True once `sync -f path` succeeded, false if it failed, undefined if the helper could not tell. */
  sync(path: string): Promise<boolean | undefined> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.busy();
      this.child.stdin.write(`${path}\n`);
    });
  }

  /** Asked to go: its shell ends at the end of its input, after what it was asked already. */
  retire(): void {
    this.child.stdin.end();
  }

  private read(chunk: string): void {
    this.output += chunk;
    for (let end = this.output.indexOf('\n'); end >= 0; end = this.output.indexOf('\n')) {
      const answer = this.output.slice(0, end);
      this.output = this.output.slice(end + 1);
      this.waiting.shift()?.(answer === 'ok');
    }
    if (this.waiting.length === 0) this.idle();
  }

  // An idle helper never keeps this process alive; one with a question does until it answers.
  private busy(): void {
    this.child.ref();
    this.child.stdout.ref();
  }

  private idle(): void {
    this.child.unref();
    this.child.stdout.unref();
    this.child.stdin.unref();
  }
}

let helper: SyncHelper | undefined;

/** The helper for the current environment (PATH above all); a changed one gets a new helper. */
function currentHelper(): SyncHelper {
  const environment = JSON.stringify(process.env);
  if (helper?.usable && helper.environment === environment) return helper;
  helper?.retire();
  helper = new SyncHelper(environment);
  return helper;
}

/** `sync -f -- path` run directly, for its error message (or where the helper cannot take the path). */
function syncDirectly(path: string): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile('sync', ['-f', '--', path], { env: process.env }, (err, _stdout, stderr) => (err ? reject(new Error(`sync -f ${path} failed: ${stderr.trim() || err.message}`, { cause: err })) : resolve())),
  );
}

/**
 * `sync -f -- path` through the helper. A failure is run again directly for `sync`'s own message when
 * `explain`; so is a path the helper cannot take (one with a line break) or one it could not answer.
 */
async function syncVia(path: string, explain: boolean): Promise<void> {
  const answer = path.includes('\n') ? undefined : await currentHelper().sync(path);
  if (answer === true) return;
  if (answer === false && !explain) throw new Error(`sync -f ${path} failed`);
  return syncDirectly(path);
}

let available: Promise<boolean> | undefined;

/** Whether `sync -f` works here; probed once per process on /proc, where syncfs costs nothing. */
export function canSyncFileSystem(): Promise<boolean> {
  available ??= syncVia('/proc', false).then(
    () => true,
    () => false,
  );
  return available;
}

/** Makes everything written to the file system holding `path` durable; rejects with `sync`'s message if that failed. */
export function syncFileSystem(path: string): Promise<void> {
  return syncVia(path, true);
}

/** Bytes a long write adds between two early writebacks (see EarlyWriteback). */
export const WRITEBACK_STEP_BYTES = 64 << 20;

/**
 * Starts the write-back of a long write while it is still going on: each `stepBytes` written, one
 * `sync -f` of the file system, unless one is still under way. Durability still comes only from the
 * one syncfs after the last write (these may fail or lag; they are never waited for as proof): they
 * leave it little to do, because the disk writes while the cores create files instead of after. A
 * 500 MB restore into an empty instance: its final sync went from ~200 ms to ~10 ms, the writes
 * before it took part of that longer (their creations wait on the write-back): a net 0.03-0.05 s.
 */
export class EarlyWriteback {
  private pending = 0;
  private underWay: Promise<void> | undefined;

  constructor(
    private readonly path: string,
    private readonly stepBytes = WRITEBACK_STEP_BYTES,
  ) {}

  /** `bytes` more were written without a sync of their own. */
  written(bytes: number): void {
    this.pending += bytes;
    if (this.pending < this.stepBytes || this.underWay) return;
    this.pending = 0;
    this.underWay = syncVia(this.path, false)
      .catch(() => undefined) // the final sync reports a file system that cannot sync
      .finally(() => (this.underWay = undefined));
  }

  /** Resolves once no early writeback is under way. */
  async settled(): Promise<void> {
    await this.underWay;
  }
}
