import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { eq } from 'drizzle-orm';
import type { TaskStarted, TaskView } from '../../src/domain';
import { startTask } from '../../src/service/tasks';
import { listAuditEvents } from '../../src/store/catalog/audit-log';
import { findUserByEmail } from '../../src/store/catalog/identity';
import { instances, tasks } from '../../src/store/catalog/schema';
import { instancePaths } from '../../src/store/instance-storage';
import { createInstance, finishedTask } from '../helpers/fixtures';
import { startTestStack, type TestStack } from '../helpers/services';
import { expectUnchanged } from '../helpers/unchanged';

type ErrorReply = { error: { code: string; message: string } };

describe('orgs, spaces and instances through the API, with instance creation as a Temporal task', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack('directory');
    expect((await stack.call('POST', '/api/v1/orgs', { body: { slug: 'uni', name: 'University' } })).status).toBe(201);
    expect((await stack.call('POST', '/api/v1/orgs/uni/spaces', { body: { slug: 'stats', name: 'Stats 101' } })).status).toBe(201);
  });
  afterAll(() => stack?.close());

  async function expectBadInput(method: 'GET' | 'POST', url: string, body: unknown, status: number, message: RegExp) {
    const res = await expectUnchanged(stack, () => stack.call<ErrorReply>(method, url, { body }));
    expect(res.status).toBe(status);
    expect(res.body.error.message).toMatch(message);
  }

  it('creates an instance as a task: QUEUED or RUNNING, then COMPLETED with its result, times and a Web UI link', async () => {
    const started = await stack.call<TaskStarted & { instance_slug: string }>('POST', '/api/v1/orgs/uni/spaces/stats/instances', { body: { name: 'Intro Master Copy' } });
    expect(started.status).toBe(202);
    expect(started.body.instance_slug).toBe('intro_master_copy');
    expect(started.body.web_ui_url).toBe(`http://127.0.0.1:8233/namespaces/default/workflows/${started.body.task_id}`);
    const task = await finishedTask(stack, started.body.task_id);
    expect(task).toMatchObject({ kind: 'instance.create', status: 'COMPLETED', subject: 'instance:uni/stats/intro_master_copy', created_by: 'admin@handout.local', error: null });
    expect(task.result).toMatchObject({ org_slug: 'uni', space_slug: 'stats', instance_slug: 'intro_master_copy' });
    expect(Date.parse(task.finished_at!)).toBeGreaterThanOrEqual(Date.parse(task.started_at!));
    const paths = instancePaths(stack.dataDir, (task.result as { instance_id: string }).instance_id);
    expect(existsSync(paths.files) && existsSync(paths.warehouse)).toBe(true);
    const listed = await stack.call<TaskView[]>('GET', '/api/v1/tasks');
    expect(listed.body.map((t) => t.task_id)).toContain(task.task_id);
    const completed = await stack.call<TaskView[]>('GET', '/api/v1/tasks?status=COMPLETED');
    expect(completed.body.every((t) => t.status === 'COMPLETED')).toBe(true);
  });

  describe('bad input: a clear error, and nothing changes', () => {
    beforeAll(async () => {
      await createInstance(stack, 'uni', 'stats', 'master');
    });

    it.each([
      ['a duplicate org slug', 'POST', '/api/v1/orgs', { slug: 'uni' }, 409, /organization with the slug "uni" already exists/],
      ['a duplicate space slug', 'POST', '/api/v1/orgs/uni/spaces', { slug: 'stats' }, 409, /space with the slug "stats" already exists in organization "uni"/],
      ['a duplicate instance slug (refused before any task starts)', 'POST', '/api/v1/orgs/uni/spaces/stats/instances', { name: 'Master' }, 409, /instance with the slug "master" already exists in space "uni\/stats"/],
      ['an org slug with capitals and spaces', 'POST', '/api/v1/orgs', { slug: 'My Org' }, 400, /body.slug: a slug is 1–63 characters/],
      ['a space slug starting with a dash', 'POST', '/api/v1/orgs/uni/spaces', { slug: '-x' }, 400, /slug/],
      ['an instance slug with a slash', 'POST', '/api/v1/orgs/uni/spaces/stats/instances', { name: 'x', slug: 'a/b' }, 400, /slug/],
      ['a name that yields no slug', 'POST', '/api/v1/orgs/uni/spaces/stats/instances', { name: '!!!' }, 400, /cannot derive a valid slug.*pass --slug/],
      ['an empty instance name', 'POST', '/api/v1/orgs/uni/spaces/stats/instances', { name: '   ' }, 400, /name must not be empty/],
      ['an unknown field', 'POST', '/api/v1/orgs', { slug: 'ok', colour: 'red' }, 400, /colour/],
      ['an unknown org', 'GET', '/api/v1/orgs/nope/spaces', undefined, 404, /organization "nope" not found/],
      ['an unknown space', 'GET', '/api/v1/orgs/uni/spaces/nope/instances', undefined, 404, /space "uni\/nope" not found/],
      ['an unknown instance', 'GET', '/api/v1/orgs/uni/spaces/stats/instances/nope/files', undefined, 404, /instance "uni\/stats\/nope" not found/],
      ["an instance's path through an unknown org", 'GET', '/api/v1/orgs/nope/spaces/stats/instances/nope/files', undefined, 404, /organization "nope" not found/],
      ["an instance's path through an unknown space", 'GET', '/api/v1/orgs/uni/spaces/nope/instances/nope/files', undefined, 404, /space "uni\/nope" not found/],
      ['an instance in an unknown space', 'POST', '/api/v1/orgs/uni/spaces/nope/instances', { name: 'x' }, 404, /space "uni\/nope" not found/],
      ['an unknown task', 'GET', '/api/v1/tasks/instance-create-nope', undefined, 404, /task "instance-create-nope" not found/],
      ['a bad task status filter', 'GET', '/api/v1/tasks?status=DONE', undefined, 400, /status/],
      ['an unknown endpoint', 'GET', '/api/v1/nothing', undefined, 404, /no such endpoint/],
    ] as const)('%s', async (_name, method, url, body, status, message) => {
      await expectBadInput(method, url, body, status, message);
    });

    it('refuses to cancel a task that has finished', async () => {
      const done = await createInstance(stack, 'uni', 'stats', 'finished');
      await expectBadInput('POST', `/api/v1/tasks/${done.task_id}/cancel`, undefined, 409, /already finished \(COMPLETED\)/);
    });
  });

  it('shows a task that no worker has picked up as QUEUED', async () => {
    const admin = (await findUserByEmail(stack.catalog.db, 'admin@handout.local'))!;
    const principal = { userId: admin.id, email: admin.email, isAdmin: true };
    const taskId = `instance-create-${randomUUID()}`;
    await startTask({ ...stack.deps, taskQueue: `nobody-listens-${randomUUID()}` }, principal, { kind: 'instance.create', taskId, subject: 'instance:uni/stats/queued', spaceId: null, workflowType: 'createInstanceWorkflow', args: [{}] });
    expect((await stack.call<TaskView>('GET', `/api/v1/tasks/${taskId}`)).body.status).toBe('QUEUED');
    await stack.deps.temporal.workflow.getHandle(taskId).terminate('test cleanup');
    const ended = (await stack.call<TaskView>('GET', `/api/v1/tasks/${taskId}`)).body;
    expect(ended).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/^terminated: test cleanup/) });
  });

  it('reports a task that fails as FAILED with the reason a user can act on', async () => {
    const admin = (await findUserByEmail(stack.catalog.db, 'admin@handout.local'))!;
    const space = (await stack.catalog.db.select().from(instances).where(eq(instances.slug, 'master')))[0]!;
    const instanceId = randomUUID();
    const taskId = `instance-create-${instanceId}`;
    // Bypasses the API's own duplicate check, as a concurrent request could: the workflow must still refuse.
    await startTask(stack.deps, { userId: admin.id, email: admin.email, isAdmin: true }, {
      kind: 'instance.create',
      taskId,
      subject: 'instance:uni/stats/master',
      spaceId: space.spaceId,
      workflowType: 'createInstanceWorkflow',
      args: [{ instanceId, spaceId: space.spaceId, orgSlug: 'uni', spaceSlug: 'stats', slug: 'master', name: 'Master again', description: '', actor: 'user:admin@handout.local', createdBy: admin.id }],
    });
    const task = await finishedTask(stack, taskId);
    expect(task).toMatchObject({ status: 'FAILED', error: 'an instance with the slug "master" already exists in this space' });
    expect(await stack.catalog.db.select().from(instances).where(eq(instances.id, instanceId))).toHaveLength(0);
    expect(existsSync(instancePaths(stack.dataDir, instanceId).root)).toBe(false);
    expect(await listAuditEvents(stack.catalog.db, { subject: 'instance:uni/stats/master', action: 'instance.created' })).toHaveLength(1);
  });
});

