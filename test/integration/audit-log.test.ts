import { sql } from 'drizzle-orm';
import type { AuditEvent, AuditVerifyResult } from '../../src/domain';
import { appendAuditEvent, listAuditEvents, verifyAuditChain } from '../../src/store/catalog/audit-log';
import type { Catalog } from '../../src/store/catalog/db';
import { openCatalog } from '../../src/store/catalog/db';
import { applyMigrations, listMigrations } from '../../src/store/catalog/migrate';
import { freshCatalog } from '../helpers/catalog';
import { findPostgresBin, startPostgres } from '../helpers/postgres';
import { startTestStack, type TestStack } from '../helpers/services';

/** The same audit-log behaviour, checked on every catalog driver. */
function auditLogBehaviour(open: () => Promise<{ catalog: Catalog; more?: () => Promise<Catalog>; cleanup(): Promise<void> }>) {
  let catalog: Catalog;
  let cleanup: () => Promise<void>;
  let more: (() => Promise<Catalog>) | undefined;
  beforeAll(async () => {
    ({ catalog, cleanup, more } = await open());
  });
  afterAll(() => cleanup?.());

  it('applies the numbered migrations once; opening again applies none', async () => {
    expect(await applyMigrations(catalog.db)).toEqual([]);
    const rows = await catalog.db.execute(sql`SELECT id FROM catalog_migrations ORDER BY id`);
    expect((rows as unknown as { rows: { id: string }[] }).rows.map((r) => r.id)).toEqual(listMigrations().map((m) => m.id));
  });

  it('chains events: seq 1, 2, 3…, each prev_hash the hash before it', async () => {
    const a = await appendAuditEvent(catalog.db, { event_key: 'k1', actor: 'user:ada@x.org', action: 'org.created', subject: 'org:a' });
    const b = await appendAuditEvent(catalog.db, { event_key: 'k2', actor: 'system', action: 'space.created', subject: 'space:a/b', content_hashes: { 'files/x': 'ab'.repeat(32) } });
    expect(b.seq).toBe(a.seq + 1);
    expect(b.prev_hash).toBe(a.hash);
    expect(await verifyAuditChain(catalog.db)).toMatchObject({ ok: true, first_bad_seq: null });
  });

  it('appends idempotently by event key: a retry returns the first event and writes nothing', async () => {
    const first = await appendAuditEvent(catalog.db, { event_key: 'retry-me', actor: 'system', action: 'x.done', subject: 'x:1', details: { n: 1 } });
    const again = await appendAuditEvent(catalog.db, { event_key: 'retry-me', actor: 'system', action: 'x.done', subject: 'x:1', details: { n: 1 } });
    expect(again).toEqual(first);
    expect(await listAuditEvents(catalog.db, { subject: 'x:1' })).toHaveLength(1);
  });

  it("appends within the caller's transaction: the event commits with it, and is gone when it rolls back", async () => {
    const committed = await catalog.db.transaction((tx) => appendAuditEvent(tx as unknown as Catalog['db'], { event_key: 'in-tx', actor: 'system', action: 'tx.done', subject: 'tx:1' }));
    const failure = new Error('the change the event records failed');
    await expect(
      catalog.db.transaction(async (tx) => {
        await appendAuditEvent(tx as unknown as Catalog['db'], { event_key: 'rolled-back', actor: 'system', action: 'tx.done', subject: 'tx:2' });
        throw failure;
      }),
    ).rejects.toBe(failure);
    const after = await appendAuditEvent(catalog.db, { event_key: 'after-tx', actor: 'system', action: 'tx.done', subject: 'tx:3' });
    expect((await listAuditEvents(catalog.db, { action: 'tx.done' })).map((e) => e.subject)).toEqual(['tx:1', 'tx:3']);
    expect(after).toMatchObject({ seq: committed.seq + 1, prev_hash: committed.hash });
    expect(await verifyAuditChain(catalog.db)).toMatchObject({ ok: true });
  });

  it('keeps one unbroken chain under concurrent appends, also from a second connection', async () => {
    const other = more ? await more() : catalog;
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => appendAuditEvent(i % 2 ? other.db : catalog.db, { event_key: `c${i}`, actor: 'system', action: 'load.test', subject: `load:${i}` })),
    );
    const events = await listAuditEvents(catalog.db, {});
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(await verifyAuditChain(catalog.db)).toMatchObject({ ok: true, events_checked: events.length });
    if (other !== catalog) await other.close();
  });

  it('names the first altered event, then a removed one', async () => {
    const target = (await listAuditEvents(catalog.db, { subject: 'load:7' }))[0]!;
    await catalog.db.execute(sql`UPDATE audit_events SET details = '{"forged": true}'::jsonb WHERE seq = ${target.seq}`);
    expect(await verifyAuditChain(catalog.db)).toEqual({ ok: false, events_checked: target.seq - 1, first_bad_seq: target.seq, reason: 'content does not match its hash (the event was altered)' });
    await catalog.db.execute(sql`UPDATE audit_events SET details = '{}'::jsonb WHERE seq = ${target.seq}`);
    expect((await verifyAuditChain(catalog.db)).ok).toBe(true);
    await catalog.db.execute(sql`DELETE FROM audit_events WHERE seq = ${target.seq + 2}`);
    expect(await verifyAuditChain(catalog.db)).toMatchObject({ ok: false, first_bad_seq: target.seq + 2, reason: expect.stringMatching(/sequence gap/) });
  });
}

