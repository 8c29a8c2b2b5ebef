import { spawn } from 'node:child_process';
import { statSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import type { AuditEvent, CreatedKey, InstanceView, OrgView, SpaceView, TaskView } from '../../src/domain';
import { tempDir } from '../helpers/catalog';
import { expectCliError, handoutJson, handoutOk, runHandout, startHandoutUp, type RunningUp } from '../helpers/cli';
import { freePort } from '../helpers/ports';
import { testTemporalAddress, uniqueTaskQueue } from '../helpers/temporal';

/** Everything the admin can see through the API: orgs, spaces, instances, users, keys, roles, tasks, audit. */
async function visibleState(apiUrl: string, key: string): Promise<unknown> {
  const get = async (path: string) => {
    const res = await fetch(`${apiUrl}/api/v1${path}`, { headers: { authorization: `Bearer ${key}` } });
    return res.json() as Promise<unknown>;
  };
  const orgs = (await get('/orgs')) as OrgView[];
  const tree = [];
  for (const org of orgs) {
    const spaces = (await get(`/orgs/${org.slug}/spaces`)) as SpaceView[];
    for (const space of spaces) tree.push({ space, instances: await get(`/orgs/${org.slug}/spaces/${space.slug}/instances`) });
  }
  return { orgs, tree, users: await get('/users'), keys: await get('/keys'), roles: await get('/roles'), tasks: await get('/tasks?limit=1000'), audit: await get('/audit') };
}

describe('the handout binary against handout up (external Temporal)', () => {
  let up: RunningUp;
  let dataDir: string;
  let home: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dataDir = tempDir('e2e-data');
    home = tempDir('e2e-home');
    up = await startHandoutUp({
      HANDOUT_DATA_DIR: dataDir,
      HANDOUT_PORT: String(await freePort()),
      TEMPORAL_ADDRESS: testTemporalAddress(),
      TEMPORAL_UI_URL: 'http://127.0.0.1:8233',
      HANDOUT_TASK_QUEUE: uniqueTaskQueue('e2e-cli'),
    });
    env = { HOME: home, HANDOUT_API_URL: up.apiUrl };
  });
  afterAll(async () => {
    expect(await up?.stop('SIGTERM')).toBe(0);
    expect(up.stderr()).toMatch(/Handout stopped\./);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  });

  it('prints the API URL, the Web UI URL and, on the first start, an admin key that is also in a 0600 file', () => {
    expect(up.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(up.webUiUrl).toBe('http://127.0.0.1:8233');
    expect(up.bootstrapKey).toMatch(/^hk_/);
    const keyFile = join(dataDir, 'admin-api-key');
    expect(readFileSync(keyFile, 'utf8').trim()).toBe(up.bootstrapKey);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
  });

  it('runs a first session: config, info, orgs, spaces, instances as a task, tasks, audit', async () => {
    await handoutOk(['config', '--api-key', up.bootstrapKey!], env);
    expect(statSync(join(home, '.handout', 'config.yaml')).mode & 0o777).toBe(0o600);
    expect(await handoutOk(['info'], env)).toMatch(/user\s+admin@handout\.local/);
    await handoutOk(['orgs', 'create', '--slug', 'my_org', '-n', 'My Org'], env);
    await handoutOk(['spaces', 'create', '-o', 'my_org', '--slug', 'class_space', '-n', 'Class'], env);
    const [task] = await handoutJson<TaskView[]>(['instances', 'create', '-o', 'my_org', '-s', 'class_space', '-n', 'Student 001', '--slug', 'student_001', '--wait'], env);
    expect(task).toMatchObject({ status: 'COMPLETED', kind: 'instance.create', subject: 'instance:my_org/class_space/student_001' });
    expect(task!.web_ui_url).toBe(`http://127.0.0.1:8233/namespaces/default/workflows/${task!.task_id}`);
    const listed = await handoutJson<InstanceView[]>(['instances', 'list', '-o', 'my_org', '-s', 'class_space'], env);
    expect(listed.map((i) => [i.slug, i.status])).toEqual([['student_001', 'ready']]);
    // The context variable works instead of flags.
    const viaContext = await handoutJson<InstanceView[]>(['instances', 'list'], { ...env, HANDOUT_CONTEXT: '{"org_slug":"my_org","space_slug":"class_space"}' });
    expect(viaContext).toEqual(listed);
    const yamlDocs = YAML.parseAllDocuments(await handoutOk(['tasks', 'get', task!.task_id, '-f', 'yaml'], env)).map((d) => d.toJS());
    expect(yamlDocs).toEqual([expect.objectContaining({ task_id: task!.task_id, status: 'COMPLETED' })]);
    expect(await handoutOk(['tasks', 'list'], env)).toMatch(new RegExp(`${task!.task_id}\\s+instance\\.create\\s+COMPLETED`));
    const csv = (await handoutOk(['audit', 'list', '--action', 'instance.created', '-f', 'csv'], env)).trim().split('\n');
    expect(csv[0]).toBe('seq,at,actor,action,subject,details,content_hashes,task_id,event_key,prev_hash,hash');
    expect(csv).toHaveLength(2);
    expect(csv[1]).toContain('instance:my_org/class_space/student_001');
    expect(await handoutOk(['audit', 'verify'], env)).toMatch(/audit log OK: \d+ events, hash chain intact/);
  });

  it('hands over all of a large output to a slow reader before exiting', async () => {
    const key = up.bootstrapKey!;
    const long = 'x'.repeat(150);
    for (let batch = 0; batch < 8; batch++) {
      await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          fetch(`${up.apiUrl}/api/v1/users`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ email: `bulk${batch}-${i}@big.example`, name: `${long} ${batch}-${i}` }) }),
        ),
      );
    }
    // The reader waits a second before it reads: the CLI's 200 KB of JSON cannot fit the pipe at once.
    const child = spawn(process.execPath, [join(__dirname, '..', '..', 'bin', 'handout.js'), 'users', 'list', '-f', 'json'], { env: { PATH: process.env.PATH, HOME: home, HANDOUT_API_URL: up.apiUrl, HANDOUT_API_KEY: key } });
    child.stdout.pause();
    await new Promise((r) => setTimeout(r, 1000));
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code).toBe(0);
    expect(out.length).toBeGreaterThan(128 * 1024);
    expect((JSON.parse(out) as unknown[]).filter((u) => (u as { email: string }).email.endsWith('@big.example'))).toHaveLength(800);
  }, 120_000);

  it('lets an admin create users, keys and roles, and a revoked key stops working', async () => {
    await handoutOk(['users', 'create', '--email', 'stu@uni.edu', '-n', 'Stu'], env);
    const [created] = await handoutJson<CreatedKey[]>(['keys', 'create', '--user', 'stu@uni.edu', '--label', 'laptop'], env);
    expect(created!.api_key).toMatch(/^hk_/);
    await handoutOk(['roles', 'grant', '--user', 'stu@uni.edu', '--role', 'instance_editor', '-o', 'my_org', '-s', 'class_space', '-i', 'student_001'], env);
    const stu = { ...env, HANDOUT_API_KEY: created!.api_key };
    expect((await handoutJson<InstanceView[]>(['instances', 'list', '-o', 'my_org', '-s', 'class_space'], stu)).map((i) => i.slug)).toEqual(['student_001']);
    expectCliError(await runHandout(['instances', 'create', '-o', 'my_org', '-s', 'class_space', '-n', 'Sneaky'], stu), /^Error: creating an instance needs the space_admin role on space "my_org\/class_space"; stu@uni\.edu does not have it\n$/);
    await handoutOk(['keys', 'revoke', created!.id], env);
    expectCliError(await runHandout(['info'], stu), /^Error: this API key was revoked at /);
  });

  describe('bad input: one clear line on stderr, exit 1, and nothing changes', () => {
    let before: unknown;
    beforeEach(async () => {
      before = await visibleState(up.apiUrl, up.bootstrapKey!);
    });
    afterEach(async () => {
      expect(await visibleState(up.apiUrl, up.bootstrapKey!)).toEqual(before);
    });

    it('rejects a bad -f before a mutating command runs', async () => {
      expectCliError(await runHandout(['orgs', 'create', '--slug', 'never', '-f', 'xml'], env), /argument 'xml' is invalid. Allowed choices are tabulated, json, yaml/);
    });
    it('rejects a malformed HANDOUT_CONTEXT', async () => {
      expectCliError(await runHandout(['instances', 'create', '-n', 'x'], { ...env, HANDOUT_CONTEXT: '{"org_slug": "my_org",' }), /^Error: HANDOUT_CONTEXT is not valid JSON/);
    });
    it('applies the platform rule: --org needs --space', async () => {
      expectCliError(await runHandout(['instances', 'create', '-o', 'my_org', '-n', 'x'], env), /^Error: -o\/--org also needs -s\/--space\n$/);
    });
    it('names missing context flags', async () => {
      expectCliError(await runHandout(['instances', 'list'], env), /no org\/space given: pass -o\/--org, -s\/--space, or set HANDOUT_CONTEXT/);
    });
    it('rejects an unknown org and an unknown space', async () => {
      expectCliError(await runHandout(['spaces', 'list', '-o', 'nope'], env), /^Error: organization "nope" not found/);
      expectCliError(await runHandout(['instances', 'create', '-o', 'my_org', '-s', 'nope', '-n', 'x'], env), /^Error: space "my_org\/nope" not found/);
    });
    it('rejects an unknown instance', async () => {
      expectCliError(await runHandout(['files', 'list', '-o', 'my_org', '-s', 'class_space', '-i', 'nope'], env), /^Error: instance "my_org\/class_space\/nope" not found\n$/);
      expectCliError(await runHandout(['roles', 'grant', '--user', 'stu@uni.edu', '--role', 'instance_viewer', '-o', 'my_org', '-s', 'class_space', '-i', 'nope'], env), /instance "my_org\/class_space\/nope" not found/);
    });
    it('rejects duplicate slugs', async () => {
      expectCliError(await runHandout(['orgs', 'create', '--slug', 'my_org'], env), /already exists/);
      expectCliError(await runHandout(['instances', 'create', '-o', 'my_org', '-s', 'class_space', '-n', 'Student 001', '--slug', 'student_001', '-w'], env), /instance with the slug "student_001" already exists/);
    });
    it('rejects invalid slugs', async () => {
      expectCliError(await runHandout(['orgs', 'create', '--slug', 'Bad Slug'], env), /slug/);
      expectCliError(await runHandout(['instances', 'list', '-o', 'BAD', '-s', 'x'], env), /invalid org slug "BAD"/);
    });
    it('says how to set a missing key, and refuses a wrong one', async () => {
      const noKey = await runHandout(['orgs', 'list'], { HOME: tempDir('e2e-empty-home'), HANDOUT_API_URL: up.apiUrl });
      expectCliError(noKey, /HANDOUT_API_KEY.*handout config --api-key KEY/);
      expectCliError(await runHandout(['orgs', 'list'], { ...env, HANDOUT_API_KEY: 'hk_wrong' }), /^Error: the API key is not valid\n$/);
    });
    it('says when the API cannot be reached', async () => {
      expectCliError(await runHandout(['orgs', 'list'], { ...env, HANDOUT_API_URL: `http://127.0.0.1:${await freePort()}` }), /cannot reach the Handout API .* is "handout up" running\?/);
    });
    it('rejects a bad --expires-in', async () => {
      expectCliError(await runHandout(['keys', 'create', '--user', 'stu@uni.edu', '--expires-in', 'soon'], env), /--expires-in must be a positive number/);
    });
  });
});
