import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DistributionResult, TaskStarted, TaskView } from '../../src/domain';
import { findOrg, findSpace } from '../../src/store/catalog/directory';
import { instances } from '../../src/store/catalog/schema';
import { instancePaths } from '../../src/store/instance-storage';
import { createInstance, finishedTask } from '../helpers/fixtures';
import { inst, upload } from '../helpers/content';
import { startTestStack, type TestStack } from '../helpers/services';

const TARGETS = 1000;

describe('a distribution to 1,000 targets', () => {
  let stack: TestStack;
  const ids: string[] = [];

  beforeAll(async () => {
    stack = await startTestStack('dist-scale', { HANDOUT_DISTRIBUTION_CONCURRENCY: '32' });
    await stack.call('POST', '/api/v1/orgs', { body: { slug: 'uni', name: 'Uni' } });
    await stack.call('POST', '/api/v1/orgs/uni/spaces', { body: { slug: 'big', name: 'Big course' } });
    await createInstance(stack, 'uni', 'big', 'master');
    await upload(stack, inst('uni', 'big', 'master'), '/files/welcome.md', '# Welcome\n');
    // The targets go straight into the catalog (ready, with a files tree): provisioning 1,000 instances
    // through their own workflow is tested elsewhere and would dominate this test's time.
    const db = stack.catalog.db;
    const space = (await findSpace(db, (await findOrg(db, 'uni'))!.id, 'big'))!;
    const rows = Array.from({ length: TARGETS }, (_, i) => ({
      id: randomUUID(),
      spaceId: space.id,
      slug: `s${String(i).padStart(4, '0')}`,
      name: `student ${i}`,
      status: 'ready' as const,
      group: 'students' as const,
      createdBy: 'test',
    }));
    await db.insert(instances).values(rows);
    for (const row of rows) {
      mkdirSync(instancePaths(stack.dataDir, row.id).files, { recursive: true });
      ids.push(row.id);
    }
  }, 120_000);
  afterAll(() => stack?.close());

  it('reaches every target within one workflow run, well inside Temporal history limits', async () => {
    const started = await stack.call<TaskStarted>('POST', '/api/v1/distributions', {
      body: {
        source: { org_slug: 'uni', space_slug: 'big', instance_slug: 'master' },
        targets: [{ org_slug: 'uni', space_slug: 'big', group: 'students' }],
        files: ['/files/welcome.md'],
      },
    });
    expect(started.status).toBe(202);
    const task: TaskView = await finishedTask(stack, started.body.task_id, undefined, 300_000);
    expect(task.status).toBe('COMPLETED');
    const result = task.result as DistributionResult;
    expect(result).toMatchObject({ targets_total: TARGETS, applied: TARGETS, failed: 0 });
    expect(new Set(task.targets!.map((t) => t.target)).size).toBe(TARGETS);
    for (const id of ids) expect(readFileSync(join(instancePaths(stack.dataDir, id).files, 'welcome.md'), 'utf8')).toBe('# Welcome\n');
    const { historyLength } = await stack.deps.temporal.workflow.getHandle(started.body.task_id).describe();
    // One activity per target (scheduled, started, completed) plus the window's workflow tasks.
    expect(historyLength).toBeLessThan(10 * TARGETS);
  }, 360_000);
});
