import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AssignmentView, AuditEvent, GradeRow, HandinReceipt, StudentStatusRow } from '../../src/domain';
import { waitFor } from '../helpers/wait';
import { tempDir } from '../helpers/catalog';
import { expectCliError, handoutJson, handoutOk, runHandout, startHandoutUp, type RunningUp } from '../helpers/cli';
import { freePort } from '../helpers/ports';
import { testTemporalAddress, uniqueTaskQueue } from '../helpers/temporal';

/** An instructor runs a whole assignment with the real `handout` binary against `handout up`. */
describe('an assignment from the CLI', () => {
  let up: RunningUp;
  let dataDir: string;
  let work: string;
  let admin: NodeJS.ProcessEnv;
  const as: Record<string, NodeJS.ProcessEnv> = {};
  const ctx = ['-o', 'uni', '-s', 'stats'];

  const keyFor = async (email: string) => {
    const out = await handoutJson<{ api_key: string }[]>(['keys', 'create', '--user', email], admin);
    return { ...admin, HANDOUT_API_KEY: out[0]!.api_key };
  };

  beforeAll(async () => {
    dataDir = tempDir('assign-cli');
    work = tempDir('assign-cli-work');
    up = await startHandoutUp({ HANDOUT_DATA_DIR: dataDir, HANDOUT_PORT: String(await freePort()), TEMPORAL_ADDRESS: testTemporalAddress(), HANDOUT_TASK_QUEUE: uniqueTaskQueue('assign-cli') });
    admin = { HOME: tempDir('assign-cli-home'), HANDOUT_API_URL: up.apiUrl, HANDOUT_API_KEY: up.bootstrapKey! };
    await handoutOk(['orgs', 'create', '--slug', 'uni'], admin);
    await handoutOk(['spaces', 'create', '-o', 'uni', '--slug', 'stats'], admin);
    await handoutOk(['users', 'create', '--email', 'prof@uni.edu', '-n', 'Prof'], admin);
    await handoutOk(['roles', 'grant', '--user', 'prof@uni.edu', '--role', 'space_admin', ...ctx], admin);
    as.prof = await keyFor('prof@uni.edu');
    await handoutOk(['instances', 'create', ...ctx, '-n', 'master', '-w'], as.prof);
    for (const s of ['ada', 'bob', 'cy']) {
      await handoutOk(['users', 'create', '--email', `${s}@uni.edu`, '-n', s], admin);
      await handoutOk(['instances', 'create', ...ctx, '-n', s, '--student', `${s}@uni.edu`, '-w'], as.prof);
      as[s] = await keyFor(`${s}@uni.edu`);
    }
    writeFileSync(join(work, 'sheet.md'), '# Sheet 1\n');
    writeFileSync(join(work, 'answers.md'), 'TODO\n');
    await handoutOk(['files', 'put', join(work, 'sheet.md'), '/files/week1/sheet.md', ...ctx, '-i', 'master'], as.prof);
    await handoutOk(['files', 'put', join(work, 'answers.md'), '/files/week1/answers.md', ...ctx, '-i', 'master'], as.prof);
  }, 180_000);
  afterAll(async () => {
    await up?.stop('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it('create → release → hand-ins → extension → collection → feedback → hand-back → grid → grades → audit story', async () => {
    const due = new Date(Date.now() + 20_000).toISOString();
    const [created] = await handoutJson<AssignmentView[]>(
      ['assignments', 'create', ...ctx, '-i', 'master', '-n', 'Week 1', '--slug', 'week1', '--files', '/files/week1', '--handin', '/files/week1/answers.md', '--targets', 'group', '--due-at', due, '--timezone', 'Europe/Zurich', '--size-limit', '1MB', '--wait'],
      as.prof,
    );
    expect(created).toMatchObject({ slug: 'week1', status: 'released', due_at_utc: due, size_limit_bytes: 1_000_000 });

    writeFileSync(join(work, 'ada.md'), 'Ada: 42\n');
    await handoutOk(['files', 'put', join(work, 'ada.md'), '/files/week1/answers.md', ...ctx, '-i', 'ada'], as.ada);
    const [receipt] = await handoutJson<HandinReceipt[]>(['handin', 'submit', 'week1', ...ctx, '--identifier', 'final'], as.ada!);
    expect(receipt).toMatchObject({ version: 1, student: 'ada@uni.edu', late: false, identifier: 'final' });
    const tabulated = await handoutOk(['handin', 'submit', 'week1', ...ctx], as.ada!);
    expect(tabulated).toMatch(/version\s+2/);
    expect(tabulated).toContain(receipt!.sha256);
    expectCliError(await runHandout(['handin', 'list', 'week1', ...ctx, '--student', 'bob'], as.ada!), /only for their own instance/);
    expectCliError(await runHandout(['assignments', 'status', 'week1', ...ctx], as.ada!), /space_admin/);
    await handoutOk(['assignments', 'extend', 'week1', ...ctx, '--student', 'bob@uni.edu', '--until', new Date(Date.now() + 600_000).toISOString()], as.prof);

    // After the deadline: cy (no extension, no hand-in) is collected; bob may still hand in; ada may not.
    await waitFor(async () => (await handoutJson<StudentStatusRow[]>(['assignments', 'status', 'week1', ...ctx], as.prof)).some((r) => r.instance === 'cy' && r.state === 'auto-collected'), { timeoutMs: 90_000, everyMs: 500 });
    expectCliError(await runHandout(['handin', 'submit', 'week1', ...ctx], as.ada!), /hand-in is closed/);
    expect((await handoutJson<HandinReceipt[]>(['handin', 'submit', 'week1', ...ctx], as.bob!))[0]).toMatchObject({ version: 1, late: false });

    writeFileSync(join(work, 'notes.md'), 'See line 3.\n');
    await handoutOk(['feedback', 'put', 'week1', ...ctx, '--student', 'ada', '--grade', 'A', '--comment', 'Excellent', '--files', join(work, 'notes.md')], as.prof);
    await handoutOk(['feedback', 'release', 'week1', ...ctx, '--student', 'ada', '--wait'], as.prof);
    expect(await handoutOk(['files', 'list', '--path', '/files/handback/week1/2', ...ctx, '-i', 'ada'], as.ada!)).toMatch(/FEEDBACK\.md[\s\S]*notes\.md/);
    await handoutOk(['files', 'get', '/files/handback/week1/2/notes.md', join(work, 'got.md'), ...ctx, '-i', 'ada'], as.ada!);
    expect(readFileSync(join(work, 'got.md'), 'utf8')).toBe('See line 3.\n');

    const grid = await handoutJson<StudentStatusRow[]>(['assignments', 'status', 'week1', ...ctx], as.prof);
    expect(grid.map((r) => [r.instance, r.state, r.latest_version])).toEqual([
      ['ada', 'feedback released', 2],
      ['bob', 'handed in', 1],
      ['cy', 'auto-collected', 1],
    ]);
    const csv = await handoutOk(['grades', 'export', 'week1', ...ctx], as.prof);
    expect(csv.split('\n')[0]).toBe('student,instance,graded_version,handed_in_at,late,auto_collected,sha256,grade,comment,feedback_version,feedback_released');
    expect(csv).toMatch(/^ada@uni\.edu,ada,2,.*,A,Excellent,1,true$/m);
    const grades = await handoutJson<GradeRow[]>(['grades', 'export', 'week1', ...ctx], as.prof);
    expect(grades.map((g) => [g.instance, g.graded_version, g.grade])).toEqual([
      ['ada', 2, 'A'],
      ['bob', 1, null],
      ['cy', 1, null],
    ]);

    const story = await handoutJson<AuditEvent[]>(['audit', 'list', '--subject', 'assignment:uni/stats/week1'], as.prof);
    const actions = story.map((e) => e.action);
    for (const a of ['assignment.created', 'assignment.released', 'handin.submitted', 'handin.refused', 'assignment.extended', 'handin.auto_collected', 'handin.rejected', 'feedback.stored', 'feedback.released']) expect(actions).toContain(a);
    await handoutOk(['assignments', 'cancel', 'week1', ...ctx], as.prof);
    expect((await handoutJson<AssignmentView[]>(['assignments', 'get', 'week1', ...ctx], as.prof))[0]!.status).toBe('cancelled');
  }, 180_000);
});

