import { z } from 'zod';
import { TaskListQuery, TaskView } from '../../domain';
import type { ServiceDeps } from '../../service/deps';
import * as tasks from '../../service/tasks';
import { MAX_TASK_WAIT_MS } from '../../service/task-wait';
import type { HandoutApp } from '../server';

const TaskParams = z.object({ id: z.string().min(1).max(300) });

/** `?wait_ms=N`: answer once the task has finished, or after N ms (at most 20 s) with how it stands then. */
const TaskWaitQuery = z.object({
  wait_ms: z
    .string()
    .regex(/^\d+$/, `wait_ms is a whole number of milliseconds to wait for the task to finish (0: not at all; at most ${MAX_TASK_WAIT_MS} are used)`)
    .optional()
    .describe(`answer once the task has finished, or after this many milliseconds (at most ${MAX_TASK_WAIT_MS}) with its state then`),
});

export function registerTaskRoutes(app: HandoutApp, deps: ServiceDeps): void {
  // Requests waiting for a task: a stopping API answers them at once rather than holding its close for
  // up to 20 s, and closes their connections (the server's close waits for every connection to end).
  const waiting = new Set<AbortController>();
  let stopping = false;
  app.addHook('preClose', async () => {
    stopping = true;
    for (const wait of waiting) wait.abort();
  });

  app.get('/tasks', { schema: { tags: ['tasks'], querystring: TaskListQuery, response: { 200: z.array(TaskView) } } }, (req) =>
    tasks.listTasks(deps, req.principal, req.query),
  );
  app.get('/tasks/:id', { schema: { tags: ['tasks'], params: TaskParams, querystring: TaskWaitQuery, response: { 200: TaskView } } }, async (req, reply) => {
    const waitMs = Math.min(Number(req.query.wait_ms ?? 0), MAX_TASK_WAIT_MS);
    if (waitMs === 0) return tasks.getTask(deps, req.principal, req.params.id);
    const wait = new AbortController();
    // The client went away before its answer: stop waiting on its behalf.
    const clientGone = () => {
      if (!reply.raw.writableEnded) wait.abort();
    };
    reply.raw.on('close', clientGone);
    waiting.add(wait);
    try {
      const task = await tasks.getTask(deps, req.principal, req.params.id, { waitMs, signal: wait.signal });
      if (stopping) void reply.header('connection', 'close');
      return task;
    } finally {
      waiting.delete(wait);
      reply.raw.off('close', clientGone);
    }
  });
  app.post('/tasks/:id/cancel', { schema: { tags: ['tasks'], params: TaskParams, response: { 200: TaskView } } }, (req) =>
    tasks.cancelTask(deps, req.principal, req.params.id),
  );
}
