import type { Strategies } from './distribution';

// What a distribution task carries between the service, its workflow and its activities.
// Plain types only: the workflow bundle imports this file.

/** One target instance, with its audit subject `instance:<org>/<space>/<slug>`. */
export interface TargetRef {
  instanceId: string;
  subject: string;
}

/** Which kinds the selection names: only those are applied (so `mirror` never clears a kind nobody asked for). */
export interface SelectedKinds {
  files: boolean;
  tables: boolean;
  apps: boolean;
}

/** What was distributed, for mails, audit and the task result. */
export interface StageSummary {
  files: string[];
  tables: string[];
  apps: string[];
}

/** The validated request, stored on the distribution's catalog row (activities read it from there). */
export interface DistributionRecord {
  source_subject: string;
  snapshot: string;
  /** `instance:<org>/<space>` of the group target, so a member's subject is `<prefix>/<slug>`. */
  group_prefix: string | null;
  strategies: Strategies;
  kinds: SelectedKinds;
  auto_snapshot: boolean;
  notify: boolean;
  message: string;
  actor: string;
  /** Relative paths below /files, table names, app slugs; or the whole snapshot. */
  pick: { files: string[]; tables: string[]; apps: string[] } | 'all';
}

export interface DistributionInput {
  distributionId: string;
  sourceInstanceId: string;
  sourceSubject: string;
  /** The snapshot's object when distributing from a stored snapshot; null = freeze the current state first. */
  sourceObjectSha256: string | null;
  snapshot: string;
  pick: DistributionRecord['pick'];
  autoSnapshot: boolean;
  notify: boolean;
  /** Explicit targets; a group target's members are added when the stage is published. */
  targets: TargetRef[];
  /** Targets applied at once. */
  concurrency: number;
  actor: string;
  createdBy: string;
}

/** A late joiner receiving one earlier group distribution. */
export interface LateJoinerInput {
  distributionId: string;
  taskId: string;
  stageSha256: string;
  target: TargetRef;
  autoSnapshot: boolean;
  notify: boolean;
  createdBy: string;
  actor: string;
}