describe('cancelling an instance task mid-way', () => {
  let stack: TestStack;
  beforeAll(async () => {
    // Each activity first waits 3 s (heartbeating), so the task is certainly running when cancelled.
    stack = await startTestStack('cancel', { HANDOUT_TEST_ACTIVITY_DELAY_MS: '3000' });
    await stack.call('POST', '/api/v1/orgs', { body: { slug: 'uni' } });
    await stack.call('POST', '/api/v1/orgs/uni/spaces', { body: { slug: 'stats' } });
  });
  afterAll(() => stack?.close());

  it('ends CANCELLED, leaves no instance row, no tree and no instance.created event, and audits the request', async () => {
    const started = await stack.call<TaskStarted>('POST', '/api/v1/orgs/uni/spaces/stats/instances', { body: { name: 'Doomed' } });
    const deadline = Date.now() + 30_000;
    while ((await stack.call<TaskView>('GET', `/api/v1/tasks/${started.body.task_id}`)).body.status !== 'RUNNING') {
      if (Date.now() > deadline) throw new Error('task never ran');
      await new Promise((r) => setTimeout(r, 50));
    }
    const cancelled = await stack.call<TaskView>('POST', `/api/v1/tasks/${started.body.task_id}/cancel`);
    expect(cancelled.status).toBe(200);
    const task = await finishedTask(stack, started.body.task_id);
    expect(task.status).toBe('CANCELLED');
    expect(await stack.catalog.db.select().from(instances).where(eq(instances.slug, 'doomed'))).toHaveLength(0);
    const instanceId = started.body.task_id.replace('instance-create-', '');
    expect(existsSync(instancePaths(stack.dataDir, instanceId).root)).toBe(false);
    expect(await listAuditEvents(stack.catalog.db, { action: 'instance.created' })).toHaveLength(0);
    const requests = await listAuditEvents(stack.catalog.db, { action: 'task.cancel_requested' });
    expect(requests.map((e) => [e.subject, e.actor])).toEqual([[`task:${started.body.task_id}`, 'user:admin@handout.local']]);
    expect(await stack.catalog.db.select().from(tasks).where(eq(tasks.id, started.body.task_id))).toHaveLength(1);
  });
});
