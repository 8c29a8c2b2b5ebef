import { defineQuery } from '@temporalio/workflow';
import type { TaskProgress } from '../domain/tasks';

/** Every long task answers this query, so `tasks get` can show how far it is. */
export const progressQuery = defineQuery<TaskProgress | null>('progress');
