import { Command, Option } from 'commander';
import type { TaskView } from '../../domain/tasks';
import { ApiClient, enc } from '../client';
import { formatOption, positiveInt, withWait, type CommonOpts } from '../options';
import { print, render, type Column } from '../output';
import { printTask, TASK_STATUSES } from '../task-view';
import { waitForTask } from '../wait';

const taskColumns: Column<TaskView>[] = [
  { header: 'task_id', value: (t) => t.task_id },
  { header: 'kind', value: (t) => t.kind },
  { header: 'status', value: (t) => t.status },
  { header: 'subject', value: (t) => t.subject },
  { header: 'created_at', value: (t) => t.created_at },
  { header: 'finished_at', value: (t) => t.finished_at },
  { header: 'error', value: (t) => t.error },
];

export function tasksCommand(): Command {
  const tasks = new Command('tasks').description('asynchronous tasks (Temporal workflows)');
  withWait(tasks.command('get').description('show a task; --wait follows it until it finishes').argument('<task-id>'))
    .addOption(formatOption())
    .action(async (id: string, o: CommonOpts) => {
      const client = ApiClient.fromEnvironment();
      const task = o.wait ? await waitForTask(client, id, o.timeout ?? 600) : await client.get<TaskView>(`/tasks/${enc(id)}`);
      printTask(task, o.format);
    });
  tasks
    .command('list')
    .description('recent tasks, newest first')
    .addOption(new Option('--status <status>', 'only tasks with this status').choices(TASK_STATUSES))
    .addOption(new Option('--limit <n>', 'at most this many').default(50).argParser(positiveInt('--limit')))
    .addOption(formatOption())
    .action(async (o: CommonOpts & { status?: string; limit: number }) => {
      print(render(await ApiClient.fromEnvironment().get<TaskView[]>('/tasks', { status: o.status, limit: o.limit }), o.format, taskColumns));
    });
  tasks
    .command('cancel')
    .description('cancel a running task')
    .argument('<task-id>')
    .addOption(formatOption())
    .action(async (id: string, o: CommonOpts) => printTask(await ApiClient.fromEnvironment().post<TaskView>(`/tasks/${enc(id)}/cancel`), o.format));
  return tasks;
}
