import { abortError } from './errors';

/** Runs async work at most `size` at a time; once stopped (an abort or a failure) it starts nothing new. */
export class TaskPool {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly idleWaiters: Array<() => void> = [];
  private stopReason: Error | undefined;

  constructor(
    private readonly size: number,
    private readonly signal?: AbortSignal,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`concurrency must be a positive integer, not ${size}`);
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    this.assertRunning();
    if (this.active >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      this.assertRunning();
      return await task();
    } finally {
      // Hand the slot straight to the next waiter, so `active` counts slots, not callbacks.
      const next = this.waiting.shift();
      if (next) next();
      else if (--this.active === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
    }
  }

  /** Refuses new tasks from now on; those already running finish. */
  stop(reason: Error): void {
    this.stopReason ??= reason;
  }

  /** Resolves once no task is running or waiting. */
  idle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  assertRunning(): void {
    if (this.signal?.aborted) throw abortError(this.signal);
    if (this.stopReason) throw this.stopReason;
  }
}

/**
 * Maps `items` with at most `limit` calls in flight. On a failure it starts no more calls but waits for
 * those in flight before rejecting: they may still use a directory descriptor the caller closes next.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failure) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
  return results;
}

/** Calls `report` at most every `intervalMs`, plus whenever `flush` is called. */
export function throttled(report: (() => void) | undefined, intervalMs = 100): { tick(): void; flush(): void } {
  let last = 0;
  return {
    tick() {
      const now = Date.now();
      if (report && now - last >= intervalMs) {
        last = now;
        report();
      }
    },
    flush() {
      last = Date.now();
      report?.();
    },
  };
}
