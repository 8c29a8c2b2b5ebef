import type { ServerResponse } from 'node:http';
import type { TaskView } from '../../src/domain';
import { ApiClient } from '../../src/cli/client';
import { waitForTask } from '../../src/cli/wait';
import { json, startFakeApi, type FakeApi } from '../helpers/fake-api';

const task = (status: TaskView['status'], extra: Partial<TaskView> = {}): TaskView => ({
  task_id: 'snapshot-1',
  kind: 'snapshot.create',
  status,
  subject: 'instance:uni/stats/master',
  created_by: 'admin@handout.local',
  created_at: '2026-12-01T10:00:00.000Z',
  started_at: '2026-12-01T10:00:00.100Z',
  finished_at: null,
  progress: null,
  result: null,
  error: null,
  targets: null,
  web_ui_url: null,
  ...extra,
});

describe('--wait (waitForTask), not on a terminal', () => {
  let api: FakeApi;
  let client: ApiClient;
  let asked: (string | null)[];
  let progress: string[];

  beforeAll(async () => {
    api = await startFakeApi();
    client = new ApiClient(api.url, 'hk_test');
  });
  afterAll(() => api?.close());
  beforeEach(() => {
    asked = [];
    progress = [];
    jest.spyOn(process.stderr, 'write').mockImplementation((line) => {
      progress.push(String(line));
      return true;
    });
  });
  afterEach(() => jest.restoreAllMocks());

  /** Answers the n-th request (0-based) with `answers[n]` (the last one from then on), at once. */
  function answerInTurn(answers: ((res: ServerResponse) => void)[]) {
    api.answer((req, res) => {
      asked.push(new URL(req.url!, api.url).searchParams.get('wait_ms'));
      answers[Math.min(asked.length - 1, answers.length - 1)]!(res);
    });
  }

  it('asks the API to hold each request until the task finishes (20 s at a time), and returns the finished task', async () => {
    answerInTurn([(res) => json(res, 200, task('COMPLETED', { result: { name: 'week1' } }))]);
    expect(await waitForTask(client, 'snapshot-1', 600)).toMatchObject({ status: 'COMPLETED', result: { name: 'week1' } });
    expect(asked).toEqual(['20000']);
    expect(progress).toEqual(['task snapshot-1: COMPLETED\n']);
  });

  it('follows a task on an API that answers at once (no long poll), printing each change once', async () => {
    const running = (done: number) => (res: ServerResponse) => json(res, 200, task('RUNNING', { progress: { done, total: 2 } }));
    answerInTurn([(res) => json(res, 200, task('QUEUED')), running(0), running(1), running(1), (res) => json(res, 200, task('COMPLETED', { progress: { done: 2, total: 2 } }))]);
    expect(await waitForTask(client, 'snapshot-1', 600)).toMatchObject({ status: 'COMPLETED' });
    expect(asked).toHaveLength(5);
    expect(progress).toEqual(['task snapshot-1: QUEUED\n', 'task snapshot-1: RUNNING (0/2)\n', 'task snapshot-1: RUNNING (1/2)\n', 'task snapshot-1: COMPLETED (2/2)\n']);
  });

  it('keeps waiting through transient API errors (a restarting API)', async () => {
    answerInTurn([(res) => json(res, 503, { error: { code: 'unavailable', message: 'restarting' } }), (res) => res.writeHead(502, 'Bad Gateway').end(), (res) => json(res, 200, task('COMPLETED'))]);
    expect(await waitForTask(client, 'snapshot-1', 600)).toMatchObject({ status: 'COMPLETED' });
    expect(asked).toHaveLength(3);
  });

  it('stops at an error that will not go away, with its message', async () => {
    answerInTurn([(res) => json(res, 403, { error: { code: 'forbidden', message: 'task "snapshot-1" was started by another user' } })]);
    await expect(waitForTask(client, 'snapshot-1', 600)).rejects.toThrow('task "snapshot-1" was started by another user');
  });

  it.each([
    ['FAILED', 'failed: disk full'],
    ['CANCELLED', 'was cancelled: cancelled by admin'],
  ] as const)('fails when the task ends %s, with its reason', async (status, message) => {
    answerInTurn([(res) => json(res, 200, task(status, { error: message.split(': ')[1]! }))]);
    await expect(waitForTask(client, 'snapshot-1', 600)).rejects.toThrow(`task snapshot-1 ${message}`);
  });

  it('never asks the API to wait past --timeout, and then says how to go on', async () => {
    // An API that holds each request as long as it is asked to, the task never finishing.
    api.answer((req, res) => {
      const waitMs = Number(new URL(req.url!, api.url).searchParams.get('wait_ms'));
      asked.push(String(waitMs));
      setTimeout(() => json(res, 200, task('RUNNING')), waitMs);
    });
    await expect(waitForTask(client, 'snapshot-1', 1)).rejects.toThrow('gave up waiting for task snapshot-1 after 1 s; it goes on in the background: "handout tasks get snapshot-1 --wait"');
    expect(asked.every((ms) => Number(ms) <= 1000)).toBe(true);
  });
});
