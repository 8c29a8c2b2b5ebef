import { randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import { listAuditEvents } from '../../src/store/catalog/audit-log';
import { insertOrg, insertSpace } from '../../src/store/catalog/directory';
import { insertUser } from '../../src/store/catalog/identity';
import { instances } from '../../src/store/catalog/schema';
import { instancePaths } from '../../src/store/instance-storage';
import type { CreateInstanceInput } from '../../src/workflows';
import { freshCatalog } from '../helpers/catalog';
import { testWorker, timeSkippingEnv } from '../helpers/workflow-env';

describe('instance creation workflow', () => {
  let env: TestWorkflowEnvironment;
  let cat: Awaited<ReturnType<typeof freshCatalog>>;
  let base: Omit<CreateInstanceInput, 'instanceId' | 'slug' | 'name'>;

  beforeAll(async () => {
    [env, cat] = await Promise.all([timeSkippingEnv(), freshCatalog()]);
    const db = cat.catalog.db;
    const user = await insertUser(db, { id: randomUUID(), email: 'prof@example.org', name: 'Prof' });
    const org = await insertOrg(db, { id: randomUUID(), slug: 'uni', name: 'Uni' });
    const space = await insertSpace(db, { id: randomUUID(), orgId: org.id, slug: 'stats', name: 'Stats' });
    base = { spaceId: space.id, orgSlug: 'uni', spaceSlug: 'stats', description: '', actor: 'user:prof@example.org', createdBy: user.id, student: null };
  });
  afterAll(async () => {
    await env?.teardown();
    await cat?.cleanup();
  });

  async function run(input: CreateInstanceInput) {
    const taskQueue = `create-${randomUUID()}`;
    const worker = await testWorker(env, taskQueue, { catalog: cat.catalog, dataDir: cat.dir });
    return worker.runUntil(env.client.workflow.execute('createInstanceWorkflow', { workflowId: `instance-create-${input.instanceId}`, taskQueue, args: [input] }));
  }

  it('creates the files tree, the warehouse file, a ready catalog row and one audit event', async () => {
    const input = { ...base, instanceId: randomUUID(), slug: 'master', name: 'Master' };
    const result = await run(input);
    expect(result).toEqual({ instance_id: input.instanceId, org_slug: 'uni', space_slug: 'stats', instance_slug: 'master', group_distributions: [], assignments: [] });
    const paths = instancePaths(cat.dir, input.instanceId);
    expect(statSync(paths.files).isDirectory()).toBe(true);
    expect(statSync(paths.warehouse).size).toBeGreaterThan(0);
    const [row] = await cat.catalog.db.select().from(instances).where(eq(instances.id, input.instanceId));
    expect(row).toMatchObject({ slug: 'master', status: 'ready' });
    const events = await listAuditEvents(cat.catalog.db, { subject: 'instance:uni/stats/master' });
    expect(events.map((e) => [e.action, e.task_id])).toEqual([['instance.created', `instance-create-${input.instanceId}`]]);
  });

  it('fails a duplicate slug without retrying, and leaves no row, tree or audit event behind', async () => {
    const input = { ...base, instanceId: randomUUID(), slug: 'master', name: 'Another master' };
    const failure = await run(input).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const reason = (failure as WorkflowFailedError).cause?.cause as ApplicationFailure;
    expect(reason).toBeInstanceOf(ApplicationFailure);
    expect(reason).toMatchObject({ type: 'Conflict', nonRetryable: true });
    expect(reason.message).toMatch(/an instance with the slug "master" already exists/);
    expect(await cat.catalog.db.select().from(instances).where(eq(instances.id, input.instanceId))).toHaveLength(0);
    expect(existsSync(instancePaths(cat.dir, input.instanceId).root)).toBe(false);
    expect(await listAuditEvents(cat.catalog.db, { subject: 'instance:uni/stats/master' })).toHaveLength(1);
  });
});
