import { proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { CommittedSnapshot } from '../activities/snapshots';
import type { SnapshotKind } from '../domain/snapshots';
import type { TaskProgress } from '../domain/tasks';
import { catalogSteps } from './catalog-steps';
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
}

const NOT_RETRYABLE = ['Conflict', 'NotFound', 'InvalidInput', 'DiskFull'];
const capture = proxyActivities<Activities>({
  startToCloseTimeout: '6 hours',
  // A killed worker is noticed within this, and the retry resumes from the stat cache. Capture
  // heartbeats on every chunk it reads (throttled), so even one huge file keeps it alive.
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', nonRetryableErrorTypes: NOT_RETRYABLE },
});
const act = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', nonRetryableErrorTypes: NOT_RETRYABLE },
});

/** `snapshots create`: capture files, tables and apps into blobs, then commit; nothing is visible before the commit. */
export async function snapshotWorkflow(input: SnapshotInput): Promise<CommittedSnapshot> {
  const progress: TaskProgress = { done: 0, total: 4, label: 'files' };
  setHandler(progressQuery, () => progress);
  const createdAt = new Date().toISOString(); // workflow time: the same in every replay and retry
  const files = await capture.captureFiles(input.instanceId);
  Object.assign(progress, { done: 1, label: 'tables' });
  const tables = await capture.captureTables(input.instanceId);
  Object.assign(progress, { done: 2, label: 'apps' });
  const steps = catalogSteps(act);
  const apps = await steps.captureApps(input.instanceId);
  Object.assign(progress, { done: 3, label: 'commit' });
  const committed = await steps.commitSnapshot({ ...input, createdAt, taskId: workflowInfo().workflowId, files, tables, apps });
  Object.assign(progress, { done: 4, label: 'done' });
  return committed;
}
