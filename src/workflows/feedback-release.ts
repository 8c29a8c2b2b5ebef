import { proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { FeedbackReleaseInput } from '../domain/assignment-run';
import type { TaskProgress } from '../domain/tasks';
import { mailAct } from './mail-delivery';
import { progressQuery } from './progress';

const act = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', nonRetryableErrorTypes: ['NotFound', 'InvalidInput', 'DiskFull'] },
});

/** `feedback release` (`assignment/<id>/feedback-release/<uuid>`): each student's feedback into their instance, then the mails. */
export async function feedbackReleaseWorkflow(input: FeedbackReleaseInput): Promise<{ released: number; files: number }> {
  const { workflowId } = workflowInfo();
  const progress: TaskProgress = { done: 0, total: input.releases.length, label: 'releasing feedback' };
  setHandler(progressQuery, () => progress);
  let files = 0;
  for (const release of input.releases) {
    files += (await act.releaseFeedbackToStudent({ ...release, slug: input.slug, subject: input.subject, actor: input.actor, taskId: workflowId })).files;
    progress.done++;
  }
  progress.label = 'sending notifications';
  await mailAct.deliverMails(workflowId);
  progress.label = 'done';
  return { released: input.releases.length, files };
}
