import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditEvent, TaskStarted, TaskView } from '../../src/domain';
import { findInstance, findOrg, findSpace } from '../../src/store/catalog/directory';
import { instancePaths } from '../../src/store/instance-storage';
import { inst, upload } from '../helpers/content';
import { createInstance, finishedTask } from '../helpers/fixtures';
import { startTestStack, type TestStack } from '../helpers/services';
import { treeListing } from '../helpers/unchanged';

const TARGETS = ['t1', 't2', 't3', 't4', 't5', 't6'];

describe('cancelling a distribution', () => {
  let stack: TestStack;

  beforeAll(async () => {
    // Every activity first waits 400 ms (heartbeating), two targets at a time: the cancel lands mid-run.
    stack = await startTestStack('dist-cancel', { HANDOUT_TEST_ACTIVITY_DELAY_MS: '400', HANDOUT_DISTRIBUTION_CONCURRENCY: '2' });
    await stack.call('POST', '/api/v1/orgs', { body: { slug: 'uni', name: 'Uni' } });
    await stack.call('POST', '/api/v1/orgs/uni/spaces', { body: { slug: 'stats', name: 'Stats' } });
    for (const slug of ['master', ...TARGETS]) await createInstance(stack, 'uni', 'stats', slug);
    for (let i = 0; i < 20; i++) await upload(stack, inst('uni', 'stats', 'master'), `/files/material/part-${i}.txt`, `part ${i}\n`.repeat(1000 + i));
  }, 120_000);
  afterAll(() => stack?.close());

  it('stops at the next step: targets are applied whole or left untouched, and the task says which', async () => {
    const db = stack.catalog.db;
    const space = (await findSpace(db, (await findOrg(db, 'uni'))!.id, 'stats'))!;
    const filesOf = async (slug: string) => instancePaths(stack.dataDir, (await findInstance(db, space.id, slug))!.id).files;
    const started = await stack.call<TaskStarted>('POST', '/api/v1/distributions', {
      body: {
        source: { org_slug: 'uni', space_slug: 'stats', instance_slug: 'master' },
        targets: TARGETS.map((t) => ({ org_slug: 'uni', space_slug: 'stats', instance_slug: t })),
        files: ['/files/material'],
      },
    });
    const taskId = started.body.task_id;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const running = (await stack.call<TaskView>('GET', `/api/v1/tasks/${taskId}`)).body;
      if (running.targets?.some((t) => t.status === 'applied')) break;
      if (running.status !== 'RUNNING' && running.status !== 'QUEUED') throw new Error(`finished before it could be cancelled: ${running.status}`);
      if (Date.now() > deadline) throw new Error('no target was applied in time');
      await new Promise((r) => setTimeout(r, 50));
    }
    const cancel = await stack.call<TaskView>('POST', `/api/v1/tasks/${taskId}/cancel`);
    expect(cancel.status).toBe(200);
    const task = await finishedTask(stack, taskId);
    expect(task.status).toBe('CANCELLED');
    const statuses = task.targets!.map((t) => t.status);
    expect(statuses).toContain('applied');
    expect(statuses).toContain('cancelled');
    expect(statuses.every((s) => s === 'applied' || s === 'cancelled')).toBe(true);

    const source = treeListing(await filesOf('master'));
    for (const outcome of task.targets!) {
      const files = await filesOf(outcome.target.split('/')[2]!);
      const tree = treeListing(files);
      // Whole or nothing: an applied target has exactly the material; a cancelled one has none of it, and no temp files.
      if (outcome.status === 'applied') expect(tree).toEqual(source);
      else expect(tree).toEqual({});
      expect(readdirSync(files).filter((n) => n.startsWith('.handout-tmp-'))).toEqual([]);
    }
    expect(readFileSync(join(await filesOf(task.targets!.find((t) => t.status === 'applied')!.target.split('/')[2]!), 'material/part-3.txt'), 'utf8')).toBe('part 3\n'.repeat(1003));
    const events = (await stack.call<AuditEvent[]>('GET', '/api/v1/audit?limit=1000')).body.filter((e) => e.task_id === taskId);
    expect(events.filter((e) => e.action === 'distribution.applied')).toHaveLength(statuses.filter((s) => s === 'applied').length);
    expect(events.filter((e) => e.action === 'distribution.cancelled')).toHaveLength(1);
  }, 120_000);
});
