import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { JOBS, WORKER_FUNCTIONS, type FileJobError, type JobErrorDetails } from './fs-jobs';

// A few worker threads that run batches of synchronous file-system calls (fs-jobs.ts), shared by
// every walk and materialize of the process. Started on first use and unref'd while idle, so an idle
// pool never keeps a process alive.

type Jobs = typeof JOBS;
export type JobName = keyof Jobs;

/** A job's failure, rebuilt on the main thread: the message, the errno code, and for a file job which file and stage. */
export class FsJobError extends Error implements FileJobError {
  code?: string;
  index?: number;
  stage?: 'blob' | 'target';
  rel?: string;

  constructor(details: JobErrorDetails) {
    super(details.message);
    this.name = 'FsJobError';
    Object.assign(this, { code: details.code, index: details.index, stage: details.stage, rel: details.rel });
  }
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
}

// The worker's whole program: the job functions from their compiled source, then the message loop.
const SOURCE = ["'use strict';", "const fs = require('node:fs');", "const crypto = require('node:crypto');", ...WORKER_FUNCTIONS.map((f) => f.toString()), `serveJobs({ ${Object.keys(JOBS).join(', ')} });`].join('\n');

/** Two workers on a 2-core machine, at most four: they mostly wait on the kernel, which the cores share. */
const POOL_SIZE = Math.max(2, Math.min(4, availableParallelism()));
/**
 * Storing blobs waits on each blob's fdatasync: with eight workers eight flushes are in flight, which
 * the block layer merges (a full snapshot of 20,000 files: 4.3 s, against 7.5 s with two workers).
 */
export const STORE_POOL_SIZE = 8;

class FsPool {
  private readonly slots: Slot[] = [];
  private nextId = 0;

  constructor(private readonly size: number) {}

  /**
   * Runs one job on the least busy worker (starting one if the pool is not full yet), or, given an
   * `affinity`, always on the same worker for the same number: jobs on one folder then run one after
   * the other instead of contending for the folder's lock in the kernel.
   */
  run<J extends JobName>(job: J, args: Parameters<Jobs[J]>[0], affinity?: number): Promise<ReturnType<Jobs[J]>> {
    const slot = affinity === undefined ? this.pick() : this.slotFor(affinity);
    const id = this.nextId++;
    return new Promise<ReturnType<Jobs[J]>>((resolve, reject) => {
      if (slot.pending.size === 0) slot.worker.ref(); // a job under way keeps the process alive
      slot.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      slot.worker.postMessage({ id, job, args });
    });
  }

  private pick(): Slot {
    let best: Slot | undefined;
    for (const slot of this.slots) if (!best || slot.pending.size < best.pending.size) best = slot;
    if (best && (best.pending.size === 0 || this.slots.length >= this.size)) return best;
    return this.start();
  }

  private slotFor(affinity: number): Slot {
    while (this.slots.length < this.size) this.start();
    return this.slots[affinity % this.size]!;
  }

  private start(): Slot {
    const worker = new Worker(SOURCE, { eval: true });
    const slot: Slot = { worker, pending: new Map() };
    worker.unref();
    worker.on('message', (msg: { id: number; value?: unknown; error?: JobErrorDetails }) => {
      const pending = slot.pending.get(msg.id);
      if (!pending) return;
      slot.pending.delete(msg.id);
      if (slot.pending.size === 0) worker.unref();
      if (msg.error) pending.reject(new FsJobError(msg.error));
      else pending.resolve(msg.value);
    });
    // A worker that dies takes its jobs with it: they fail, and the next job starts a new worker.
    const fail = (err: Error) => {
      const index = this.slots.indexOf(slot);
      if (index >= 0) this.slots.splice(index, 1);
      for (const pending of slot.pending.values()) pending.reject(err);
      slot.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`a file-system worker thread exited (${code})`)));
    this.slots.push(slot);
    return slot;
  }
}

let pool: FsPool | undefined;
let storing: FsPool | undefined;

/** The process's pool of file-system worker threads. */
export function fsPool(): FsPool {
  pool ??= new FsPool(POOL_SIZE);
  return pool;
}

/** The process's pool of worker threads for storing blobs and syncing their folders (they mostly wait for the disk). */
export function storePool(): FsPool {
  storing ??= new FsPool(STORE_POOL_SIZE);
  return storing;
}
