import type { Client } from '@temporalio/client';
import type { CaptureHeadStart } from '../activities/capture-head-starts';
import type { Catalog } from '../store/catalog/db';

/** What the service layer works with; the API server builds it once. */
export interface ServiceDeps {
  catalog: Catalog;
  temporal: Client;
  /** A client on the worker's connection, for eager workflow starts (absent: tasks start through `temporal`). */
  eagerStarter?: Client;
  taskQueue: string;
  /** Base URL of the Temporal Web UI, for links to tasks (null when unknown). */
  temporalUiUrl: string | null;
  version: string;
  /** Where instance states and blobs live. */
  dataDir: string;
  /** Largest single file an upload may carry. */
  maxUploadBytes: number;
  /** Grace period of the blob garbage collector. */
  blobGcGraceMs: number;
  /** Targets one distribution writes at once. */
  distributionConcurrency: number;
  /** Where the worker shares this process: begins a snapshot's capture with its request (absent: the workflow's first step does). */
  captureHeadStart?: CaptureHeadStart;
}

/** The authenticated caller of a request. */
export interface Principal {
  userId: string;
  email: string;
  isAdmin: boolean;
}

/** How a principal appears in the audit log. */
export const actorOf = (p: Principal) => `user:${p.email}`;
