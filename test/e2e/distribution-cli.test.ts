import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppView, AuditEvent, SnapshotView, TaskView } from '../../src/domain';
import type { FileEntry } from '../../src/domain/files';
import { tempDir } from '../helpers/catalog';
import { expectCliError, handoutJson, handoutOk, runHandout, runShell, startHandoutUp, type RunningUp } from '../helpers/cli';
import { freePort } from '../helpers/ports';
import { testTemporalAddress, uniqueTaskQueue } from '../helpers/temporal';

// The command as npm links it (the launcher, which runs bin/handout.js).
const BIN = join(__dirname, '..', '..', 'bin', 'handout');

/** The four examples of the platform's distribution documentation, with `nuvolos` replaced by `handout`. */
const EXAMPLES = [
  `handout distribution distribute \\
    -o my_org -s my_space -i my_instance \\
    --targets '[{"org_slug": "my_org", "space_slug": "target_space", "instance_slug": "target_instance"}]' \\
    --files "/files/results/report.csv"`,
  `handout distribution distribute \\
    -o my_org -s my_space -i my_instance \\
    --targets '[{"org_slug": "my_org", "space_slug": "class_space", "instance_slug": "student_001"}, {"org_slug": "my_org", "space_slug": "class_space", "instance_slug": "student_002"}]' \\
    --apps "jupyter_lab,rstudio"`,
  `handout distribution distribute \\
    -o my_org -s my_space -i my_instance -p my_snapshot \\
    --targets '[{"org_slug": "my_org", "space_slug": "target_space", "instance_slug": "target_instance"}]' \\
    --files "/files/data/dataset.csv" \\
    --tables "results,summary" \\
    --notify --message "New dataset and results are available." --wait`,
  `handout distribution distribute \\
    -o my_org -s my_space -i my_instance \\
    --targets '[{"org_slug": "my_org", "space_slug": "target_space", "instance_slug": "target_instance"}]' \\
    --files "/files/config/settings.yaml" \\
    --auto-snapshot --wait`,
];

