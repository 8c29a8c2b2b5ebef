import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { eq } from 'drizzle-orm';
import { listAuditEvents } from '../../src/store/catalog/audit-log';
import { insertKey, insertUser, revokeKey } from '../../src/store/catalog/identity';
import { auditEvents } from '../../src/store/catalog/schema';
import type { KeyExpiryInput } from '../../src/workflows';
import { freshCatalog } from '../helpers/catalog';
import { testWorker, timeSkippingEnv } from '../helpers/workflow-env';

const DAY = 86_400_000;

describe('key expiry task (time-skipping server)', () => {
  let env: TestWorkflowEnvironment;
  let cat: Awaited<ReturnType<typeof freshCatalog>>;

  beforeAll(async () => {
    [env, cat] = await Promise.all([timeSkippingEnv(), freshCatalog()]);
  });
  afterAll(async () => {
    await env?.teardown();
    await cat?.cleanup();
  });

  async function makeKey(email: string) {
    const user = await insertUser(cat.catalog.db, { id: randomUUID(), email, name: email });
    return insertKey(cat.catalog.db, { id: randomUUID(), userId: user.id, prefix: 'hk_test', keyHash: randomUUID(), expiresAt: new Date(Date.now() + 30 * DAY) });
  }

  it('sleeps 30 days in no time and records key.expired exactly once', async () => {
    const key = await makeKey('ada@example.org');
    const taskQueue = `expiry-${randomUUID()}`;
    const worker = await testWorker(env, taskQueue, { catalog: cat.catalog, dataDir: cat.dir });
    const input: KeyExpiryInput = { keyId: key.id, userEmail: 'ada@example.org', expiresAt: key.expiresAt!.toISOString() };
    const before = Date.now();
    const outcome = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start('keyExpiryWorkflow', { workflowId: `key-expiry-${key.id}`, taskQueue, args: [input] });
      const result = await handle.result();
      // The workflow's clock reached the expiry: the server skipped the whole 30 days.
      const described = await handle.describe();
      expect(described.closeTime!.getTime()).toBeGreaterThanOrEqual(key.expiresAt!.getTime());
      return result;
    });
    expect(outcome).toEqual({ recorded: true });
    const events = await listAuditEvents(cat.catalog.db, { action: 'key.expired', subject: `key:${key.id}` });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actor: 'system', details: { user: 'ada@example.org', expires_at: input.expiresAt } });
    // Real time did not pass: the test took far less than a day.
    expect(Date.now() - before).toBeLessThan(DAY);
  });

  it('records nothing for a key that was revoked before it expired', async () => {
    const key = await makeKey('grace@example.org');
    await revokeKey(cat.catalog.db, key.id, new Date());
    const taskQueue = `expiry-${randomUUID()}`;
    const worker = await testWorker(env, taskQueue, { catalog: cat.catalog, dataDir: cat.dir });
    const input: KeyExpiryInput = { keyId: key.id, userEmail: 'grace@example.org', expiresAt: key.expiresAt!.toISOString() };
    const outcome = await worker.runUntil(env.client.workflow.execute('keyExpiryWorkflow', { workflowId: `key-expiry-${key.id}`, taskQueue, args: [input] }));
    expect(outcome).toEqual({ recorded: false });
    const rows = await cat.catalog.db.select().from(auditEvents).where(eq(auditEvents.subject, `key:${key.id}`));
    expect(rows).toHaveLength(0);
  });
});
