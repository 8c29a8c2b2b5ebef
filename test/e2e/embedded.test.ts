import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditEvent, InstanceView, TaskStarted, TaskView } from '../../src/domain';
import { tempDir } from '../helpers/catalog';
import { expectCliError, handoutJson, handoutOk, runHandout, startHandoutUp, type RunningUp } from '../helpers/cli';
import { freePort, freePorts } from '../helpers/ports';

/**
 * The embedded default, exactly as `npm start` runs it: handout up starts its own Temporal dev
 * server on a database file in the data directory. Everything must survive stopping and starting.
 */
describe('handout up, embedded: stop, start, restart mid-task, tampering', () => {
  let dataDir: string;
  let serverEnv: NodeJS.ProcessEnv;
  let cliEnv: NodeJS.ProcessEnv;
  let up: RunningUp | undefined;

  beforeAll(async () => {
    dataDir = tempDir('embedded');
    const [api, temporal, ui] = await freePorts(3);
    serverEnv = { HANDOUT_DATA_DIR: dataDir, HANDOUT_PORT: String(api), HANDOUT_TEMPORAL_PORT: String(temporal), HANDOUT_TEMPORAL_UI_PORT: String(ui) };
  });
  afterAll(async () => {
    await up?.stop('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts, and a second handout up on the same data directory refuses without touching it', async () => {
    up = await startHandoutUp(serverEnv);
    expect(up.bootstrapKey).toMatch(/^hk_/);
    expect(up.webUiUrl).toBe(`http://127.0.0.1:${serverEnv.HANDOUT_TEMPORAL_UI_PORT}`);
    cliEnv = { HOME: tempDir('embedded-home'), HANDOUT_API_URL: up.apiUrl, HANDOUT_API_KEY: up.bootstrapKey! };
    await handoutOk(['orgs', 'create', '--slug', 'uni'], cliEnv);
    await handoutOk(['spaces', 'create', '-o', 'uni', '--slug', 'stats'], cliEnv);
    const second = await runHandout(['up'], { ...serverEnv, HANDOUT_PORT: String(await freePort()) });
    expectCliError(second, /^Error: the data directory .* is in use by another handout process \(pid \d+/);
    // The first one is unharmed.
    expect((await handoutJson<{ slug: string }[]>(['orgs', 'list'], cliEnv)).map((o) => o.slug)).toEqual(['uni']);
  });

  it("keeps the Temporal server's database in write-ahead-log mode", () => {
    // SQLite's header: bytes 18 and 19 (write and read format versions) are 2 in WAL mode, 1 with a rollback journal.
    const header = readFileSync(join(dataDir, 'temporal.db')).subarray(0, 100);
    expect(header.subarray(0, 16).toString('latin1')).toBe('SQLite format 3\0');
    expect([header[18], header[19]]).toEqual([2, 2]);
  });

  it('completes a task exactly once when the whole stack is stopped while it runs, and keeps keys and rows', async () => {
    // Restart with slow activities, so the task is certainly in flight when we stop it.
    expect(await up!.stop('SIGTERM')).toBe(0);
    up = await startHandoutUp({ ...serverEnv, HANDOUT_TEST_ACTIVITY_DELAY_MS: '4000' });
    expect(up.bootstrapKey).toBeNull(); // shown on the first start only
    const [started] = await handoutJson<TaskStarted[]>(['instances', 'create', '-o', 'uni', '-s', 'stats', '-n', 'Master'], cliEnv);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const [task] = await handoutJson<TaskView[]>(['tasks', 'get', started!.task_id], cliEnv);
      if (task!.status === 'RUNNING') break;
      if (Date.now() > deadline) throw new Error(`task never ran: ${task!.status}`);
    }
    expect(await up.stop('SIGTERM')).toBe(0);
    expect(up.stderr()).toMatch(/Handout stopped\./);

    up = await startHandoutUp(serverEnv);
    const [done] = await handoutJson<TaskView[]>(['tasks', 'get', started!.task_id, '--wait', '--timeout', '120'], cliEnv);
    expect(done).toMatchObject({ status: 'COMPLETED', result: expect.objectContaining({ instance_slug: 'master' }) });
    const instances = await handoutJson<InstanceView[]>(['instances', 'list', '-o', 'uni', '-s', 'stats'], cliEnv);
    expect(instances.map((i) => [i.slug, i.status])).toEqual([['master', 'ready']]);
    const created = await handoutJson<AuditEvent[]>(['audit', 'list', '--action', 'instance.created'], cliEnv);
    expect(created.map((e) => [e.subject, e.task_id])).toEqual([['instance:uni/stats/master', started!.task_id]]);
    expect(await handoutOk(['audit', 'verify'], cliEnv)).toMatch(/hash chain intact/);
    // The workflow history lives in the embedded server's database file, so the task is still listed.
    expect((await handoutJson<TaskView[]>(['tasks', 'list'], cliEnv)).map((t) => t.task_id)).toContain(started!.task_id);
  });

  it('recovers after handout up is killed outright, stopping the Temporal server it left behind', async () => {
    const pid = up!.proc.pid!;
    expect(await up!.stop('SIGKILL')).toBeNull();
    up = await startHandoutUp(serverEnv);
    expect(up.proc.pid).not.toBe(pid);
    expect((await handoutJson<{ slug: string }[]>(['orgs', 'list'], cliEnv)).map((o) => o.slug)).toEqual(['uni']);
    const [task] = await handoutJson<TaskView[]>(['instances', 'create', '-o', 'uni', '-s', 'stats', '-n', 'After Kill', '--wait'], cliEnv);
    expect(task!.status).toBe('COMPLETED');
  });

  it('fails audit verify, naming the event, after a row is altered in the database', async () => {
    expect(await up!.stop('SIGTERM')).toBe(0);
    up = undefined;
    const { PGlite } = await import('@electric-sql/pglite');
    const db = await PGlite.create(join(dataDir, 'catalog'));
    await db.query(`UPDATE audit_events SET details = '{"name":"forged"}'::jsonb WHERE seq = 3`);
    await db.close();
    up = await startHandoutUp(serverEnv);
    expectCliError(await runHandout(['audit', 'verify'], cliEnv), /^Error: audit log verification failed at event 3: content does not match its hash/);
  });
});
