import { ActivityCancellationType, executeChild, proxyActivities, uuid4, WorkflowIdReusePolicy } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../activities';
import type { TargetOutcome } from '../domain/distribution';
import type { LateJoinerInput, TargetRef } from '../domain/distribution-run';
import { mailAct } from './mail-delivery';
import { snapshotWorkflow } from './snapshot';

// One target of a distribution: [auto-snapshot, exactly once] → apply the stage → audit + queued mails.
// Used by the distribution itself and by a student instance that joins its group later.

const NOT_RETRYABLE = ['Conflict', 'NotFound', 'InvalidInput', 'DiskFull'];

const targetAct = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  // A killed worker is noticed within this; the retry rewrites whole files, so it is safe.
  heartbeatTimeout: '20 seconds',
  // A cancelled distribution waits until each running target has really stopped (whole files only).
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5, nonRetryableErrorTypes: NOT_RETRYABLE },
});

export interface TargetRun {
  distributionId: string;
  taskId: string;
  stageSha256: string;
  target: TargetRef;
  autoSnapshot: boolean;
  createdBy: string;
  actor: string;
}

export const pendingOutcome = (target: TargetRef): TargetOutcome => ({
  target: target.subject.replace(/^instance:/, ''),
  status: 'pending',
  reason: null,
  auto_snapshot: null,
  files_written: 0,
  files_removed: 0,
  tables: [],
  apps: [],
  mails: 0,
});

/** Runs one target; throws only what the activity or snapshot threw (the caller decides how to report it). */
export async function runTarget(run: TargetRun, outcome: TargetOutcome): Promise<void> {
  if (run.autoSnapshot) outcome.auto_snapshot = await autoSnapshot(run);
  const applied = await targetAct.applyStageToTarget({
    distributionId: run.distributionId,
    taskId: run.taskId,
    stageSha256: run.stageSha256,
    target: run.target,
    autoSnapshot: outcome.auto_snapshot,
  });
  Object.assign(outcome, {
    status: applied.changed ? 'applied' : 'skipped',
    reason: applied.changed ? null : 'nothing to change: the target already had everything (or the strategy kept what it had)',
    files_written: applied.files_written,
    files_removed: applied.files_removed,
    tables: applied.tables,
    apps: applied.apps,
    mails: applied.mails,
  });
}

/**
 * The target's safety snapshot, as a child with a fixed id that is never reused: a replayed or
 * twice-started target run takes it exactly once.
 */
async function autoSnapshot(run: TargetRun): Promise<string> {
  const snapshotId = uuid4();
  const stamp = new Date().toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
  const name = `auto-${stamp}-${snapshotId.slice(0, 8)}`;
  try {
    const taken = await executeChild(snapshotWorkflow, {
      workflowId: `${run.taskId}/target/${run.target.instanceId}/auto-snapshot`,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      args: [{ snapshotId, instanceId: run.target.instanceId, name, description: `before distribution ${run.taskId}`, kind: 'safety', createdBy: run.createdBy, actor: run.actor, subject: run.target.subject }],
    });
    return taken.name;
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return `taken earlier by ${run.taskId}`;
    throw err;
  }
}

/** A student instance that joined after a group distribution receives it (same stage, same strategies). */
export async function lateJoinerWorkflow(input: LateJoinerInput): Promise<TargetOutcome> {
  const outcome = pendingOutcome(input.target);
  await runTarget({ ...input }, outcome);
  if (input.notify && outcome.mails > 0) await mailAct.deliverMails(input.taskId);
  return outcome;
}
