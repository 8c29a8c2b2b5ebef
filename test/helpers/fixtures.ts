import type { CreatedKey, TaskStarted, TaskView } from '../../src/domain';
import type { TestStack } from './services';

/** Creates a user with a key through the API (as admin) and returns the key. */
export async function userWithKey(stack: TestStack, email: string, opts: { admin?: boolean } = {}): Promise<string> {
  const user = await stack.call('POST', '/api/v1/users', { body: { email, name: email.split('@')[0], is_admin: opts.admin ?? false } });
  if (user.status !== 201) throw new Error(`creating ${email} failed: ${JSON.stringify(user.body)}`);
  const key = await stack.call<CreatedKey>('POST', '/api/v1/keys', { body: { user_email: email } });
  if (key.status !== 201) throw new Error(`creating a key for ${email} failed: ${JSON.stringify(key.body)}`);
  return key.body.api_key;
}

export async function grant(stack: TestStack, body: Record<string, string>): Promise<void> {
  const res = await stack.call('POST', '/api/v1/roles', { body });
  if (res.status !== 201) throw new Error(`grant failed: ${JSON.stringify(res.body)}`);
}

/** Polls a task through the API until it has finished. */
export async function finishedTask(stack: TestStack, taskId: string, key?: string, timeoutMs = 60_000): Promise<TaskView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await stack.call<TaskView>('GET', `/api/v1/tasks/${encodeURIComponent(taskId)}`, { key });
    if (['COMPLETED', 'FAILED', 'CANCELLED'].includes(res.body.status)) return res.body;
    if (Date.now() > deadline) throw new Error(`task ${taskId} did not finish: ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Creates an instance through the API and waits for its task to complete. */
export async function createInstance(stack: TestStack, org: string, space: string, slug: string, key?: string): Promise<TaskView> {
  const res = await stack.call<TaskStarted>('POST', `/api/v1/orgs/${org}/spaces/${space}/instances`, { key, body: { name: slug, slug } });
  if (res.status !== 202) throw new Error(`instance create failed: ${JSON.stringify(res.body)}`);
  const task = await finishedTask(stack, res.body.task_id, key);
  if (task.status !== 'COMPLETED') throw new Error(`instance task ${task.status}: ${task.error}`);
  return task;
}

/**
 * A course: org `uni`, spaces `stats` and `bio`; instances master, alice, bob in stats and lab in bio.
 * Users: prof (space admin of stats), alice and bob (editors of their own instance), tim (viewer of master),
 * bioprof (space admin of bio).
 */
export async function course(stack: TestStack) {
  await stack.call('POST', '/api/v1/orgs', { body: { slug: 'uni', name: 'University' } });
  await stack.call('POST', '/api/v1/orgs/uni/spaces', { body: { slug: 'stats', name: 'Stats 101' } });
  await stack.call('POST', '/api/v1/orgs/uni/spaces', { body: { slug: 'bio', name: 'Biology' } });
  for (const slug of ['master', 'alice', 'bob']) await createInstance(stack, 'uni', 'stats', slug);
  await createInstance(stack, 'uni', 'bio', 'lab');
  const keys = {
    prof: await userWithKey(stack, 'prof@uni.edu'),
    alice: await userWithKey(stack, 'alice@uni.edu'),
    bob: await userWithKey(stack, 'bob@uni.edu'),
    tim: await userWithKey(stack, 'tim@uni.edu'),
    bioprof: await userWithKey(stack, 'bioprof@uni.edu'),
  };
  await grant(stack, { user_email: 'prof@uni.edu', role: 'space_admin', org_slug: 'uni', space_slug: 'stats' });
  await grant(stack, { user_email: 'bioprof@uni.edu', role: 'space_admin', org_slug: 'uni', space_slug: 'bio' });
  await grant(stack, { user_email: 'alice@uni.edu', role: 'instance_editor', org_slug: 'uni', space_slug: 'stats', instance_slug: 'alice' });
  await grant(stack, { user_email: 'bob@uni.edu', role: 'instance_editor', org_slug: 'uni', space_slug: 'stats', instance_slug: 'bob' });
  await grant(stack, { user_email: 'tim@uni.edu', role: 'instance_viewer', org_slug: 'uni', space_slug: 'stats', instance_slug: 'master' });
  return keys;
}

/**
 * The body of `POST …/assignments` for a group assignment of `uni/course`'s master instance: its
 * `/files/<folder>` as material, `/files/<folder>/answers.md` handed in; `overrides` set the rest.
 */
export function groupAssignment(slug: string, folder: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: slug,
    slug,
    source: { org_slug: 'uni', space_slug: 'course', instance_slug: 'master' },
    files: [`/files/${folder}`],
    handin: [`/files/${folder}/answers.md`],
    targets: 'group',
    timezone: 'Europe/Zurich',
    ...overrides,
  };
}
