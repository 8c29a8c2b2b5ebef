import type { TestStack } from './services';

/** What a task's workflow history scheduled: its activities by name, in order, and how many workflow tasks it took. */
export async function stepsOf(stack: TestStack, taskId: string): Promise<{ activities: string[]; workflowTasks: number }> {
  const { events } = await stack.deps.temporal.workflow.getHandle(taskId).fetchHistory();
  return {
    activities: (events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType!.name!] : [])),
    workflowTasks: (events ?? []).filter((e) => e.workflowTaskCompletedEventAttributes).length,
  };
}
