import type { CaptureHeadStarts } from './capture-head-starts';
import type { CapturedFiles, QuickCaptureUnfinished } from './snapshots';
import type { Catalog } from '../store/catalog/db';
import type { Mailer } from '../store/mailer';

/** What activities are built from: injected, so tests and the worker pass real clients. */
export interface ActivityDeps {
  catalog: Catalog;
  dataDir: string;
  /** Where notifications go: SMTP, or `.eml` files in the data directory's outbox folder. */
  mailer: Mailer;
  /**
   * How long a snapshot's files may take in its first workflow task, as a local activity, before the
   * heartbeating activity takes over (snapshots.ts captureFilesQuickly). Default DEFAULT_QUICK_CAPTURE_MS.
   */
  quickCaptureMs?: number;
  /** Captures the API began for snapshots it started in this process, for their quick capture to take over. */
  headStarts?: CaptureHeadStarts<CapturedFiles | QuickCaptureUnfinished>;
}

/**
 * Two seconds: an incremental snapshot of 20,000 files takes a few tenths; a first snapshot of that
 * many takes several seconds and goes on in captureFiles, which resumes from the stat cache.
 */
export const DEFAULT_QUICK_CAPTURE_MS = 2000;
