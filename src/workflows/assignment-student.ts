import { allHandlersFinished, ApplicationFailure, condition, continueAsNew, defineQuery, defineSignal, defineUpdate, isCancellation, patched, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { HandinReceipt } from '../domain/assignments';
import type { CapturedHandin, StudentAssignmentInput } from '../domain/assignment-run';
import { catalogSteps } from './catalog-steps';
import { mailAct } from './mail-delivery';

// One workflow per student and assignment (`assignment/<id>/student/<instance>`): the deadline timer,
// re-armed by an extension; hand-ins as updates, checked by a validator that writes no history when
// it refuses; automatic collection at the effective deadline. Its history holds a few events per
// hand-in; should it grow long (Temporal allows 2,000 updates per run), it continues as new.

/** A hand-in the service has already copied into write-once storage; the update records it. */
export const handInUpdate = defineUpdate<HandinReceipt, [CapturedHandin]>('handIn');
/** New deadlines for this student: an extension or a changed due time (after the deadline it reopens hand-in). */
export const setDeadlinesSignal = defineSignal<[{ deadline: string; cutoffAt: string | null }]>('setDeadlines');
export const studentStateQuery = defineQuery<{ deadline: string; closes_at: string; versions: number; collected: boolean }>('studentState');

/**
 * The moment a hand-in counts: when the API received it, so a queue in front of a busy server does not
 * push an on-time hand-in past the deadline. That time is trusted only within a few minutes of the
 * workflow's own clock (the API sets it; a clock far off — or a test server that skips time — is not used).
 */
const RECEIVED_AT_TOLERANCE_MS = 5 * 60_000;
function handedInAt(handin: CapturedHandin): number {
  const now = Date.now();
  const received = handin.receivedAt ? new Date(handin.receivedAt).getTime() : NaN;
  return received <= now && now - received <= RECEIVED_AT_TOLERANCE_MS ? received : now;
}

/** How long a closed student workflow waits for an extension before it ends. */
const KEEP_OPEN_AFTER_CLOSE = '365 days';

const act = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', nonRetryableErrorTypes: ['Conflict', 'NotFound', 'InvalidInput', 'DiskFull'] },
});

