import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { executeChild, isCancellation, ParentClosePolicy, proxyActivities, sleep, startChild, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { AssignmentInput, StudentAssignmentInput } from '../domain/assignment-run';
import { distributionWorkflow } from './distribution';
import { studentAssignmentWorkflow } from './assignment-student';

const act = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', nonRetryableErrorTypes: ['Conflict', 'NotFound', 'InvalidInput'] },
});

/** Starts a student's workflow; one that already runs (a late joiner seen twice) is left as it is. */
export async function startStudentWorkflow(assignmentId: string, input: StudentAssignmentInput): Promise<void> {
  try {
    await startChild(studentAssignmentWorkflow, {
      workflowId: `assignment/${assignmentId}/student/${input.record.instanceId}`,
      // Each student's deadline outlives this workflow (and the instance creation of a late joiner).
      parentClosePolicy: ParentClosePolicy.ABANDON,
      args: [input],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}

/**
 * `assignment/<id>`: waits for the release time, marks the assignment released (reading the students
 * under the group lock, so a student who joins at that moment is handled either here or by their own
 * instance creation), distributes the material (a group distribution reaches late joiners too), and
 * starts one deadline workflow per student. Cancelling it before the release stops the release timer.
 */
export async function assignmentWorkflow(input: AssignmentInput): Promise<{ students: number; distribution: string; failed_targets: string | null }> {
  const { workflowId } = workflowInfo();
  if (input.releaseAt) {
    const wait = new Date(input.releaseAt).getTime() - Date.now();
    if (wait > 0) await sleep(wait);
  }
  const students = await act.releaseAssignment({ assignmentId: input.assignmentId, taskId: workflowId });
  let failedTargets: string | null = null;
  try {
    await executeChild(distributionWorkflow, { workflowId: `${workflowId}/release`, args: [{ ...input.distribution, targets: input.explicitTargets }] });
  } catch (err) {
    if (isCancellation(err)) throw err;
    // Some students did not get the material; they are named in the distribution task. Deadlines still run.
    const cause = (err as { cause?: { message?: string } }).cause;
    failedTargets = cause?.message ?? (err as Error).message;
  }
  await Promise.all(students.map((s) => startStudentWorkflow(input.assignmentId, s)));
  return { students: students.length, distribution: `${workflowId}/release`, failed_targets: failedTargets };
}
