import { isCancellation, ParentClosePolicy, patched, proxyActivities, proxyLocalActivities, setHandler, startChild, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { CapturedFiles, CommittedSnapshot } from '../activities/snapshots';
import { innermostMessage } from '../domain/errors';
import type { SnapshotKind } from '../domain/snapshots';
import type { TaskProgress } from '../domain/tasks';
import { catalogSteps } from './catalog-steps';
import { mailDeliveryWorkflow } from './mail-delivery';
import { progressQuery } from './progress';

export interface SnapshotInput {
  /** Chosen when the task is created, so every retry commits the same snapshot. */
  snapshotId: string;
  instanceId: string;
  name: string;
  description: string;
  kind: SnapshotKind;
  createdBy: string;
  actor: string;
  subject: string;
  /** `snapshots create -e`: the creator's address, mailed when the snapshot is complete or has failed. */
  notifyEmail?: string;
}

const NOT_RETRYABLE = ['Conflict', 'NotFound', 'InvalidInput', 'DiskFull'];
const capture = proxyActivities<Activities>({
  startToCloseTimeout: '6 hours',
  // A killed worker is noticed within this, and the retry resumes from the stat cache. Capture
  // heartbeats on every chunk it reads (throttled), so even one huge file keeps it alive.
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', nonRetryableErrorTypes: NOT_RETRYABLE },
});
/**
 * The quick look of the first workflow task. Its timeout is far beyond the files' budget (which the
 * activity keeps itself), so only a hung call reaches it; it is then retried like any step.
 */
const quick = proxyLocalActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', nonRetryableErrorTypes: NOT_RETRYABLE },
});
const act = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', nonRetryableErrorTypes: NOT_RETRYABLE },
});

/** The files' counts of a capture that finished what a quick capture began: what the quick one hashed, the rest took from the stat cache. */
function hashedBefore(files: CapturedFiles, hashedQuickly: number): CapturedFiles {
  const moved = Math.min(hashedQuickly, files.reusedFiles);
  return { ...files, hashedFiles: files.hashedFiles + moved, reusedFiles: files.reusedFiles - moved };
}

/**
 * Files, tables and apps of an instance, captured in the first workflow task when they can be: files
 * within the quick capture budget and the tables of an unchanged warehouse, as local activities, with
 * the apps. An incremental snapshot then costs no task-queue round trip and no further workflow task.
 * What does not fit goes on in the heartbeating activities, which resume from the stat cache.
 * `appsBeside` is false only for histories from before the apps were read beside the files; `progress`,
 * when given, is the calling snapshot task's own.
 */
async function captureInFirstTask(instanceId: string, appsBeside: boolean, progress?: TaskProgress) {
  if (progress) Object.assign(progress, { done: 0, total: 2, label: 'files and tables' });
  // The apps (one catalog read) beside the files rather than after them: each local activity after
  // another costs a round trip through the workflow (10-15 ms on a busy machine) before the commit.
  const appsRead = appsBeside ? catalogSteps(act).captureApps(instanceId) : undefined;
  appsRead?.catch(() => undefined); // a failure is thrown where it is awaited, not as an unhandled rejection meanwhile
  const [quickFiles, quickTables] = await Promise.all([quick.captureFilesQuickly(instanceId), quick.tablesIfUnchanged(instanceId)]);
  const [files, tables] = await Promise.all([
    'unfinished' in quickFiles ? capture.captureFiles(instanceId).then((rest) => hashedBefore(rest, quickFiles.hashedFiles)) : quickFiles,
    quickTables ?? capture.captureTables(instanceId),
  ]);
  if (progress) Object.assign(progress, { done: 1, label: 'apps and commit' });
  const apps = await (appsRead ?? catalogSteps(act).captureApps(instanceId));
  return { files, tables, apps };
}

/**
 * A whole snapshot taken by the calling workflow itself (a restore's safety snapshot), as
 * snapshotWorkflow takes one, committed under `taskId`. Taken once: its steps are in the caller's
 * history, and the commit is keyed by the snapshot id.
 */
export async function snapshotInWorkflow(input: SnapshotInput, taskId: string): Promise<CommittedSnapshot> {
  const createdAt = new Date().toISOString();
  const { files, tables, apps } = await captureInFirstTask(input.instanceId, true);
  return catalogSteps(act).commitSnapshot({ ...input, createdAt, taskId, files, tables, apps });
}

/** `snapshots create`: capture files, tables and apps into blobs, then commit; nothing is visible before the commit. */
export async function snapshotWorkflow(input: SnapshotInput): Promise<CommittedSnapshot> {
  if (!input.notifyEmail) return takeSnapshot(input);
  const { workflowId } = workflowInfo();
  // The mail is delivered by a workflow of its own, left running: the snapshot is complete once it is
  // committed, however long the mail server is down. Its ready mail was queued by the commit.
  const deliver = () => startChild(mailDeliveryWorkflow, { workflowId: `${workflowId}/mail`, args: [workflowId], parentClosePolicy: ParentClosePolicy.ABANDON });
  let committed: CommittedSnapshot;
  try {
    committed = await takeSnapshot(input);
  } catch (err) {
    if (isCancellation(err)) throw err; // cancelled by the user, who knows
    await act.queueSnapshotFailedMail({ taskId: workflowId, subject: input.subject, name: input.name, recipient: input.notifyEmail, reason: innermostMessage(err) });
    await deliver();
    throw err;
  }
  await deliver();
  return committed;
}

async function takeSnapshot(input: SnapshotInput): Promise<CommittedSnapshot> {
  const progress: TaskProgress = { done: 0, total: 4, label: 'files' };
  setHandler(progressQuery, () => progress);
  const createdAt = new Date().toISOString(); // workflow time: the same in every replay and retry
  let files, tables, apps;
  if (patched('snapshot-in-one-workflow-task')) {
    ({ files, tables, apps } = await captureInFirstTask(input.instanceId, patched('snapshot-apps-beside-files'), progress));
  } else if (patched('snapshot-parts-captured-together')) {
    // Files and tables are captured at the same time (the small part costs nothing beside the files),
    // then apps and the commit run as local activities in one last workflow task. The apps come last
    // on purpose: a workflow task does not complete until its local activities have, and the
    // captures start only once the first one has.
    Object.assign(progress, { done: 0, total: 2, label: 'files and tables' });
    [files, tables] = await Promise.all([capture.captureFiles(input.instanceId), capture.captureTables(input.instanceId)]);
    Object.assign(progress, { done: 1, label: 'apps and commit' });
    apps = await catalogSteps(act).captureApps(input.instanceId);
  } else {
    files = await capture.captureFiles(input.instanceId);
    Object.assign(progress, { done: 1, label: 'tables' });
    tables = await capture.captureTables(input.instanceId);
    Object.assign(progress, { done: 2, label: 'apps' });
    apps = await catalogSteps(act).captureApps(input.instanceId);
    Object.assign(progress, { done: 3, label: 'commit' });
  }
  const committed = await catalogSteps(act).commitSnapshot({ ...input, createdAt, taskId: workflowInfo().workflowId, files, tables, apps });
  Object.assign(progress, { done: progress.total, label: 'done' });
  return committed;
}
