import { patched, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

// Short catalog steps (a few rows and an audit event, well under a second) run as local activities:
// in the worker that runs the workflow task, with no task-queue round trip and no extra workflow task.
// A snapshot of a small instance is a handful of such steps, and each regular activity cost it
// ~50 ms of scheduling. They are retry-safe as before (each is keyed or idempotent); a local activity
// may run again after a workflow task failed, which changes nothing for them.
const local = proxyLocalActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', nonRetryableErrorTypes: ['Conflict', 'NotFound', 'InvalidInput', 'DiskFull'] },
});

/**
 * The local proxy for new histories; `regular` for histories written before catalog steps were local,
 * so they replay with the activities they scheduled.
 */
export function catalogSteps(regular: Activities): Activities {
  return patched('catalog-steps-as-local-activities') ? local : regular;
}
