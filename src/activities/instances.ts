import { ApplicationFailure } from '@temporalio/activity';
import { and, eq } from 'drizzle-orm';
import { FAILURE_TYPES } from '../domain/errors';
import { markInstanceReady, registerInstance } from '../store/catalog/directory';
import { instances } from '../store/catalog/schema';
import { createInstanceStorage, removeInstanceStorage } from '../store/instance-storage';
import type { ActivityDeps } from './deps';

export interface InstanceToProvision {
  instanceId: string;
  spaceId: string;
  slug: string;
  name: string;
  description: string;
  createdBy: string;
}

/** Instance provisioning: reserve the slug, create storage, mark ready; and the undo for a cancelled provisioning. */
export function createInstanceActivities({ catalog, dataDir }: ActivityDeps) {
  return {
    /** Reserves the slug with a `provisioning` row. Retry-safe: the row is keyed by the task's own instance id. */
    async registerInstance(input: InstanceToProvision): Promise<void> {
      const row = await registerInstance(catalog.db, {
        id: input.instanceId,
        spaceId: input.spaceId,
        slug: input.slug,
        name: input.name,
        description: input.description,
        status: 'provisioning',
        createdBy: input.createdBy,
      });
      if (!row) {
        throw ApplicationFailure.nonRetryable(`an instance with the slug "${input.slug}" already exists in this space`, FAILURE_TYPES.conflict);
      }
    },

    /** Creates the files tree and the warehouse file. Retry-safe: existing parts are kept as they are. */
    async createInstanceStorage(instanceId: string): Promise<void> {
      await createInstanceStorage(dataDir, instanceId);
    },

    /** Marks the instance ready. Retry-safe: setting the same status twice changes nothing. */
    async markInstanceReady(instanceId: string): Promise<void> {
      await markInstanceReady(catalog.db, instanceId);
    },

    /**
     * Undoes a provisioning that did not finish; a ready instance is left alone. Retry-safe: it deletes
     * only a row still `provisioning`, and a tree that is already gone is fine.
     */
    async discardProvisioningInstance(instanceId: string): Promise<void> {
      await catalog.db.delete(instances).where(and(eq(instances.id, instanceId), eq(instances.status, 'provisioning')));
      const [ready] = await catalog.db.select({ id: instances.id }).from(instances).where(eq(instances.id, instanceId));
      if (!ready) await removeInstanceStorage(dataDir, instanceId);
    },
  };
}
