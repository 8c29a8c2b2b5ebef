import type { PendingBlob } from './tree/fs-jobs';

// Blobs written together and made durable together. A walk stores hundreds of small blobs (changed
// files, tree objects); an fdatasync each waits for a device flush each, which was a third of an
// incremental snapshot. In a batch each new blob is only written to its temp file; a commit then makes
// them all durable at once (one syncfs), and only then links them into place. So, as before, no name
// ever points at bytes a power cut could lose, and a blob exists for others only once it is durable.
//
// Small blobs given as bytes (tree objects) are not even written one by one: their ids are known at
// once, so they wait in memory and the commit writes them in a few jobs (a message to a worker thread
// per tree object was most of a walk's main-thread time beside the listing).
//
// Whatever must not be trusted before the blobs are (a stat cache entry naming one, which a later walk
// would take unseen) is handed to `afterCommit` and happens after the next commit.

/** How a batch's store writes queued bytes to temp files, makes pending blobs durable and links them (blob-store.ts). */
export interface BatchLinker {
  /** Writes each item to a temp file unless its blob exists: the new ones, pending. */
  writeQueued(items: Array<[sha256: string, bytes: Uint8Array]>): Promise<PendingBlob[]>;
  linkPending(pending: PendingBlob[]): Promise<void>;
}

/** Queued bytes beyond these are written out (not linked) at once, so a huge walk's queue stays small. */
const QUEUE_MAX_BYTES = 16 << 20;
const QUEUE_MAX_ITEMS = 4096;

export class BlobBatch {
  private pending: PendingBlob[] = [];
  private queued = new Map<string, Uint8Array>();
  private queuedBytes = 0;
  /** Queues being written out before a commit; a failure among them fails the next commit. */
  private writes: Array<Promise<PendingBlob[]>> = [];
  /** Added and not linked yet: queued, pending, or in a commit under way. */
  private unlinked = 0;
  private waiting: Array<() => void> = [];
  private committing: Promise<void> = Promise.resolve();

  constructor(private readonly linker: BatchLinker) {}

  /** Blobs written to temp files for this batch, linked at the next commit. */
  add(pending: readonly PendingBlob[]): void {
    for (const blob of pending) this.pending.push(blob);
    this.unlinked += pending.length;
  }

  /** Bytes whose id the caller computed, written and linked at the next commit (once, however often queued). */
  queue(sha256: string, bytes: Uint8Array): void {
    if (this.queued.has(sha256)) return;
    this.queued.set(sha256, bytes);
    this.queuedBytes += bytes.byteLength;
    this.unlinked++;
    if (this.queuedBytes > QUEUE_MAX_BYTES || this.queued.size >= QUEUE_MAX_ITEMS) {
      const write = this.writeQueue();
      write.catch(() => undefined); // its failure belongs to the next commit, not to an unhandled rejection meanwhile
      this.writes.push(write);
    }
  }

  /** Blobs added and not linked yet. */
  get size(): number {
    return this.unlinked;
  }

  /**
   * Runs `fn` once every blob added so far is durable and linked: at once when none waits, else after
   * the commit that covers them (not at all if that commit fails: what it would record is not true yet).
   */
  afterCommit(fn: () => void): void {
    if (this.unlinked === 0 && this.waiting.length === 0) fn();
    else this.waiting.push(fn);
  }

  /**
   * Makes every blob added so far durable, links it, then runs what waited for it. Commits run one
   * after the other; blobs added during one go into the next.
   */
  commit(): Promise<void> {
    const next = this.committing.then(() => this.commitNow());
    this.committing = next.catch(() => undefined);
    return next;
  }

  private async writeQueue(): Promise<PendingBlob[]> {
    const items = [...this.queued];
    const count = items.length;
    if (count === 0) return [];
    this.queued = new Map();
    this.queuedBytes = 0;
    try {
      const written = await this.linker.writeQueued(items);
      this.unlinked -= count - written.length; // those already stored are linked
      return written;
    } catch (err) {
      this.unlinked -= count;
      throw err;
    }
  }

  private async commitNow(): Promise<void> {
    const writes = this.writes;
    const waiting = this.waiting;
    this.writes = [];
    this.waiting = [];
    const outcomes = await Promise.allSettled([...writes, this.writeQueue()]);
    const pending = this.pending;
    this.pending = [];
    for (const outcome of outcomes) if (outcome.status === 'fulfilled') pending.push(...outcome.value);
    try {
      // What was written is linked even when a write failed (each is a whole, durable blob, and no temp
      // is left behind); what waited is then dropped: a blob it may name is missing.
      if (pending.length > 0) await this.linker.linkPending(pending);
    } finally {
      this.unlinked -= pending.length;
    }
    const failed = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;
    for (const fn of waiting) fn();
  }
}
