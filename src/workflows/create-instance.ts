import { CancellationScope, executeChild, isCancellation, proxyActivities, workflowInfo, WorkflowIdReusePolicy } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../activities';
import { FAILURE_TYPES } from '../domain/errors';
import { lateJoinerWorkflow } from './distribution-target';
import { startStudentWorkflow } from './assignment';

export interface CreateInstanceInput {
  instanceId: string;
  spaceId: string;
  orgSlug: string;
  spaceSlug: string;
  slug: string;
  name: string;
  description: string;
  /** Audit actor, e.g. `user:ada@example.org`. */
  actor: string;
  /** Catalog id of the user who asked. */
  createdBy: string;
  /** Set for a student's own instance (the space's student group). */
  student: { userId: string; email: string } | null;
}

export interface CreateInstanceResult {
  instance_id: string;
  org_slug: string;
  space_slug: string;
  instance_slug: string;
  /** Earlier group distributions this student instance received as a late joiner. */
  group_distributions: { task_id: string; status: string; reason: string | null }[];
  /** Released group assignments this student instance joined late. */
  assignments: string[];
}

const act = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '15 seconds',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '10 seconds', nonRetryableErrorTypes: Object.values(FAILURE_TYPES) },
});

/** The `instances create` task: reserve the slug → create the directory tree and warehouse → ready → audit. */
export async function createInstanceWorkflow(input: CreateInstanceInput): Promise<CreateInstanceResult> {
  const { workflowId } = workflowInfo();
  let pending: Awaited<ReturnType<typeof act.markInstanceReady>> = { distributions: [], assignments: [] };
  try {
    await act.registerInstance({
      instanceId: input.instanceId,
      spaceId: input.spaceId,
      slug: input.slug,
      name: input.name,
      description: input.description,
      createdBy: input.createdBy,
      student: input.student ? { userId: input.student.userId } : null,
    });
    await act.createInstanceStorage(input.instanceId);
    pending = await act.markInstanceReady(input.instanceId);
  } catch (err) {
    // A cancelled provisioning leaves nothing behind: neither a half-made row nor an orphan tree.
    if (isCancellation(err)) await CancellationScope.nonCancellable(() => act.discardProvisioningInstance(input.instanceId));
    throw err;
  }
  const subject = `instance:${input.orgSlug}/${input.spaceSlug}/${input.slug}`;
  await act.appendAudit({
    event_key: `${workflowId}/instance.created`,
    actor: input.actor,
    action: 'instance.created',
    subject,
    details: { instance_id: input.instanceId, name: input.name, description: input.description, student: input.student?.email ?? null },
    task_id: workflowId,
  });
  // A late joiner receives every earlier group distribution, in the order they were made; the
  // child's id is the target's id in that distribution, never reused, so each arrives once.
  const received: CreateInstanceResult['group_distributions'] = [];
  for (const dist of pending.distributions) {
    try {
      const outcome = await executeChild(lateJoinerWorkflow, {
        workflowId: `${dist.taskId}/target/${input.instanceId}`,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        args: [{ ...dist, target: { instanceId: input.instanceId, subject }, createdBy: input.createdBy }],
      });
      received.push({ task_id: dist.taskId, status: outcome.status, reason: outcome.reason });
    } catch (err) {
      if (isCancellation(err)) throw err;
      if (err instanceof WorkflowExecutionAlreadyStartedError) received.push({ task_id: dist.taskId, status: 'applied', reason: 'received earlier' });
      else received.push({ task_id: dist.taskId, status: 'failed', reason: (err as Error).message });
    }
  }
  // ...and every released group assignment, with the same deadline (its own workflow keeps it).
  for (const assignment of pending.assignments) await startStudentWorkflow(assignment.record.assignmentId, assignment);
  return {
    instance_id: input.instanceId,
    org_slug: input.orgSlug,
    space_slug: input.spaceSlug,
    instance_slug: input.slug,
    group_distributions: received,
    assignments: pending.assignments.map((a) => a.record.assignmentSubject.replace(/^assignment:/, '')),
  };
}
