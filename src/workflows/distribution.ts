import { ApplicationFailure, CancellationScope, defineQuery, executeChild, isCancellation, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { DistributionResult, TargetOutcome } from '../domain/distribution';
import type { DistributionInput, TargetRef } from '../domain/distribution-run';
import { innermostMessage } from '../domain/errors';
import type { TaskProgress } from '../domain/tasks';
import { pendingOutcome, runTarget } from './distribution-target';
import { mailAct } from './mail-delivery';
import { progressQuery } from './progress';
import { snapshotWorkflow } from './snapshot';

/** Every target's outcome so far (pending, applied, skipped, failed, cancelled). */
export const targetsQuery = defineQuery<TargetOutcome[]>('targets');

const act = proxyActivities<Activities>({
  startToCloseTimeout: '1 hour',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', nonRetryableErrorTypes: ['Conflict', 'NotFound', 'InvalidInput', 'DiskFull'] },
});

/**
 * `distribution distribute`: freeze the source (a staging snapshot when it is the current state, so
 * every retry copies the same bytes) → build the stage → publish it (a group's members are read now;
 * later joiners pick it up themselves) → every target through a sliding window of `concurrency` →
 * mails → audit. A failing target is retried, then reported; it never stops the others.
 * History per target: one activity (plus an auto-snapshot child), so 1,000 targets stay far below
 * Temporal's per-run limits.
 */
export async function distributionWorkflow(input: DistributionInput): Promise<DistributionResult> {
  const { workflowId } = workflowInfo();
  const outcomes = new Map<string, TargetOutcome>();
  const refs = new Map<string, TargetRef>();
  const addTarget = (t: TargetRef) => {
    if (refs.has(t.instanceId)) return;
    refs.set(t.instanceId, t);
    outcomes.set(t.instanceId, pendingOutcome(t));
  };
  input.targets.forEach(addTarget);
  const progress: TaskProgress = { done: 0, total: outcomes.size, label: 'freezing the source' };
  setHandler(progressQuery, () => progress);
  setHandler(targetsQuery, () => [...outcomes.values()]);

  let stageSha256 = '';
  let mailsSent = 0;
  try {
    let sourceSha = input.sourceObjectSha256;
    if (!sourceSha) {
      const staged = await executeChild(snapshotWorkflow, {
        workflowId: `${workflowId}/staging-snapshot`,
        args: [
          {
            snapshotId: input.distributionId,
            instanceId: input.sourceInstanceId,
            name: `staging-${input.distributionId.slice(0, 8)}`,
            description: `source of distribution ${workflowId}`,
            kind: 'staging',
            createdBy: input.createdBy,
            actor: input.actor,
            subject: input.sourceSubject,
          },
        ],
      });
      sourceSha = staged.object_sha256;
    }
    progress.label = 'building the stage';
    const stage = await act.buildStage({ sourceObjectSha256: sourceSha, pick: input.pick, name: `stage of ${workflowId}` });
    stageSha256 = stage.stageSha256;
    (await act.publishStage({ distributionId: input.distributionId, stageSha256 })).forEach(addTarget);
    Object.assign(progress, { total: outcomes.size, label: 'distributing' });

    const queue = [...refs.values()];
    const runOne = async (target: TargetRef) => {
      const outcome = outcomes.get(target.instanceId)!;
      try {
        await runTarget({ distributionId: input.distributionId, taskId: workflowId, stageSha256, target, autoSnapshot: input.autoSnapshot, createdBy: input.createdBy, actor: input.actor }, outcome);
      } catch (err) {
        if (isCancellation(err)) {
          Object.assign(outcome, { status: 'cancelled', reason: 'the task was cancelled while this target was being written; every file in it is whole' });
          throw err;
        }
        Object.assign(outcome, { status: 'failed', reason: innermostMessage(err) });
      }
      progress.done++;
    };
    let next = 0;
    const lane = async () => {
      while (next < queue.length) await runOne(queue[next++]!);
    };
    // allSettled: on cancellation, wait until every running target has stopped before reporting.
    const lanes = await Promise.allSettled(Array.from({ length: Math.min(input.concurrency, queue.length) }, lane));
    const stopped = lanes.find((l): l is PromiseRejectedResult => l.status === 'rejected');
    if (stopped) throw stopped.reason;

    if (input.notify && [...outcomes.values()].some((o) => o.mails > 0)) {
      progress.label = 'sending notifications';
      mailsSent = (await mailAct.deliverMails(workflowId)).sent;
    }
  } catch (err) {
    if (isCancellation(err)) {
      for (const o of outcomes.values()) if (o.status === 'pending') Object.assign(o, { status: 'cancelled', reason: 'not started: the task was cancelled' });
      await CancellationScope.nonCancellable(() => audit(input, workflowId, 'distribution.cancelled', stageSha256, outcomes));
    }
    throw err;
  }

  const all = [...outcomes.values()];
  const failed = all.filter((o) => o.status === 'failed');
  const result: DistributionResult = {
    source: input.sourceSubject.replace(/^instance:/, ''),
    snapshot: input.snapshot,
    stage_sha256: stageSha256,
    targets_total: all.length,
    applied: all.filter((o) => o.status === 'applied').length,
    skipped: all.filter((o) => o.status === 'skipped').length,
    failed: failed.length,
    mails_sent: mailsSent,
    targets: all,
  };
  progress.label = 'done';
  await audit(input, workflowId, failed.length ? 'distribution.failed' : 'distribution.completed', stageSha256, outcomes);
  if (failed.length) {
    const named = failed.slice(0, 10).map((o) => `${o.target} (${o.reason})`).join('; ');
    throw ApplicationFailure.create({
      type: 'TargetsFailed',
      nonRetryable: true,
      message: `${failed.length} of ${all.length} targets failed: ${named}${failed.length > 10 ? `; and ${failed.length - 10} more` : ''}`,
      details: [result],
    });
  }
  return result;
}

/** The distribution's own audit event (each target has its `distribution.applied` event too). */
function audit(input: DistributionInput, workflowId: string, action: string, stageSha256: string, outcomes: Map<string, TargetOutcome>) {
  const count = (status: TargetOutcome['status']) => [...outcomes.values()].filter((o) => o.status === status).length;
  return act.appendAudit({
    event_key: `${workflowId}/${action}`,
    actor: input.actor,
    action,
    subject: input.sourceSubject,
    details: {
      snapshot: input.snapshot,
      selection: input.pick,
      targets: outcomes.size,
      applied: count('applied'),
      skipped: count('skipped'),
      failed: [...outcomes.values()].filter((o) => o.status === 'failed').map((o) => o.target),
      cancelled: count('cancelled'),
    },
    content_hashes: stageSha256 ? { stage: stageSha256 } : {},
    task_id: workflowId,
  });
}
