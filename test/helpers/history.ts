import type { TestStack } from './services';

/** What a task's workflow history scheduled: its activities by name, in order, and how many workflow tasks it took. */
export async function stepsOf(stack: TestStack, taskId: string): Promise<{ activities: string[]; workflowTasks: number }> {
  const { events } = await stack.deps.temporal.workflow.getHandle(taskId).fetchHistory();
  return {
    activities: (events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType!.name!] : [])),
    workflowTasks: (events ?? []).filter((e) => e.workflowTaskCompletedEventAttributes).length,
  };
}

/**
 * The local activities a task's workflow ran, by name, in the order the workflow scheduled them (their
 * sequence numbers, which the history's markers record whatever order they finished in).
 */
export async function localActivitiesOf(stack: TestStack, taskId: string): Promise<string[]> {
  const { events } = await stack.deps.temporal.workflow.getHandle(taskId).fetchHistory();
  const scheduled: Array<{ seq: number; type: string }> = [];
  for (const e of events ?? []) {
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName !== 'core_local_activity') continue;
    const data = JSON.parse(Buffer.from(marker.details!.data!.payloads![0]!.data!).toString('utf8')) as { seq: number; activity_type: string };
    scheduled.push({ seq: data.seq, type: data.activity_type });
  }
  return scheduled.sort((a, b) => a.seq - b.seq).map((s) => s.type);
}
