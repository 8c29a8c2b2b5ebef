import { ApplicationFailure } from '@temporalio/activity';
import { and, eq } from 'drizzle-orm';
import { FAILURE_TYPES } from '../domain/errors';
import { registerInstance } from '../store/catalog/directory';
import { markReadyAndListGroupWork } from '../store/catalog/distributions';
import { findInstanceById } from '../store/catalog/directory';
import { studentInputOf } from './assignments';
import type { StudentAssignmentInput } from '../domain/assignment-run';
import { insertGrant } from '../store/catalog/identity';
import type { CatalogDb } from '../store/catalog/db';
import type { DistributionRecord, LateJoinerInput } from '../domain/distribution-run';
import { randomUUID } from 'node:crypto';
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
  /** A student's own instance: in the space's student group, owned by (and editable for) that user. */
  student: { userId: string } | null;
}

/** A group distribution a new student instance must still receive. */
export type PendingGroupDistribution = Omit<LateJoinerInput, 'target' | 'createdBy'>;

/** Instance provisioning: reserve the slug, create storage, mark ready; and the undo for a cancelled provisioning. */
export function createInstanceActivities({ catalog, dataDir }: ActivityDeps) {
  return {
    /**
     * Reserves the slug with a `provisioning` row (and makes a student editor of their instance).
     * Retry-safe: the row is keyed by the task's own instance id, and a grant that exists is kept.
     */
    async registerInstance(input: InstanceToProvision): Promise<void> {
      await catalog.db.transaction(async (txRaw) => {
        const tx = txRaw as unknown as CatalogDb;
        const row = await registerInstance(tx, {
          id: input.instanceId,
          spaceId: input.spaceId,
          slug: input.slug,
          name: input.name,
          description: input.description,
          status: 'provisioning',
          group: input.student ? 'students' : null,
          ownerId: input.student?.userId ?? null,
          createdBy: input.createdBy,
        });
        if (!row) {
          throw ApplicationFailure.nonRetryable(`an instance with the slug "${input.slug}" already exists in this space`, FAILURE_TYPES.conflict);
        }
        if (input.student) {
          await insertGrant(tx, { id: randomUUID(), userId: input.student.userId, role: 'instance_editor', spaceId: input.spaceId, instanceId: input.instanceId });
        }
      });
    },

    /** Creates the files tree and the warehouse file. Retry-safe: existing parts are kept as they are. */
    async createInstanceStorage(instanceId: string): Promise<void> {
      await createInstanceStorage(dataDir, instanceId);
    },

    /**
     * Marks the instance ready and returns the group distributions and released group assignments a
     * student instance joins late.
     * Retry-safe: setting the same status twice changes nothing, and a list read later only grows.
     */
    async markInstanceReady(instanceId: string): Promise<{ distributions: PendingGroupDistribution[]; assignments: StudentAssignmentInput[] }> {
      const work = await markReadyAndListGroupWork(catalog.db, instanceId);
      const distributions = work.distributions.map((row) => {
        const record = row.request as DistributionRecord;
        return { distributionId: row.id, taskId: row.taskId, stageSha256: row.stageObjectSha256!, autoSnapshot: record.auto_snapshot, notify: record.notify, actor: record.actor };
      });
      const instance = work.assignments.length ? await findInstanceById(catalog.db, instanceId) : undefined;
      const assignments = await Promise.all(work.assignments.map((a) => studentInputOf(catalog.db, a, { instanceId, slug: instance!.slug, extendedUntil: null })));
      return { distributions, assignments };
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