export async function studentAssignmentWorkflow(input: StudentAssignmentInput): Promise<{ versions: number; auto_collected: number }> {
  const { workflowId } = workflowInfo();
  let deadline = new Date(input.deadline).getTime();
  let cutoff = input.cutoffAt ? new Date(input.cutoffAt).getTime() : null;
  const closesAt = () => (input.latePolicy === 'accept-late' && cutoff !== null ? Math.max(cutoff, deadline) : deadline);
  let versions = input.versionsSoFar;
  // A student who handed in themselves is never collected; one who did not is collected at each
  // effective deadline (the first, and again after an extension reopened hand-in).
  let studentHandedIn = input.studentHandedIn;
  let collectedThisPeriod = false;
  let deadlineMoved = false;
  let mailsQueued = false;
  let autoCollected = 0;

  setHandler(studentStateQuery, () => ({ deadline: new Date(deadline).toISOString(), closes_at: new Date(closesAt()).toISOString(), versions, collected: autoCollected > 0 }));
  setHandler(setDeadlinesSignal, (next) => {
    deadline = new Date(next.deadline).getTime();
    cutoff = next.cutoffAt ? new Date(next.cutoffAt).getTime() : null;
    deadlineMoved = true;
  });
  setHandler(
    handInUpdate,
    async (handin) => {
      const now = handedInAt(handin); // the same instant the validator checked
      const version = ++versions;
      studentHandedIn = true;
      // A few catalog rows, as a local activity (catalog-steps.ts): the student's answer needs no
      // task-queue round trip and no second workflow task; minutes before a deadline, hundreds wait on this.
      const receipt = await catalogSteps(act).recordHandin({ ...input.record, version, handedInAt: new Date(now).toISOString(), late: now > deadline, autoCollected: false, handin, taskId: workflowId });
      mailsQueued = true;
      return receipt;
    },
    {
      // Runs before anything is written to history: a refused hand-in leaves no trace in the workflow.
      validator: (handin) => {
        const now = handedInAt(handin);
        if (now > closesAt()) {
          throw ApplicationFailure.create({
            message: `hand-in is closed: the ${input.latePolicy === 'accept-late' && cutoff !== null ? 'cut-off' : 'deadline'} was ${new Date(closesAt()).toISOString()}`,
            type: 'HandinClosed',
            nonRetryable: true,
            // When this hand-in counted from (the API's receipt time, or the workflow's clock): told to the student.
            details: [{ counted_from: new Date(now).toISOString() }],
          });
        }
        if (handin.missing.length) throw ApplicationFailure.nonRetryable(`hand-in incomplete: missing ${handin.missing.join(', ')}`, 'HandinIncomplete');
        if (input.sizeLimitBytes !== null && handin.bytes > input.sizeLimitBytes) {
          throw ApplicationFailure.nonRetryable(`hand-in is ${handin.bytes} bytes, over the size limit of ${input.sizeLimitBytes} bytes`, 'HandinTooLarge');
        }
      },
    },
  );

  const sendMails = async () => {
    if (!mailsQueued) return;
    mailsQueued = false;
    await mailAct.deliverMails(workflowId);
  };
  /** Waits until `until` (ms) unless the deadline moves first; sends queued receipts meanwhile. */
  const waitUntil = async (until: number): Promise<'reached' | 'moved'> => {
    for (;;) {
      const left = until - Date.now();
      if (left <= 0) return 'reached';
      await condition(() => deadlineMoved || mailsQueued, left);
      if (deadlineMoved) {
        deadlineMoved = false;
        return 'moved';
      }
      await sendMails();
      await restartIfSuggested();
    }
  };
  /**
   * Closed: true once the deadline moves (an extension), false after a year of quiet. A hand-in that
   * arrived before the close but was recorded after it (a busy server at the deadline) still gets its
   * receipt mailed meanwhile; histories from before this replay with the wait they had.
   */
  const idleUntilReopened = async (): Promise<boolean> => {
    const sendsWhileClosed = patched('receipts-sent-while-closed');
    for (;;) {
      await sendMails();
      if (!(await condition(() => deadlineMoved || (sendsWhileClosed && mailsQueued), KEEP_OPEN_AFTER_CLOSE))) return false;
      if (deadlineMoved) return true;
    }
  };
  /** A student who hands in very often (Temporal allows 2,000 updates per run): a fresh history at a quiet point. */
  const restartIfSuggested = async () => {
    if (!workflowInfo().continueAsNewSuggested) return;
    await condition(allHandlersFinished);
    await continueAsNew<typeof studentAssignmentWorkflow>({ ...input, deadline: new Date(deadline).toISOString(), cutoffAt: cutoff === null ? null : new Date(cutoff).toISOString(), versionsSoFar: versions, studentHandedIn });
  };

  try {
    for (;;) {
      if ((await waitUntil(deadline)) === 'moved') continue;
      // The effective deadline has passed: collect from the current state if the student never handed in.
      if (!studentHandedIn && !collectedThisPeriod) {
        const version = ++versions;
        await act.autoCollectHandin({ ...input.record, version, handedInAt: new Date().toISOString(), late: false, autoCollected: true, taskId: workflowId });
        collectedThisPeriod = true;
        autoCollected++;
        mailsQueued = true;
      }
      if ((await waitUntil(closesAt())) === 'moved') {
        collectedThisPeriod = false;
        continue;
      }
      // Closed. The workflow stays (idle, no timer but this one) so that an extension or a changed due
      // time reopens hand-in at once; `assignments cancel` ends it, or a year of quiet does.
      if (!(await idleUntilReopened())) break;
      deadlineMoved = false;
      collectedThisPeriod = false;
      await restartIfSuggested();
    }
    await condition(allHandlersFinished);
    await sendMails();
  } catch (err) {
    // Cancelled: the timers stop; every stored hand-in stays where it is.
    if (isCancellation(err)) await condition(allHandlersFinished);
    throw err;
  }
  return { versions, auto_collected: autoCollected };
}