describe('audit log on PGlite', () => {
  auditLogBehaviour(async () => freshCatalog());
});

// PostgreSQL runs where its server binaries are installed; .ci/run installs them and sets
// HANDOUT_TEST_POSTGRES=required so CI can never pass without exercising this driver.
const pgBin = findPostgresBin();
if (!pgBin && process.env.HANDOUT_TEST_POSTGRES === 'required') throw new Error('HANDOUT_TEST_POSTGRES=required but no PostgreSQL server binaries (initdb, pg_ctl) were found');
(pgBin ? describe : describe.skip)('audit log on PostgreSQL (DATABASE_URL), same migrations', () => {
  auditLogBehaviour(async () => {
    const pg = await startPostgres(pgBin!);
    const catalog = await openCatalog({ databaseUrl: pg.url });
    return {
      catalog,
      more: () => openCatalog({ databaseUrl: pg.url }),
      async cleanup() {
        await catalog.close();
        pg.stop();
      },
    };
  });
});

describe('audit log through the API', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack('audit-api');
    await stack.call('POST', '/api/v1/orgs', { body: { slug: 'uni' } });
    await stack.call('POST', '/api/v1/users', { body: { email: 'ada@uni.edu', name: 'Ada' } });
  });
  afterAll(() => stack?.close());

  it('filters by actor (bare e-mail or user:…), action, subject and time', async () => {
    const all = (await stack.call<AuditEvent[]>('GET', '/api/v1/audit')).body;
    expect(all.map((e) => e.action)).toEqual(['user.created', 'org.created', 'user.created']);
    const byActor = (await stack.call<AuditEvent[]>('GET', '/api/v1/audit?actor=admin@handout.local')).body;
    expect(byActor.map((e) => e.action)).toEqual(['org.created', 'user.created']);
    expect((await stack.call<AuditEvent[]>('GET', '/api/v1/audit?actor=user:admin@handout.local')).body).toEqual(byActor);
    expect((await stack.call<AuditEvent[]>('GET', '/api/v1/audit?action=org.created')).body.map((e) => e.subject)).toEqual(['org:uni']);
    expect((await stack.call<AuditEvent[]>('GET', '/api/v1/audit?subject=user:ada@uni.edu')).body).toHaveLength(1);
    const since = encodeURIComponent(all[1]!.at);
    expect((await stack.call<AuditEvent[]>('GET', `/api/v1/audit?since=${since}`)).body.map((e) => e.seq)).toEqual([2, 3]);
    expect((await stack.call<AuditEvent[]>('GET', `/api/v1/audit?until=${since}`)).body.map((e) => e.seq)).toEqual([1, 2]);
  });

  it('rejects a time that is not ISO-8601', async () => {
    const res = await stack.call<{ error: { message: string } }>('GET', '/api/v1/audit?since=yesterday');
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/since/);
  });

  it('verifies the chain, and names the row that was altered in the database', async () => {
    expect((await stack.call<AuditVerifyResult>('GET', '/api/v1/audit/verify')).body).toEqual({ ok: true, events_checked: 3, first_bad_seq: null, reason: null });
    await stack.catalog.db.execute(sql`UPDATE audit_events SET actor = 'user:mallory@evil.org' WHERE seq = 2`);
    expect((await stack.call<AuditVerifyResult>('GET', '/api/v1/audit/verify')).body).toMatchObject({ ok: false, first_bad_seq: 2 });
  });
});

(pgBin ? describe : describe.skip)('the whole stack on PostgreSQL (DATABASE_URL)', () => {
  it('creates an instance through its task with the catalog in PostgreSQL, and a second stack on the same database sees it', async () => {
    const pg = await startPostgres(pgBin!);
    try {
      const first = await startTestStack('pg-stack', { DATABASE_URL: pg.url });
      await first.call('POST', '/api/v1/orgs', { body: { slug: 'uni' } });
      await first.call('POST', '/api/v1/orgs/uni/spaces', { body: { slug: 'stats' } });
      const { createInstance } = await import('../helpers/fixtures');
      const task = await createInstance(first, 'uni', 'stats', 'master');
      expect(task.status).toBe('COMPLETED');
      expect(first.catalog.driver).toBe('postgres');
      await first.close();
      const second = await openCatalog({ databaseUrl: pg.url });
      const events = await listAuditEvents(second.db, { action: 'instance.created' });
      expect(events.map((e) => e.subject)).toEqual(['instance:uni/stats/master']);
      expect((await verifyAuditChain(second.db)).ok).toBe(true);
      await second.close();
    } finally {
      pg.stop();
    }
  });
});
