import { randomUUID } from 'node:crypto';
import type { GrantView, InstanceView, KeyView, OrgView, SpaceView, TaskStarted, TaskView } from '../../src/domain';
import { hashApiKey } from '../../src/service/identity';
import { insertKey, findUserByEmail } from '../../src/store/catalog/identity';
import { course, createInstance, userWithKey } from '../helpers/fixtures';
import { startTestStack, type TestStack } from '../helpers/services';
import { expectUnchanged } from '../helpers/unchanged';

type Keys = Awaited<ReturnType<typeof course>>;

describe('authentication and roles, enforced by the server', () => {
  let stack: TestStack;
  let keys: Keys;
  let statsTask: string;

  beforeAll(async () => {
    stack = await startTestStack('authz');
    keys = await course(stack);
    statsTask = (await createInstance(stack, 'uni', 'stats', 'carol')).task_id;
  });
  afterAll(() => stack?.close());

  /** Sends a request that must be refused, and proves nothing changed: catalog rows, audit events, instance dirs. */
  async function expectRefused(key: string | null, method: 'GET' | 'POST', url: string, body: unknown, status: number, message: RegExp) {
    const res = await expectUnchanged(stack, () => stack.call<{ error: { code: string; message: string } }>(method, url, { key, body }));
    expect({ status: res.status, code: res.body.error?.code }).toEqual({ status, code: status === 401 ? 'unauthenticated' : 'forbidden' });
    expect(res.body.error.message).toMatch(message);
  }

  describe('401: every API call needs a valid key', () => {
    it('refuses a request without a key and says how to send one', async () => {
      await expectRefused(null, 'POST', '/api/v1/orgs', { slug: 'nokey' }, 401, /Authorization: Bearer <api key>/);
    });

    it('refuses every endpoint without a key, while /healthz stays open', async () => {
      for (const url of ['/api/v1/info', '/api/v1/orgs', '/api/v1/orgs/uni/spaces', '/api/v1/orgs/uni/spaces/stats/instances', '/api/v1/users', '/api/v1/keys', '/api/v1/roles', '/api/v1/tasks', `/api/v1/tasks/${statsTask}`, '/api/v1/audit', '/api/v1/audit/verify']) {
        const res = await stack.call('GET', url, { key: null });
        expect([url, res.status]).toEqual([url, 401]);
      }
      expect((await stack.call('GET', '/healthz', { key: null })).status).toBe(200);
    });

    it('serves the OpenAPI document, which declares bearer auth for every operation', async () => {
      const doc = await stack.call<{ paths: Record<string, unknown>; security: unknown[] }>('GET', '/api/openapi.json', { key: null });
      expect(doc.status).toBe(200);
      expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/api/v1/orgs', '/api/v1/tasks/{id}', '/api/v1/audit/verify']));
      expect(doc.body.security).toEqual([{ bearer: [] }]);
    });

    it('refuses a wrong key', async () => {
      await expectRefused('hk_not-a-real-key', 'POST', '/api/v1/orgs', { slug: 'wrongkey' }, 401, /not valid/);
    });

    it('refuses a revoked key and says when it was revoked', async () => {
      const created = await stack.call<KeyView & { api_key: string }>('POST', '/api/v1/keys', { body: { user_email: 'alice@uni.edu', label: 'laptop' } });
      expect((await stack.call('GET', '/api/v1/info', { key: created.body.api_key })).status).toBe(200);
      const revoked = await stack.call<KeyView>('POST', `/api/v1/keys/${created.body.id}/revoke`);
      expect(revoked.body.revoked_at).not.toBeNull();
      await expectRefused(created.body.api_key, 'GET', '/api/v1/info', undefined, 401, /revoked at \d{4}-/);
    });

    it('refuses an expired key and says when it expired', async () => {
      const alice = (await findUserByEmail(stack.catalog.db, 'alice@uni.edu'))!;
      const secret = `hk_${randomUUID()}`;
      await insertKey(stack.catalog.db, { id: randomUUID(), userId: alice.id, prefix: secret.slice(0, 9), keyHash: hashApiKey(secret), expiresAt: new Date(Date.now() - 60_000) });
      await expectRefused(secret, 'GET', '/api/v1/orgs', undefined, 401, /expired at \d{4}-/);
    });

    it('rejects a key expiry in the past and creates no key', async () => {
      const res = await expectUnchanged(stack, () => stack.call<{ error: { message: string } }>('POST', '/api/v1/keys', { body: { user_email: 'alice@uni.edu', expires_at: '2020-01-01T00:00:00Z' } }));
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/not in the future/);
    });
  });

  describe('403: each role violation is refused and changes nothing', () => {
    const cases: [string, keyof Keys, 'GET' | 'POST', string, unknown, RegExp][] = [
      ['a student creates an org', 'alice', 'POST', '/api/v1/orgs', { slug: 'mine' }, /admin role/],
      ['a space admin creates an org', 'prof', 'POST', '/api/v1/orgs', { slug: 'mine' }, /admin role/],
      ['a space admin creates a space', 'prof', 'POST', '/api/v1/orgs/uni/spaces', { slug: 'more' }, /admin role/],
      ['a student creates an instance', 'alice', 'POST', '/api/v1/orgs/uni/spaces/stats/instances', { name: 'x' }, /space_admin role on space "uni\/stats"/],
      ['a viewer creates an instance', 'tim', 'POST', '/api/v1/orgs/uni/spaces/stats/instances', { name: 'x' }, /space_admin/],
      ['an admin of another space creates an instance', 'bioprof', 'POST', '/api/v1/orgs/uni/spaces/stats/instances', { name: 'x' }, /space_admin role on space "uni\/stats"/],
      ['a student lists users', 'alice', 'GET', '/api/v1/users', undefined, /admin role/],
      ['a space admin creates a user', 'prof', 'POST', '/api/v1/users', { email: 'eve@uni.edu', name: 'Eve' }, /admin role/],
      ['a student creates a key for another student', 'alice', 'POST', '/api/v1/keys', { user_email: 'bob@uni.edu' }, /another user needs the admin role/],
      ['a student grants herself a role on another student', 'alice', 'POST', '/api/v1/roles', { user_email: 'alice@uni.edu', role: 'instance_editor', org_slug: 'uni', space_slug: 'stats', instance_slug: 'bob' }, /space_admin/],
      ['a student makes herself space admin', 'alice', 'POST', '/api/v1/roles', { user_email: 'alice@uni.edu', role: 'space_admin', org_slug: 'uni', space_slug: 'stats' }, /space_admin/],
      ['a space admin grants in another space', 'prof', 'POST', '/api/v1/roles', { user_email: 'prof@uni.edu', role: 'space_admin', org_slug: 'uni', space_slug: 'bio' }, /space_admin role on space "uni\/bio"/],
      ['a student revokes another student\'s role', 'alice', 'POST', '/api/v1/roles/revoke', { user_email: 'bob@uni.edu', role: 'instance_editor', org_slug: 'uni', space_slug: 'stats', instance_slug: 'bob' }, /space_admin/],
      ["a student snapshots another student's instance", 'alice', 'POST', '/api/v1/orgs/uni/spaces/stats/instances/bob/snapshots', { name: 's' }, /instance_editor role \(or more\) on instance "uni\/stats\/bob"; alice@uni.edu has no role there/],
      ['a viewer snapshots the instance she views', 'tim', 'POST', '/api/v1/orgs/uni/spaces/stats/instances/master/snapshots', { name: 's' }, /instance_editor role \(or more\) on instance "uni\/stats\/master"; tim@uni.edu has only instance_viewer/],
      ["an admin of another space lists an instance's files", 'bioprof', 'GET', '/api/v1/orgs/uni/spaces/stats/instances/master/files', undefined, /instance_viewer role \(or more\) on instance "uni\/stats\/master"; bioprof@uni.edu has no role there/],
      ['a student reads the audit log', 'alice', 'GET', '/api/v1/audit', undefined, /admin role/],
      ['a space admin verifies the audit log', 'prof', 'GET', '/api/v1/audit/verify', undefined, /admin role/],
    ];
    it.each(cases)('%s', async (_name, who, method, url, body, message) => {
      await expectRefused(keys[who], method, url, body, 403, message);
    });

    it('a student cannot read or cancel a task of the instructors, nor can an admin of another space', async () => {
      await expectRefused(keys.alice, 'GET', `/api/v1/tasks/${statsTask}`, undefined, 403, /started by another user/);
      await expectRefused(keys.alice, 'POST', `/api/v1/tasks/${statsTask}/cancel`, undefined, 403, /started by another user/);
      await expectRefused(keys.bioprof, 'GET', `/api/v1/tasks/${statsTask}`, undefined, 403, /space admin of its space/);
    });

    it('a student cannot revoke another student\'s key', async () => {
      const bobKeys = await stack.call<KeyView[]>('GET', '/api/v1/keys', { key: keys.bob });
      await expectRefused(keys.alice, 'POST', `/api/v1/keys/${bobKeys.body[0]!.id}/revoke`, undefined, 403, /another user's key needs the admin role/);
    });
  });

  describe('what each role may see', () => {
    const slugs = (rows: { slug: string }[]) => rows.map((r) => r.slug);

    it('a student sees only her own instance; a viewer only the one she views; the space admin all', async () => {
      const list = (key: string) => stack.call<InstanceView[]>('GET', '/api/v1/orgs/uni/spaces/stats/instances', { key });
      expect(slugs((await list(keys.alice)).body)).toEqual(['alice']);
      expect(slugs((await list(keys.bob)).body)).toEqual(['bob']);
      expect(slugs((await list(keys.tim)).body)).toEqual(['master']);
      expect(slugs((await list(keys.prof)).body)).toEqual(['alice', 'bob', 'carol', 'master']);
      expect(slugs((await list(keys.bioprof)).body)).toEqual([]);
    });

    it('orgs and spaces are listed only where the user holds a role', async () => {
      const stranger = await userWithKey(stack, 'stranger@else.org');
      expect((await stack.call<OrgView[]>('GET', '/api/v1/orgs', { key: stranger })).body).toEqual([]);
      expect(slugs((await stack.call<OrgView[]>('GET', '/api/v1/orgs', { key: keys.alice })).body)).toEqual(['uni']);
      expect(slugs((await stack.call<SpaceView[]>('GET', '/api/v1/orgs/uni/spaces', { key: keys.alice })).body)).toEqual(['stats']);
      expect(slugs((await stack.call<SpaceView[]>('GET', '/api/v1/orgs/uni/spaces', { key: keys.bioprof })).body)).toEqual(['bio']);
    });

    it('a student sees only her own grants and keys; the space admin sees the grants of the space', async () => {
      const aliceGrants = (await stack.call<GrantView[]>('GET', '/api/v1/roles', { key: keys.alice })).body;
      expect(aliceGrants.map((g) => [g.user_email, g.role, g.instance_slug])).toEqual([['alice@uni.edu', 'instance_editor', 'alice']]);
      const profGrants = (await stack.call<GrantView[]>('GET', '/api/v1/roles', { key: keys.prof })).body;
      expect(profGrants.map((g) => g.user_email).sort()).toEqual(['alice@uni.edu', 'bob@uni.edu', 'prof@uni.edu', 'tim@uni.edu']);
      const aliceKeys = (await stack.call<KeyView[]>('GET', '/api/v1/keys', { key: keys.alice })).body;
      expect(new Set(aliceKeys.map((k) => k.user_email))).toEqual(new Set(['alice@uni.edu']));
      expect(JSON.stringify(aliceKeys)).not.toMatch(/api_key|key_hash/);
    });

    it('the space admin sees the tasks of the space; a student sees none of them', async () => {
      expect((await stack.call<TaskView[]>('GET', '/api/v1/tasks', { key: keys.alice })).body).toEqual([]);
      const seen = (await stack.call<TaskView[]>('GET', '/api/v1/tasks', { key: keys.prof })).body.map((t) => t.task_id);
      expect(seen).toContain(statsTask);
      expect((await stack.call<TaskView>('GET', `/api/v1/tasks/${statsTask}`, { key: keys.prof })).body.status).toBe('COMPLETED');
    });

    it('a space admin creates an instance in the space and a grant in it; a user creates and revokes a key of her own', async () => {
      const started = await stack.call<TaskStarted>('POST', '/api/v1/orgs/uni/spaces/stats/instances', { key: keys.prof, body: { name: 'Dave' } });
      expect(started.status).toBe(202);
      const granted = await stack.call<GrantView>('POST', '/api/v1/roles', { key: keys.prof, body: { user_email: 'bob@uni.edu', role: 'instance_viewer', org_slug: 'uni', space_slug: 'stats', instance_slug: 'master' } });
      expect(granted.status).toBe(201);
      const own = await stack.call<KeyView & { api_key: string }>('POST', '/api/v1/keys', { key: keys.alice, body: { user_email: 'alice@uni.edu' } });
      expect(own.status).toBe(201);
      expect((await stack.call('POST', `/api/v1/keys/${own.body.id}/revoke`, { key: keys.alice })).status).toBe(200);
    });
  });
});
