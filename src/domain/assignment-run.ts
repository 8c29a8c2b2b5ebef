import type { LatePolicy } from './assignments';
import type { DistributionInput, TargetRef } from './distribution-run';

// What assignment workflows carry. Plain types only: the workflow bundle imports this file.

/** A hand-in already copied into write-once storage by the service (or the collector). */
export interface CapturedHandin {
  treeSha256: string;
  manifestSha256: string;
  files: number;
  bytes: number;
  /** Hand-in paths that were not in the student's state. */
  missing: string[];
  identifier: string | null;
  actor: string;
  /** When the API received the request (server time): a hand-in counts from that moment, not from when it was processed. */
  receivedAt?: string;
}

/** Who and what a hand-in row belongs to (the same for every version of one student). */
export interface HandinRecordBase {
  assignmentId: string;
  assignmentSubject: string;
  instanceId: string;
  instanceSubject: string;
  handinPaths: string[];
}

export interface HandinRecordInput extends HandinRecordBase {
  version: number;
  handedInAt: string;
  late: boolean;
  autoCollected: boolean;
  /** The student workflow: its receipts are mailed under this task id. */
  taskId: string;
}

export interface StudentAssignmentInput {
  record: HandinRecordBase;
  /** The effective deadline (due date, or the extension) as an ISO instant. */
  deadline: string;
  cutoffAt: string | null;
  latePolicy: LatePolicy;
  sizeLimitBytes: number | null;
  /** Versions already stored (a new run after an extension continues the count). */
  versionsSoFar: number;
  /** Whether the student has handed in themselves before (then nothing is collected automatically). */
  studentHandedIn: boolean;
}

export interface AssignmentInput {
  assignmentId: string;
  subject: string;
  releaseAt: string | null;
  /** The material, as a distribution (targets filled in at release). */
  distribution: Omit<DistributionInput, 'targets'>;
  /** Per-student settings; the deadline is each student's due date until an extension. */
  student: Omit<StudentAssignmentInput, 'record' | 'versionsSoFar' | 'studentHandedIn'> & { handinPaths: string[] };
  explicitTargets: TargetRef[];
  actor: string;
}

export interface FeedbackRelease {
  feedbackId: string;
  instanceId: string;
  instanceSubject: string;
  handinVersion: number;
  version: number;
}

export interface FeedbackReleaseInput {
  assignmentId: string;
  slug: string;
  subject: string;
  actor: string;
  releases: FeedbackRelease[];
}
