import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppView, AuditEvent, DistributionResult, InstanceView, SnapshotView, TableInfo, TaskStarted, TaskView } from '../../src/domain';
import { findInstance, findOrg, findSpace } from '../../src/store/catalog/directory';
import { instancePaths } from '../../src/store/instance-storage';
import { exportCsv, importCsv, inst, runTask, upload } from '../helpers/content';
import { course, finishedTask, userWithKey } from '../helpers/fixtures';
import { startTestStack, type TestStack } from '../helpers/services';
import { expectUnchanged as expectStateUnchanged, treeListing } from '../helpers/unchanged';

type Keys = Awaited<ReturnType<typeof course>>;
type ErrorReply = { error: { code: string; message: string } };
const target = (space: string, instance: string) => ({ org_slug: 'uni', space_slug: space, instance_slug: instance });
const MASTER = target('stats', 'master');

describe('distribution: push a stage from one frozen source to many targets', () => {
  let stack: TestStack;
  let keys: Keys;
  const master = inst('uni', 'stats', 'master');
  let filesOf: (space: string, slug: string) => Promise<string>;

  beforeAll(async () => {
    stack = await startTestStack('distribution');
    keys = await course(stack);
    const db = stack.catalog.db;
    filesOf = async (spaceSlug, slug) => {
      const space = (await findSpace(db, (await findOrg(db, 'uni'))!.id, spaceSlug))!;
      return instancePaths(stack.dataDir, (await findInstance(db, space.id, slug))!.id).files;
    };
    await upload(stack, master, '/files/week1/notes.md', '# Week 1\n');
    await upload(stack, master, '/files/week1/data.csv', 'x,y\n1,2\n');
    await upload(stack, master, '/files/week2/todo.md', 'later\n');
    await importCsv(stack, master, 'grades', 'id,grade\n1,A\n2,B\n');
    await importCsv(stack, master, 'roster', 'name\nalice\nbob\n');
    await stack.call('POST', `${master}/apps`, { body: { slug: 'jupyter_lab', name: 'JupyterLab', base_image: 'jupyter/base:1' } });
    await stack.call('POST', `${master}/apps`, { body: { slug: 'rstudio', name: 'RStudio', base_image: 'rocker/rstudio:4' } });
  });
  afterAll(() => stack?.close());

  const expectUnchanged = <T>(run: () => Promise<T>) => expectStateUnchanged(stack, run);
  const distribute = (body: Record<string, unknown>, key = keys.prof) =>
    stack.call<TaskStarted & ErrorReply>('POST', '/api/v1/distributions', { key, body: { source: MASTER, ...body } });
  const distributeAndWait = async (body: Record<string, unknown>, key = keys.prof): Promise<TaskView> => {
    const started = await distribute(body, key);
    if (started.status !== 202) throw new Error(`distribution refused: ${JSON.stringify(started.body)}`);
    return finishedTask(stack, started.body.task_id, key);
  };
  const auditOf = async (action: string, taskId: string) =>
    (await stack.call<AuditEvent[]>('GET', `/api/v1/audit?action=${action}&limit=1000`)).body.filter((e) => e.task_id === taskId);

  it('copies the selected files whole to every target, reports each target and audits each once', async () => {
    const task = await distributeAndWait({ targets: [target('stats', 'alice'), target('stats', 'bob')], files: ['/files/week1'] });
    expect(task.status).toBe('COMPLETED');
    expect(task.targets).toEqual([
      expect.objectContaining({ target: 'uni/stats/alice', status: 'applied', files_written: 2, reason: null }),
      expect.objectContaining({ target: 'uni/stats/bob', status: 'applied', files_written: 2, reason: null }),
    ]);
    expect(task.progress).toMatchObject({ done: 2, total: 2 });
    expect(task.result).toMatchObject({ applied: 2, failed: 0, targets_total: 2, snapshot: 'development' });
    const expected = { week1: 'dir', 'week1/data.csv': expect.any(String), 'week1/notes.md': expect.any(String) };
    for (const who of ['alice', 'bob']) {
      expect(treeListing(await filesOf('stats', who))).toEqual(expected);
      expect(readFileSync(join(await filesOf('stats', who), 'week1/notes.md'), 'utf8')).toBe('# Week 1\n');
    }
    // The current state was frozen by a staging snapshot first; each target has one applied-event.
    const snaps = (await stack.call<SnapshotView[]>('GET', `${master}/snapshots`)).body;
    expect(snaps.filter((s) => s.kind === 'staging')).toHaveLength(1);
    const applied = await auditOf('distribution.applied', task.task_id);
    expect(applied.map((e) => e.subject).sort()).toEqual(['instance:uni/stats/alice', 'instance:uni/stats/bob']);
    expect(applied[0]!.content_hashes.stage).toBe((task.result as DistributionResult).stage_sha256);
    expect(await auditOf('distribution.completed', task.task_id)).toHaveLength(1);
  });

  it('applies each strategy per kind: overwrite, ignore_existing, mirror (only the kinds it applies to) and skip', async () => {
    const alice = inst('uni', 'stats', 'alice');
    await upload(stack, alice, '/files/week1/notes.md', 'my own notes\n', keys.alice);
    await upload(stack, alice, '/files/mine.txt', 'keep?\n', keys.alice);
    await importCsv(stack, alice, 'private', 'a\n1\n', 'create', keys.alice);
    const notesOfAlice = async () => readFileSync(join(await filesOf('stats', 'alice'), 'week1/notes.md'), 'utf8');

    const kept = await distributeAndWait({ targets: [target('stats', 'alice')], files: ['/files/week1'], strategy: { files: 'ignore_existing' } });
    expect(kept.targets![0]).toMatchObject({ status: 'skipped', files_written: 0 });
    expect(await notesOfAlice()).toBe('my own notes\n');

    await distributeAndWait({ targets: [target('stats', 'alice')], files: ['/files/week1/notes.md'] });
    expect(await notesOfAlice()).toBe('# Week 1\n');

    const skipped = await distributeAndWait({ targets: [target('stats', 'alice')], files: ['/files/week2'], tables: ['grades'], strategy: { files: 'skip' } });
    expect(skipped.targets![0]).toMatchObject({ status: 'applied', files_written: 0, tables: ['grades'] });
    expect(treeListing(await filesOf('stats', 'alice'))).not.toHaveProperty('week2');

    const mirrored = await distributeAndWait({ targets: [target('stats', 'alice')], files: ['/files/week2'], strategy: { files: 'mirror', tables: 'mirror' } });
    expect(mirrored.targets![0]).toMatchObject({ status: 'applied', files_written: 1 });
    expect(Object.keys(treeListing(await filesOf('stats', 'alice')))).toEqual(['week2', 'week2/todo.md']);
    // Tables were not selected, so mirror did not touch them.
    expect((await stack.call<TableInfo[]>('GET', `${alice}/tables`, { key: keys.alice })).body.map((t) => t.name).sort()).toEqual(['grades', 'private']);
  });

  it('distributes tables and apps from a named snapshot, and a whole snapshot with --all', async () => {
    await runTask(stack, 'POST', `${master}/snapshots`, { name: 'v1' });
    await importCsv(stack, master, 'grades', 'id,grade\n9,F\n', 'replace'); // after the snapshot: must not travel
    const bob = inst('uni', 'stats', 'bob');
    const picked = await distributeAndWait({ snapshot: 'v1', targets: [target('stats', 'bob')], tables: ['grades'], apps: ['rstudio'] });
    expect(picked.targets![0]).toMatchObject({ status: 'applied', tables: ['grades'], apps: ['rstudio'] });
    expect((await exportCsv(stack, bob, 'grades')).text).toBe('id,grade\n1,A\n2,B\n');
    expect((await stack.call<AppView[]>('GET', `${bob}/apps`, { key: keys.bob })).body.map((a) => a.slug)).toEqual(['rstudio']);

    const whole = await distributeAndWait({ snapshot: 'v1', targets: [target('stats', 'bob')], all: true, strategy: { files: 'mirror' } });
    expect(whole.targets![0]).toMatchObject({ status: 'applied', tables: ['grades', 'roster'], apps: ['jupyter_lab', 'rstudio'] });
    expect(treeListing(await filesOf('stats', 'bob'))).toEqual(treeListing(await filesOf('stats', 'master')));
  });

  it('takes exactly one auto-snapshot of each target before writing it', async () => {
    const task = await distributeAndWait({ targets: [target('stats', 'alice'), target('stats', 'bob')], files: ['/files/week1/data.csv'], auto_snapshot: true });
    for (const who of ['alice', 'bob']) {
      const outcome = task.targets!.find((t) => t.target === `uni/stats/${who}`)!;
      const safety = (await stack.call<SnapshotView[]>('GET', `${inst('uni', 'stats', who)}/snapshots`)).body.filter((s) => s.kind === 'safety');
      expect(safety.map((s) => s.name)).toEqual([outcome.auto_snapshot]);
    }
  });

  it('reaches every student of a group target, and a student who joins later gets it too, once', async () => {
    await stack.call('POST', '/api/v1/orgs/uni/spaces', { body: { slug: 'course', name: 'Course' } });
    await stack.call('POST', '/api/v1/roles', { body: { user_email: 'prof@uni.edu', role: 'space_admin', org_slug: 'uni', space_slug: 'course' } });
    const createStudent = async (slug: string, email: string) => {
      await userWithKey(stack, email);
      const res = await stack.call<TaskStarted>('POST', '/api/v1/orgs/uni/spaces/course/instances', { key: keys.prof, body: { name: slug, slug, student: email } });
      return finishedTask(stack, res.body.task_id, keys.prof);
    };
    await createStudent('s1', 's1@uni.edu');
    await createStudent('s2', 's2@uni.edu');
    await stack.call('POST', '/api/v1/orgs/uni/spaces/course/instances', { key: keys.prof, body: { name: 'staff', slug: 'staff' } }); // not a student
    const course = { org_slug: 'uni', space_slug: 'course', group: 'students' };

    const task = await distributeAndWait({ targets: [course], files: ['/files/week1'], notify: true, message: 'Welcome to the course!' });
    expect(task.status).toBe('COMPLETED');
    expect(task.targets!.map((t) => t.target)).toEqual(['uni/course/s1', 'uni/course/s2']);
    expect(task.targets!.map((t) => t.mails)).toEqual([1, 1]);

    const late = await createStudent('s3', 's3@uni.edu');
    expect(late.status).toBe('COMPLETED');
    expect((late.result as { group_distributions: unknown[] }).group_distributions).toEqual([{ task_id: task.task_id, status: 'applied', reason: null }]);
    expect(treeListing(await filesOf('course', 's3'))).toEqual(treeListing(await filesOf('course', 's1')));
    expect((await auditOf('distribution.applied', task.task_id)).map((e) => e.subject).sort()).toEqual([
      'instance:uni/course/s1',
      'instance:uni/course/s2',
      'instance:uni/course/s3',
    ]);
    // No SMTP_URL here: each student's mail is an .eml in the outbox folder, with the message.
    const mails = readdirSync(join(stack.dataDir, 'outbox')).map((f) => readFileSync(join(stack.dataDir, 'outbox', f), 'utf8'));
    for (const who of ['s1', 's2', 's3']) {
      const mine = mails.filter((m) => m.includes(`To: ${who}@uni.edu`));
      expect(mine).toHaveLength(1);
      expect(mine[0]).toContain('Welcome to the course!');
      expect(mine[0]).toContain('/files/week1');
    }
    const listed = (await stack.call<InstanceView[]>('GET', '/api/v1/orgs/uni/spaces/course/instances', { key: keys.prof })).body;
    expect(listed.map((i) => [i.slug, i.group, i.owner])).toEqual([
      ['s1', 'students', 's1@uni.edu'],
      ['s2', 'students', 's2@uni.edu'],
      ['s3', 'students', 's3@uni.edu'],
      ['staff', null, null],
    ]);
  });

  it('retries a failing target, reports it as failed with the reason, and still completes the others', async () => {
    const bobFiles = await filesOf('stats', 'bob');
    rmSync(bobFiles, { recursive: true, force: true });
    writeFileSync(bobFiles, 'not a folder'); // every write into bob's tree now fails
    try {
      const task = await distributeAndWait({ targets: [target('stats', 'bob'), target('stats', 'alice')], files: ['/files/week2/todo.md'] });
      expect(task.status).toBe('FAILED');
      expect(task.error).toMatch(/1 of 2 targets failed: uni\/stats\/bob \(/);
      expect(task.targets).toEqual([
        expect.objectContaining({ target: 'uni/stats/bob', status: 'failed', reason: expect.stringMatching(/\S/) }),
        expect.objectContaining({ target: 'uni/stats/alice', status: 'applied' }),
      ]);
      expect(await auditOf('distribution.applied', task.task_id)).toHaveLength(1);
      expect(await auditOf('distribution.failed', task.task_id)).toHaveLength(1);
    } finally {
      rmSync(bobFiles, { force: true });
    }
  }, 60_000);

  describe('authorization is checked before anything runs', () => {
    it('needs viewer on the source', async () => {
      const res = await expectUnchanged(() => distribute({ targets: [target('stats', 'bob')], files: ['/files/week1'] }, keys.bob));
      expect(res.status).toBe(403);
      expect(res.body.error.message).toMatch(/instance_viewer.*uni\/stats\/master/);
    });

    it('needs editor on every target, and names each target that lacks it', async () => {
      const res = await expectUnchanged(() => distribute({ targets: [target('stats', 'alice'), target('bio', 'lab'), target('stats', 'bob')], files: ['/files/week1'] }, keys.tim));
      expect(res.status).toBe(403);
      expect(res.body.error.message).toMatch(/lacks it on uni\/stats\/alice, uni\/bio\/lab, uni\/stats\/bob$/);
      const prof = await expectUnchanged(() => distribute({ targets: [target('stats', 'alice'), target('bio', 'lab')], files: ['/files/week1'] }));
      expect(prof.status).toBe(403);
      expect(prof.body.error.message).toMatch(/lacks it on uni\/bio\/lab$/);
    });

    it('needs space admin for a group target', async () => {
      const res = await expectUnchanged(() => distribute({ targets: [{ org_slug: 'uni', space_slug: 'bio', group: 'students' }], files: ['/files/week1'] }));
      expect(res.status).toBe(403);
      expect(res.body.error.message).toMatch(/uni\/bio \(group students\) needs space_admin/);
    });
  });

  describe('bad input: a clear error, and nothing is distributed', () => {
    const bob = [target('stats', 'bob')];
    it.each([
      ['a target missing a field', { targets: [{ org_slug: 'uni', space_slug: 'stats' }], files: ['/files/week1'] }, 400, /each target is/],
      ['a target with a bad slug', { targets: [{ ...target('stats', 'bob'), instance_slug: '../x' }], files: ['/files/week1'] }, 400, /targets\.0\.instance_slug: a slug is/],
      ['no targets', { targets: [], files: ['/files/week1'] }, 400, /at least one target/],
      ['an unknown target', { targets: [target('stats', 'nobody'), target('nope', 'x')], files: ['/files/week1'] }, 404, /targets uni\/stats\/nobody, uni\/nope\/x not found/],
      ['a duplicate target', { targets: [target('stats', 'bob'), target('stats', 'bob')], files: ['/files/week1'] }, 400, /uni\/stats\/bob is listed twice/],
      ['the source among the targets with mirror', { targets: [MASTER], files: ['/files/week1'], strategy: { files: 'mirror' } }, 400, /the source uni\/stats\/master is among the targets and a strategy is "mirror"/],
      ['an empty selection', { targets: bob }, 400, /nothing to distribute/],
      ['empty lists', { targets: bob, files: [], tables: [] }, 400, /nothing to distribute/],
      ['--all with a selection', { targets: bob, all: true, files: ['/files/week1'] }, 400, /--all distributes the whole snapshot/],
      ['a path not in the source', { targets: bob, files: ['/files/nope.txt'] }, 400, /\/files\/nope.txt is not in uni\/stats\/master/],
      ['a table not in the source', { targets: bob, tables: ['nope'] }, 400, /table "nope" is not in/],
      ['an app not in the source', { targets: bob, apps: ['nope'] }, 400, /app "nope" is not in/],
      ['a path not in the snapshot', { snapshot: 'v1', targets: bob, files: ['/files/nope.txt'] }, 400, /\/files\/nope.txt is not in snapshot "v1"/],
      ['an unknown snapshot', { snapshot: 'v9', targets: bob, files: ['/files/week1'] }, 404, /snapshot "v9"/],
      ['an unknown strategy', { targets: bob, files: ['/files/week1'], strategy: { files: 'replace' } }, 400, /strategy/],
      ['an unknown kind', { targets: bob, files: ['/files/week1'], strategy: { notebooks: 'skip' } }, 400, /notebooks/],
      ['a message over the limit', { targets: bob, files: ['/files/week1'], message: 'x'.repeat(10_001) }, 400, /longer than 10000 characters/],
      ['path traversal in files', { targets: bob, files: ['/files/../../etc/passwd'] }, 400, /\.\./],
      ['a path outside /files', { targets: bob, files: ['/etc/passwd'] }, 400, /\/files/],
      ['a file named twice', { targets: bob, files: ['/files/week1', '/files/week1'] }, 400, /names "\/files\/week1" twice/],
    ])('%s', async (_name, body, status, message) => {
      const res = await expectUnchanged(() => distribute(body));
      expect(res.status).toBe(status);
      expect(res.body.error.message).toMatch(message);
    });
  });
});
