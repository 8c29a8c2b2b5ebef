import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

/** Hands a task's queued notification mails to the mail server (deliverMails). */
export const mailAct = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  // No attempt limit: a mail server that is down for hours still gets every mail once it is back.
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/**
 * `<task>/mail`: delivers the mails a task queued, on its own. Started (and abandoned) by a task that
 * should not wait for a mail server to finish: a snapshot is complete when it is committed, and its
 * creator's mail follows however long the mail server is down.
 */
export async function mailDeliveryWorkflow(taskId: string): Promise<{ sent: number; total: number }> {
  return mailAct.deliverMails(taskId);
}