describe('distribution with the handout CLI, as the platform documents it', () => {
  let up: RunningUp;
  let dataDir: string;
  let work: string;
  let binDir: string;
  let env: NodeJS.ProcessEnv;
  const api = async <T>(path: string) => (await (await fetch(`${up.apiUrl}/api/v1${path}`, { headers: { authorization: `Bearer ${up.bootstrapKey}` } })).json()) as T;
  const target = (space: string, instance: string) => `/orgs/my_org/spaces/${space}/instances/${instance}`;

  beforeAll(async () => {
    dataDir = tempDir('dist-cli');
    work = tempDir('dist-cli-work');
    binDir = tempDir('dist-cli-bin');
    symlinkSync(BIN, join(binDir, 'handout'));
    up = await startHandoutUp({ HANDOUT_DATA_DIR: dataDir, HANDOUT_PORT: String(await freePort()), TEMPORAL_ADDRESS: testTemporalAddress(), HANDOUT_TASK_QUEUE: uniqueTaskQueue('dist-cli') });
    env = { HOME: tempDir('dist-cli-home'), HANDOUT_API_URL: up.apiUrl, HANDOUT_API_KEY: up.bootstrapKey! };
    await handoutOk(['orgs', 'create', '--slug', 'my_org'], env);
    for (const space of ['my_space', 'target_space', 'class_space']) await handoutOk(['spaces', 'create', '-o', 'my_org', '--slug', space], env);
    await handoutOk(['instances', 'create', '-o', 'my_org', '-s', 'my_space', '-n', 'my_instance', '-w'], env);
    await handoutOk(['instances', 'create', '-o', 'my_org', '-s', 'target_space', '-n', 'target_instance', '-w'], env);
    for (const s of ['student_001', 'student_002']) {
      await handoutOk(['users', 'create', '--email', `${s}@uni.edu`, '-n', s], env);
      await handoutOk(['instances', 'create', '-o', 'my_org', '-s', 'class_space', '-n', s, '--student', `${s}@uni.edu`, '-w'], env);
    }
    await handoutOk(['users', 'create', '--email', 'target@uni.edu', '-n', 'Target Owner'], env);
    await handoutOk(['roles', 'grant', '--user', 'target@uni.edu', '--role', 'instance_editor', '-o', 'my_org', '-s', 'target_space', '-i', 'target_instance'], env);

    const src = { org: ['-o', 'my_org', '-s', 'my_space', '-i', 'my_instance'] };
    for (const [path, text] of [
      ['results/report.csv', 'id,score\n1,10\n'],
      ['data/dataset.csv', 'a,b\n1,2\n3,4\n'],
      ['config/settings.yaml', 'seed: 42\n'],
    ]) {
      mkdirSync(join(work, path, '..'), { recursive: true });
      writeFileSync(join(work, path), text);
      await handoutOk(['files', 'put', join(work, path), `/files/${path}`, ...src.org], env);
    }
    writeFileSync(join(work, 'results.csv'), 'id,value\n1,0.5\n');
    writeFileSync(join(work, 'summary.csv'), 'metric,value\nmean,0.5\n');
    await handoutOk(['tables', 'import', 'results', join(work, 'results.csv'), ...src.org], env);
    await handoutOk(['tables', 'import', 'summary', join(work, 'summary.csv'), ...src.org], env);
    await handoutOk(['apps', 'create', '--slug', 'jupyter_lab', '-n', 'JupyterLab', '--base-image', 'jupyter/scipy:2026', ...src.org], env);
    await handoutOk(['apps', 'create', '--slug', 'rstudio', '-n', 'RStudio', '--base-image', 'rocker/rstudio:4', ...src.org], env);
    await handoutOk(['snapshots', 'create', '-n', 'my_snapshot', '--wait', ...src.org], env);
  }, 120_000);
  afterAll(async () => {
    await up?.stop('SIGTERM');
    for (const dir of [dataDir, work, binDir]) rmSync(dir, { recursive: true, force: true });
  });

  it('runs the four documented examples verbatim', async () => {
    // 1: a single file to one target; without --wait it prints the task, which `tasks get --wait` follows.
    const first = await runShell(EXAMPLES[0]!, env, binDir);
    expect(first.code).toBe(0);
    const taskId = /task_id\s+(\S+)/.exec(first.stdout)![1]!;
    const followed = await runHandout(['tasks', 'get', taskId, '--wait'], env);
    expect(followed.code).toBe(0);
    expect(followed.stdout).toMatch(/status\s+COMPLETED/);
    expect(followed.stdout).toMatch(/my_org\/target_space\/target_instance\s+applied\s+1\s+0/);
    expect(followed.stderr).toMatch(/COMPLETED \(1\/1\)/); // plain progress lines when not on a terminal

    // 2: two applications to two students.
    const second = await runShell(EXAMPLES[1]!, env, binDir);
    expect(second.code).toBe(0);
    const secondId = /task_id\s+(\S+)/.exec(second.stdout)![1]!;
    expect((await runHandout(['tasks', 'get', secondId, '--wait'], env)).code).toBe(0);
    for (const s of ['student_001', 'student_002']) {
      expect((await api<AppView[]>(`${target('class_space', s)}/apps`)).map((a) => a.slug)).toEqual(['jupyter_lab', 'rstudio']);
    }

    // 3: a file and two tables from a snapshot, with a notification, waiting.
    const third = await runShell(EXAMPLES[2]!, env, binDir);
    expect(third.code).toBe(0);
    expect(third.stdout).toMatch(/my_org\/target_space\/target_instance\s+applied\s+1\s+0\s+results,summary/);
    const mails = readdirSync(join(dataDir, 'outbox')).map((f) => readFileSync(join(dataDir, 'outbox', f), 'utf8'));
    expect(mails).toHaveLength(1);
    expect(mails[0]).toContain('To: target@uni.edu');
    expect(mails[0]).toContain('New dataset and results are available.');

    // 4: with a safety snapshot of the target first.
    const fourth = await runShell(EXAMPLES[3]!, env, binDir);
    expect(fourth.code).toBe(0);
    const safety = (await api<SnapshotView[]>(`${target('target_space', 'target_instance')}/snapshots`)).filter((s) => s.kind === 'safety');
    expect(safety).toHaveLength(1);
    expect(fourth.stdout).toContain(safety[0]!.name);

    const files = await api<FileEntry[]>(`${target('target_space', 'target_instance')}/files?recursive=true`);
    expect(files.filter((f) => f.type === 'file').map((f) => f.path)).toEqual(['/files/config/settings.yaml', '/files/data/dataset.csv', '/files/results/report.csv']);
    expect((await runHandout(['files', 'get', '/files/data/dataset.csv', join(work, 'got.csv'), '-o', 'my_org', '-s', 'target_space', '-i', 'target_instance'], env)).code).toBe(0);
    expect(readFileSync(join(work, 'got.csv'), 'utf8')).toBe('a,b\n1,2\n3,4\n');
  }, 120_000);

  it('takes --strategy, --all and a group target, and -f json prints the task with every target', async () => {
    const [task] = await handoutJson<TaskView[]>(
      ['distribution', 'distribute', '-o', 'my_org', '-s', 'my_space', '-i', 'my_instance', '-p', 'my_snapshot', '--all', '--strategy', 'files=mirror,apps=skip', '--targets', '[{"org_slug":"my_org","space_slug":"class_space","group":"students"}]', '--no-notify', '--no-auto-snapshot', '-w'],
      env,
    );
    expect(task!.status).toBe('COMPLETED');
    expect(task!.targets!.map((t) => [t.target, t.status, t.tables])).toEqual([
      ['my_org/class_space/student_001', 'applied', ['results', 'summary']],
      ['my_org/class_space/student_002', 'applied', ['results', 'summary']],
    ]);
  }, 60_000);

  it('refuses bad input with one line on stderr, exit 1, and distributes nothing', async () => {
    const before = { tasks: await api<TaskView[]>('/tasks?limit=1000'), audit: await api<AuditEvent[]>('/audit?limit=1000') };
    const base = ['distribution', 'distribute', '-o', 'my_org', '-s', 'my_space', '-i', 'my_instance'];
    const one = '[{"org_slug":"my_org","space_slug":"target_space","instance_slug":"target_instance"}]';
    expectCliError(await runHandout([...base, '--targets', '[{"org_slug": "my_org",', '--files', '/files/data'], env), /--targets is not valid JSON/);
    expectCliError(await runHandout([...base, '--targets', '[{"org_slug":"my_org","space_slug":"target_space"}]', '--files', '/files/data'], env), /target 1 .* each target is/);
    expectCliError(await runHandout([...base, '--targets', one, '--files', '/files/data', '--strategy', 'files=replace'], env), /unknown strategy "replace" for files/);
    expectCliError(await runHandout([...base, '--targets', one, '--files', '/files/data', '--strategy', 'notebooks=skip'], env), /unknown kind "notebooks"/);
    expectCliError(await runHandout([...base, '--targets', one, '--files', '/files/../etc'], env), /\.\./);
    expectCliError(await runHandout([...base, '--targets', one], env), /nothing to distribute/);
    expectCliError(await runHandout([...base, '--targets', one, '--files', '/files/data', '-f', 'csv'], env), /csv/);
    expect({ tasks: await api<TaskView[]>('/tasks?limit=1000'), audit: await api<AuditEvent[]>('/audit?limit=1000') }).toEqual(before);
  }, 60_000);
});
