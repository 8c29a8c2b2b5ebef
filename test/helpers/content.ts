import type { TaskStarted, TaskView } from '../../src/domain';
import { finishedTask } from './fixtures';
import type { TestStack } from './services';

/** The API path of an instance. */
export const inst = (org: string, space: string, instance: string) => `/api/v1/orgs/${org}/spaces/${space}/instances/${instance}`;

/** Uploads bytes to a /files path through the API (in-process), as the holder of `key`. */
export async function upload(stack: TestStack, base: string, path: string, bytes: Buffer | string, key?: string, extraQuery = '') {
  const response = await stack.api.inject({
    method: 'PUT',
    url: `${base}/files/content?path=${encodeURIComponent(path)}${extraQuery}`,
    headers: { authorization: `Bearer ${key ?? stack.adminKey}`, 'content-type': 'application/octet-stream' },
    payload: typeof bytes === 'string' ? Buffer.from(bytes) : bytes,
  });
  return { status: response.statusCode, body: response.json() as Record<string, unknown> & { error?: { message: string } } };
}

/** Downloads a /files path (current state or a snapshot) as bytes. */
export async function downloadBytes(stack: TestStack, base: string, path: string, snapshot = 'development', key?: string) {
  const response = await stack.api.inject({
    method: 'GET',
    url: `${base}/files/content?path=${encodeURIComponent(path)}&snapshot=${snapshot}`,
    headers: { authorization: `Bearer ${key ?? stack.adminKey}` },
  });
  return { status: response.statusCode, bytes: response.rawPayload };
}

/** Imports CSV text as a table. */
export async function importCsv(stack: TestStack, base: string, table: string, csv: string, mode = 'create', key?: string) {
  const response = await stack.api.inject({
    method: 'PUT',
    url: `${base}/tables/${table}/import?format=csv&mode=${mode}`,
    headers: { authorization: `Bearer ${key ?? stack.adminKey}`, 'content-type': 'application/octet-stream' },
    payload: Buffer.from(csv),
  });
  return { status: response.statusCode, body: response.json() as Record<string, unknown> & { error?: { message: string } } };
}

/** Exports a table as CSV text. */
export async function exportCsv(stack: TestStack, base: string, table: string, snapshot = 'development') {
  const response = await stack.api.inject({ method: 'GET', url: `${base}/tables/${table}/export?format=csv&snapshot=${snapshot}`, headers: { authorization: `Bearer ${stack.adminKey}` } });
  return { status: response.statusCode, text: response.body };
}

/** Starts a task through the API and waits for it to finish. */
export async function runTask(stack: TestStack, method: 'POST' | 'DELETE', url: string, body?: unknown, key?: string): Promise<TaskView> {
  const started = await stack.api.inject({
    method,
    url,
    headers: { authorization: `Bearer ${key ?? stack.adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { payload: body as object }),
  });
  if (started.statusCode !== 202) throw new Error(`${method} ${url} answered ${started.statusCode}: ${started.body}`);
  return finishedTask(stack, (started.json() as TaskStarted).task_id, key);
}
