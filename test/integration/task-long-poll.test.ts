import { request, type IncomingMessage } from 'node:http';
import type { CreatedKey, TaskStarted, TaskView } from '../../src/domain';
import { MAX_TASK_WAIT_MS, tasksBeingAwaited } from '../../src/service/task-wait';
import { createInstance, userWithKey } from '../helpers/fixtures';
import { startTestStack, type TestStack } from '../helpers/services';
import { expectUnchanged } from '../helpers/unchanged';
import { waitFor } from '../helpers/wait';

type ErrorReply = { error: { code: string; message: string } };

/** Resolves with `label` after `ms`: raced against an answer, it tells whether the answer came first. */
const limit = (ms: number, label = 'the time limit') => new Promise<string>((resolve) => setTimeout(() => resolve(label), ms).unref());

/** No request waits for a task any more, and no call to Temporal made for one is still open. */
const nothingLeftWaiting = () => waitFor(() => tasksBeingAwaited() === 0, { everyMs: 20, timeoutMs: MAX_TASK_WAIT_MS / 2 });

/** `GET /tasks/:id?wait_ms=` over a real connection, which the test can cut. */
function longPoll(apiUrl: string, key: string, taskId: string, waitMs: number) {
  let cut = () => {};
  const answer = new Promise<{ status: number; body: TaskView; connection?: string }>((resolve, reject) => {
    const req = request(`${apiUrl}/api/v1/tasks/${encodeURIComponent(taskId)}?wait_ms=${waitMs}`, { headers: { authorization: `Bearer ${key}` } }, async (res: IncomingMessage) => {
      let text = '';
      for await (const chunk of res) text += String(chunk);
      resolve({ status: res.statusCode!, body: JSON.parse(text) as TaskView, connection: res.headers.connection });
    });
    req.on('error', reject);
    req.end();
    cut = () => req.destroy();
  });
  return { answer, cut };
}

