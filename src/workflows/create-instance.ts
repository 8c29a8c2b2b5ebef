import { CancellationScope, isCancellation, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { FAILURE_TYPES } from '../domain/errors';

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
}

export interface CreateInstanceResult {
  instance_id: string;
  org_slug: string;
  space_slug: string;
  instance_slug: string;
}

const act = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '15 seconds',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '10 seconds', nonRetryableErrorTypes: Object.values(FAILURE_TYPES) },
});

/** The `instances create` task: reserve the slug → create the directory tree and warehouse → ready → audit. */
export async function createInstanceWorkflow(input: CreateInstanceInput): Promise<CreateInstanceResult> {
  const { workflowId } = workflowInfo();
  try {
    await act.registerInstance({
      instanceId: input.instanceId,
      spaceId: input.spaceId,
      slug: input.slug,
      name: input.name,
      description: input.description,
      createdBy: input.createdBy,
    });
    await act.createInstanceStorage(input.instanceId);
    await act.markInstanceReady(input.instanceId);
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
    details: { instance_id: input.instanceId, name: input.name, description: input.description },
    task_id: workflowId,
  });
  return { instance_id: input.instanceId, org_slug: input.orgSlug, space_slug: input.spaceSlug, instance_slug: input.slug };
}
