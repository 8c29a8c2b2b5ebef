import { executeChild, patched, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { StageSelection } from '../activities/apply-stage';
import type { CommittedSnapshot } from '../activities/snapshots';
import type { TaskProgress } from '../domain/tasks';
import { catalogSteps } from './catalog-steps';
import { progressQuery } from './progress';
import { snapshotInWorkflow, snapshotWorkflow, type SnapshotInput } from './snapshot';

export interface RestoreInput {
  /** The snapshot to restore from (its object blob) and its name, for the audit log. */
  objectSha256: string;
  snapshotName: string;
  sourceSubject: string;
  targetInstanceId: string;
  targetSubject: string;
  /** null for each kind = everything; a whole restore (all null) makes the target exactly the snapshot. */
  selection: StageSelection;
  /** The safety snapshot of the target, taken first; its id is fixed when the task is created. */
  safety: Pick<SnapshotInput, 'snapshotId' | 'name'>;
  actor: string;
  createdBy: string;
}

export interface RestoreResult {
  safety_snapshot: string;
  files_written: number;
  /** Files the target already held exactly (the safety snapshot had just hashed them): left alone. */
  files_unchanged: number;
  files_removed: number;
  tables: string[];
  apps: string[];
}

const act = proxyActivities<Activities>({
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', nonRetryableErrorTypes: ['Conflict', 'NotFound', 'InvalidInput', 'DiskFull'] },
});

/**
 * `snapshots restore`: a safety snapshot of the target (taken once by the workflow itself, its steps
 * recorded in its history and its commit keyed by a snapshot id fixed when the task was created), then
 * files, tables and apps from the snapshot, then audit. A whole restore mirrors every kind; a partial
 * one overwrites only what was selected.
 */
export async function restoreWorkflow(input: RestoreInput): Promise<RestoreResult> {
  const progress: TaskProgress = { done: 0, total: 5, label: 'safety snapshot' };
  setHandler(progressQuery, () => progress);
  const { workflowId } = workflowInfo();
  const safetyInput: SnapshotInput = { ...input.safety, instanceId: input.targetInstanceId, description: `before restoring ${input.snapshotName}`, kind: 'safety', createdBy: input.createdBy, actor: input.actor, subject: input.targetSubject };
  // Taken by this workflow itself: a child workflow cost a restore ~80 ms of starting, dispatching and
  // completing it. Histories from before replay with the child they started.
  const safety: CommittedSnapshot = patched('restore-safety-snapshot-in-workflow')
    ? await snapshotInWorkflow(safetyInput, `${workflowId}/safety-snapshot`)
    : await executeChild(snapshotWorkflow, { workflowId: `${workflowId}/safety-snapshot`, args: [safetyInput] });
  const whole = input.selection.files === null && input.selection.tables === null && input.selection.apps === null;
  const stage = { objectSha256: input.objectSha256, targetInstanceId: input.targetInstanceId, selection: input.selection };
  const chosen = (kind: keyof StageSelection) => whole || (input.selection[kind] !== null && input.selection[kind]!.length > 0);
  // A partial restore touches only the kinds named; an empty list there means "none of this kind".
  const partial: StageSelection = whole ? input.selection : { files: input.selection.files ?? [], tables: input.selection.tables ?? [], apps: input.selection.apps ?? [] };

  const applyFiles = () => (chosen('files') ? act.applyFiles({ ...stage, selection: partial, strategy: whole ? 'mirror' : 'overwrite', skipUnchanged: true }) : null);
  const applyTables = () => (chosen('tables') ? act.applyTables({ ...stage, selection: partial, mode: 'replace', exact: whole }) : null);
  const applyApps = () => (chosen('apps') ? catalogSteps(act).applyApps({ ...stage, selection: partial, mode: 'overwrite', exact: whole }) : null);
  let files, tables, apps;
  if (patched('restore-kinds-applied-together')) {
    // Files, tables and apps are independent of each other: applied at once, the small kinds cost
    // nothing beside the files, and the task needs two workflow tasks fewer.
    Object.assign(progress, { done: 1, label: 'files, tables and apps' });
    [files, tables, apps] = await Promise.all([applyFiles(), applyTables(), applyApps()]);
  } else {
    Object.assign(progress, { done: 1, label: 'files' });
    files = await applyFiles();
    Object.assign(progress, { done: 2, label: 'tables' });
    tables = await applyTables();
    Object.assign(progress, { done: 3, label: 'apps' });
    apps = await applyApps();
  }
  const counts = { files_written: files?.filesWritten ?? 0, files_unchanged: files?.filesUnchanged ?? 0, files_removed: files?.removed ?? 0 };
  const steps = catalogSteps(act);
  Object.assign(progress, { done: 4, label: 'audit' });
  await steps.appendAudit({
    event_key: `${workflowId}/snapshot.restored`,
    actor: input.actor,
    action: 'snapshot.restored',
    subject: input.targetSubject,
    details: {
      snapshot: input.snapshotName,
      from: input.sourceSubject,
      whole,
      selection: input.selection,
      safety_snapshot: safety.name,
      ...counts,
      tables: tables?.loaded ?? [],
      tables_dropped: tables?.dropped ?? [],
      apps: apps?.written ?? [],
      apps_deleted: apps?.deleted ?? [],
    },
    content_hashes: { snapshot: input.objectSha256, safety_snapshot: safety.object_sha256 },
    task_id: workflowId,
  });
  Object.assign(progress, { done: 5, label: 'done' });
  return { safety_snapshot: safety.name, ...counts, tables: tables?.loaded ?? [], apps: apps?.written ?? [] };
}