describe('GET /tasks/:id?wait_ms= answers when the task finishes, or with its state when the wait is over', () => {
  let stack: TestStack;
  let stopped = false;
  /** A task that runs for weeks: the expiry timer of a key. */
  async function longRunningTask(): Promise<string> {
    const expiresAt = new Date(Date.now() + 30 * 24 * 3600_000).toISOString();
    const key = await stack.call<CreatedKey>('POST', '/api/v1/keys', { body: { user_email: 'admin@handout.local', expires_at: expiresAt } });
    expect(key.status).toBe(201);
    const taskId = `key-expiry-${key.body.id}`;
    await waitFor(async () => (await stack.call<TaskView>('GET', `/api/v1/tasks/${taskId}`)).body.status === 'RUNNING');
    return taskId;
  }

  beforeAll(async () => {
    stack = await startTestStack('task-long-poll');
    expect((await stack.call('POST', '/api/v1/orgs', { body: { slug: 'uni', name: 'University' } })).status).toBe(201);
    expect((await stack.call('POST', '/api/v1/orgs/uni/spaces', { body: { slug: 'stats', name: 'Stats' } })).status).toBe(201);
  });
  afterAll(async () => {
    if (!stopped) await stack?.close();
  });

  it('answers with the finished task as soon as it finishes, well before the wait is over', async () => {
    const started = await stack.call<TaskStarted>('POST', '/api/v1/orgs/uni/spaces/stats/instances', { body: { name: 'master' } });
    expect(started.status).toBe(202);
    const { answer } = longPoll(stack.apiUrl, stack.adminKey, started.body.task_id, MAX_TASK_WAIT_MS);
    expect(await Promise.race([answer.then(() => 'the answer'), limit(MAX_TASK_WAIT_MS)])).toBe('the answer');
    const { status, body } = await answer;
    expect(status).toBe(200);
    expect(body).toMatchObject({ task_id: started.body.task_id, status: 'COMPLETED', result: expect.objectContaining({ instance_slug: 'master' }) });
    await nothingLeftWaiting();
  });

  it('answers a task that a cancellation ends while the request waits, before the wait is over', async () => {
    const taskId = await longRunningTask();
    const { answer } = longPoll(stack.apiUrl, stack.adminKey, taskId, MAX_TASK_WAIT_MS);
    await waitFor(() => tasksBeingAwaited() === 1, { everyMs: 20 });
    expect((await stack.call('POST', `/api/v1/tasks/${taskId}/cancel`)).status).toBe(200);
    expect(await Promise.race([answer.then(() => 'the answer'), limit(MAX_TASK_WAIT_MS)])).toBe('the answer');
    expect((await answer).body).toMatchObject({ task_id: taskId, status: 'CANCELLED' });
    await nothingLeftWaiting();
  });

  it('answers with the current state when the wait is over, and keeps nothing waiting', async () => {
    const taskId = await longRunningTask();
    const { answer } = longPoll(stack.apiUrl, stack.adminKey, taskId, 300);
    await waitFor(() => tasksBeingAwaited() === 1, { everyMs: 20 });
    const { status, body } = await answer;
    expect(status).toBe(200);
    expect(body).toMatchObject({ task_id: taskId, status: 'RUNNING', finished_at: null });
    await nothingLeftWaiting();
  });

  it('answers a finished task at once, whatever wait it asks for (more than 20 s is taken as 20 s)', async () => {
    const done = await createInstance(stack, 'uni', 'stats', 'finished');
    for (const wait of ['0', '1', String(MAX_TASK_WAIT_MS), '86400000']) {
      const res = await stack.call<TaskView>('GET', `/api/v1/tasks/${done.task_id}?wait_ms=${wait}`);
      expect({ wait, status: res.status, task: res.body.status }).toEqual({ wait, status: 200, task: 'COMPLETED' });
    }
  });

  it.each([
    ['a word', 'soon'],
    ['a negative number', '-1'],
    ['a fraction', '1.5'],
    ['nothing', ''],
    ['a number with a unit', '20s'],
  ])('refuses a wait_ms that is %s with a clear 400, waits for nothing and changes nothing', async (_name, wait) => {
    const taskId = await longRunningTask();
    const res = await expectUnchanged(stack, () => stack.call<ErrorReply>('GET', `/api/v1/tasks/${taskId}?wait_ms=${encodeURIComponent(wait)}`));
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({ code: 'invalid_input', message: expect.stringMatching(/^querystring\.wait_ms: wait_ms is a whole number of milliseconds/) });
    await nothingLeftWaiting();
    expect((await stack.call<TaskView>('GET', `/api/v1/tasks/${taskId}`)).body.status).toBe('RUNNING');
  });

  it('checks who may see the task before waiting: the same 403 and 404 as without a wait, at once', async () => {
    const taskId = await longRunningTask();
    const stranger = await userWithKey(stack, 'stranger@uni.edu');
    const plain = await stack.call<ErrorReply>('GET', `/api/v1/tasks/${taskId}`, { key: stranger });
    expect(plain.status).toBe(403);
    const { answer } = longPoll(stack.apiUrl, stranger, taskId, MAX_TASK_WAIT_MS);
    expect(await Promise.race([answer.then(() => 'the answer'), limit(MAX_TASK_WAIT_MS)])).toBe('the answer');
    expect(await answer).toMatchObject({ status: 403, body: plain.body });
    const unknown = await stack.call<ErrorReply>('GET', `/api/v1/tasks/key-expiry-nope?wait_ms=${MAX_TASK_WAIT_MS}`);
    expect(unknown).toEqual({ status: 404, body: { error: { code: 'not_found', message: 'task "key-expiry-nope" not found' } } });
    await nothingLeftWaiting();
  });

  it('stops waiting when the client goes away', async () => {
    const taskId = await longRunningTask();
    const { answer, cut } = longPoll(stack.apiUrl, stack.adminKey, taskId, MAX_TASK_WAIT_MS);
    answer.catch(() => undefined); // the cut rejects it
    await waitFor(() => tasksBeingAwaited() === 1, { everyMs: 20 });
    cut();
    await nothingLeftWaiting(); // well within the 20 s the request asked for
    expect((await stack.call<TaskView>('GET', `/api/v1/tasks/${taskId}`)).body.status).toBe('RUNNING');
  });

  it('answers a waiting request with the current state when the API stops, so stopping is not held up', async () => {
    const taskId = await longRunningTask();
    const { answer } = longPoll(stack.apiUrl, stack.adminKey, taskId, MAX_TASK_WAIT_MS);
    await waitFor(() => tasksBeingAwaited() === 1, { everyMs: 20 });
    stopped = true;
    const closed = stack.close();
    expect(await Promise.race([answer.then(() => 'the answer'), limit(MAX_TASK_WAIT_MS)])).toBe('the answer');
    // …and closes the connection, which the server's close would otherwise wait for.
    expect(await answer).toMatchObject({ status: 200, body: { task_id: taskId, status: 'RUNNING' }, connection: 'close' });
    await closed;
    await nothingLeftWaiting();
  });
});
