import { z } from 'zod';
import { TaskListQuery, TaskView } from '../../domain';
import type { ServiceDeps } from '../../service/deps';
import * as tasks from '../../service/tasks';
import type { HandoutApp } from '../server';

const TaskParams = z.object({ id: z.string().min(1).max(300) });

export function registerTaskRoutes(app: HandoutApp, deps: ServiceDeps): void {
  app.get('/tasks', { schema: { tags: ['tasks'], querystring: TaskListQuery, response: { 200: z.array(TaskView) } } }, (req) =>
    tasks.listTasks(deps, req.principal, req.query),
  );
  app.get('/tasks/:id', { schema: { tags: ['tasks'], params: TaskParams, response: { 200: TaskView } } }, (req) => tasks.getTask(deps, req.principal, req.params.id));
  app.post('/tasks/:id/cancel', { schema: { tags: ['tasks'], params: TaskParams, response: { 200: TaskView } } }, (req) =>
    tasks.cancelTask(deps, req.principal, req.params.id),
  );
}
