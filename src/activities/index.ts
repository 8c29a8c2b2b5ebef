import { Context } from '@temporalio/activity';
import { createApplyStageActivities } from './apply-stage';
import { createAssignmentActivities } from './assignments';
import { createAuditActivities } from './audit';
import { createDistributionActivities } from './distribution';
import { createFeedbackActivities } from './feedback';
import type { ActivityDeps } from './deps';
import { createInstanceActivities } from './instances';
import { createGarbageActivities } from './garbage';
import { createKeyActivities } from './keys';
import { createSnapshotMailActivities } from './snapshot-mail';
import { createSnapshotActivities } from './snapshots';

export type { ActivityDeps } from './deps';
export type { InstanceToProvision } from './instances';

/** Every activity of Handout, built from its dependencies. Workflows import this type only. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createAuditActivities(deps),
    ...createInstanceActivities(deps),
    ...createKeyActivities(deps),
    ...createSnapshotActivities(deps),
    ...createSnapshotMailActivities(deps),
    ...createApplyStageActivities(deps),
    ...createGarbageActivities(deps),
    ...createDistributionActivities(deps),
    ...createAssignmentActivities(deps),
    ...createFeedbackActivities(deps),
  };
}
export type Activities = ReturnType<typeof createActivities>;

/**
 * Test hook (HANDOUT_TEST_ACTIVITY_DELAY_MS): each activity first waits, heartbeating, so a test can
 * stop the stack while a task is certainly in flight. Never set in production.
 */
export function withStartDelay<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T, delayMs: number): T {
  if (delayMs <= 0) return activities;
  const delayed: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    delayed[name] = async (...args: never[]) => {
      const until = Date.now() + delayMs;
      while (Date.now() < until) {
        Context.current().heartbeat();
        await Context.current().sleep(Math.min(200, until - Date.now()));
      }
      return fn(...args);
    };
  }
  return delayed as T;
}
