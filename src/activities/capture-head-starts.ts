// Captures begun when a snapshot is asked for, before its workflow's first step runs.
//
// When the API and the worker share a process (`handout up`), the request that starts a snapshot
// also begins capturing its files, and the workflow's quick capture (snapshots.ts captureFilesQuickly)
// takes that capture over instead of walking the tree itself. The walk then starts as soon as the
// request is accepted, not after the workflow has been started, dispatched and has scheduled its first
// step (tens of ms on a small machine); a snapshot is of the files as they were when it was asked for.
//
// Nothing depends on a head start: one that is never claimed (the workflow ran in another worker
// process, or could not start) is stopped after a while, and its blobs are unreferenced like those of
// any failed capture (the collector's grace period covers them). Only the first attempt of the quick
// capture claims one; a retry walks the tree itself.

/** What a quick capture gives: the captured files, or how far it got within its budget. */
export type QuickCapture<T> = (instanceId: string, cancelled: AbortSignal) => Promise<T>;

/** The service layer's side: begin a capture for a task, or give it up when its workflow did not start. */
export interface CaptureHeadStart {
  begin(taskId: string, instanceId: string): void;
  abandon(taskId: string): void;
}

/** A capture begun for a task, claimed by its workflow's quick capture. */
export interface ClaimedCapture<T> {
  result: Promise<T>;
  /** Stops it (the claiming activity was cancelled). */
  cancel(): void;
}

interface HeadStart<T> {
  instanceId: string;
  result: Promise<T>;
  stop: AbortController;
  expiry: NodeJS.Timeout;
}

/**
 * Unclaimed this long after it began, a head start is stopped: a workflow that starts in this process
 * claims its capture within its first workflow task, milliseconds after the request.
 */
export const UNCLAIMED_MS = 60_000;

export class CaptureHeadStarts<T> implements CaptureHeadStart {
  private readonly begun = new Map<string, HeadStart<T>>();
  /** How many were begun, claimed and stopped unclaimed (tests and operators look at these). */
  readonly counts = { begun: 0, claimed: 0, abandoned: 0 };

  constructor(
    private readonly capture: QuickCapture<T>,
    private readonly unclaimedMs = UNCLAIMED_MS,
  ) {}

  begin(taskId: string, instanceId: string): void {
    if (this.begun.has(taskId)) return;
    const stop = new AbortController();
    const result = this.capture(instanceId, stop.signal);
    result.catch(() => undefined); // its failure is the claimer's to see; unclaimed, nobody's
    const expiry = setTimeout(() => this.abandon(taskId), this.unclaimedMs);
    expiry.unref();
    this.begun.set(taskId, { instanceId, result, stop, expiry });
    this.counts.begun++;
  }

  abandon(taskId: string): void {
    const head = this.take(taskId);
    if (!head) return;
    head.stop.abort();
    this.counts.abandoned++;
  }

  /** The capture begun for `taskId`, if it is of `instanceId`; handed over once. */
  claim(taskId: string, instanceId: string): ClaimedCapture<T> | undefined {
    const head = this.begun.get(taskId);
    if (!head) return undefined;
    if (head.instanceId !== instanceId) {
      this.abandon(taskId); // not this capture's: nobody will claim it
      return undefined;
    }
    this.take(taskId);
    this.counts.claimed++;
    return { result: head.result, cancel: () => head.stop.abort() };
  }

  /** Stops every head start not claimed yet (the process is stopping). */
  abandonAll(): void {
    for (const taskId of [...this.begun.keys()]) this.abandon(taskId);
  }

  /** Head starts not claimed or stopped yet. */
  get waiting(): number {
    return this.begun.size;
  }

  private take(taskId: string): HeadStart<T> | undefined {
    const head = this.begun.get(taskId);
    if (!head) return undefined;
    this.begun.delete(taskId);
    clearTimeout(head.expiry);
    return head;
  }
}
