import { simpleParser } from 'mailparser';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppView, SnapshotView, TableInfo, TaskView } from '../../src/domain';
import type { FileEntry } from '../../src/domain/files';
import { tempDir } from '../helpers/catalog';
import { expectCliError, handoutJson, handoutOk, runHandout, runShell, startHandoutUp, type RunningUp } from '../helpers/cli';
import { freePort } from '../helpers/ports';
import { testTemporalAddress, uniqueTaskQueue } from '../helpers/temporal';
import { treeListing } from '../helpers/unchanged';
import { waitFor } from '../helpers/wait';

/** Files, tables, apps and snapshots through the real binary, as a user of the platform's CLI types them. */
describe('content and snapshots with the handout CLI', () => {
  let up: RunningUp;
  let dataDir: string;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let binDir: string;

  beforeAll(async () => {
    dataDir = tempDir('content-cli');
    work = tempDir('content-cli-work');
    binDir = tempDir('content-cli-bin');
    symlinkSync(join(__dirname, '..', '..', 'bin', 'handout'), join(binDir, 'handout'));
    up = await startHandoutUp({ HANDOUT_DATA_DIR: dataDir, HANDOUT_PORT: String(await freePort()), TEMPORAL_ADDRESS: testTemporalAddress(), HANDOUT_TASK_QUEUE: uniqueTaskQueue('content-cli') });
    env = { HOME: tempDir('content-cli-home'), HANDOUT_API_URL: up.apiUrl, HANDOUT_API_KEY: up.bootstrapKey!, HANDOUT_CONTEXT: '{"org_slug":"my_org","space_slug":"my_space","instance_slug":"my_instance"}' };
    await handoutOk(['orgs', 'create', '--slug', 'my_org'], env);
    await handoutOk(['spaces', 'create', '-o', 'my_org', '--slug', 'my_space'], env);
    await handoutOk(['instances', 'create', '-o', 'my_org', '-s', 'my_space', '-n', 'My Instance', '--slug', 'my_instance', '-w'], env);
    await handoutOk(['instances', 'create', '-o', 'my_org', '-s', 'my_space', '-n', 'Empty', '--slug', 'empty', '-w'], env);
  });
  afterAll(async () => {
    await up?.stop('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  /** What the instance holds, read straight from the API (what `files list -r`, `tables list`… show). */
  const visible = async () => {
    const get = async <T>(path: string) =>
      (await (await fetch(`${up.apiUrl}/api/v1/orgs/my_org/spaces/my_space/instances/my_instance${path}`, { headers: { authorization: `Bearer ${up.bootstrapKey}` } })).json()) as T;
    return {
      files: await get<FileEntry[]>('/files?recursive=true'),
      tables: await get<TableInfo[]>('/tables'),
      apps: await get<AppView[]>('/apps'),
      snapshots: await get<SnapshotView[]>('/snapshots'),
      audit: ((await (await fetch(`${up.apiUrl}/api/v1/audit`, { headers: { authorization: `Bearer ${up.bootstrapKey}` } })).json()) as unknown[]).length,
    };
  };

  it('snapshot → change → restore gives back the exact bytes and rows; partial and cross-instance restores work', async () => {
    const src = join(work, 'course');
    mkdirSync(join(src, 'data'), { recursive: true });
    writeFileSync(join(src, 'README.md'), '# Course\n');
    writeFileSync(join(src, 'data', 'dataset.csv'), 'a,b\n1,2\n');
    writeFileSync(join(src, 'data', 'blob.bin'), Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 31) % 256)));
    await handoutOk(['files', 'put', src, '/files/course'], env);
    writeFileSync(join(work, 'results.csv'), 'id,score\n1,10\n2,20\n');
    await handoutOk(['tables', 'import', 'results', join(work, 'results.csv')], env);
    // No --slug: derived from the name, as the platform does.
    expect(await handoutJson<AppView[]>(['apps', 'create', '-n', 'Jupyter Lab', '--base-image', 'jupyter/scipy:2026', '--package', 'pandas'], env)).toMatchObject([{ slug: 'jupyter_lab', name: 'Jupyter Lab' }]);
    const [snap] = await handoutJson<TaskView[]>(['snapshots', 'create', '-n', 'week1', '-d', 'handed out', '-e', '--wait'], env);
    expect(snap!.status).toBe('COMPLETED');
    // -e: the creator's mail, in the outbox folder here (no mail server is configured), once its own workflow ran.
    const outbox = join(dataDir, 'outbox');
    // Only `<id>.eml` names are mails: each is written under a dot-named temp file first, then linked.
    const mails = () => (existsSync(outbox) ? readdirSync(outbox).filter((f) => f.endsWith('.eml')) : []);
    await waitFor(() => mails().length > 0);
    expect(mails()).toHaveLength(1);
    const mail = await simpleParser(readFileSync(join(outbox, mails()[0]!)));
    expect([mail.to && !Array.isArray(mail.to) ? mail.to.text : mail.to, mail.subject]).toEqual(['admin@handout.local', 'Snapshot "week1" of my_org/my_space/my_instance is ready']);
    expect(mail.text).toContain('Files: 3 files, 50017 bytes');
    const original = await visible();

    await handoutOk(['files', 'rm', '/files/course/data/blob.bin'], env);
    writeFileSync(join(work, 'other.md'), 'changed');
    await handoutOk(['files', 'put', join(work, 'other.md'), '/files/course/README.md'], env);
    writeFileSync(join(work, 'results2.csv'), 'id,score\n7,70\n');
    await handoutOk(['tables', 'import', 'results', join(work, 'results2.csv'), '--mode', 'replace'], env);
    await handoutOk(['apps', 'delete', 'jupyter_lab'], env);

    await handoutOk(['snapshots', 'restore', '-p', 'week1', '--wait'], env);
    const restored = await visible();
    expect(restored.files.map((f) => [f.path, f.type, f.size])).toEqual(original.files.map((f) => [f.path, f.type, f.size]));
    expect(restored.tables).toEqual(original.tables);
    expect(restored.apps.map((a) => a.slug)).toEqual(['jupyter_lab']);
    // --path inside the area, as the platform's CLI takes it, lists the same as the full path.
    expect(await handoutJson<FileEntry[]>(['files', 'list', '--path', 'course/data', '-r'], env)).toEqual(await handoutJson<FileEntry[]>(['files', 'list', '--path', '/files/course/data', '-r'], env));
    expect(await handoutJson<FileEntry[]>(['files', 'list', '--path', '.'], env)).toEqual(await handoutJson<FileEntry[]>(['files', 'list'], env));
    const out = join(work, 'got');
    await handoutOk(['files', 'get', '/files/course', out], env);
    expect(treeListing(out)).toEqual(treeListing(src));
    await handoutOk(['tables', 'export', 'results', join(work, 'results-out.csv')], env);
    expect(readFileSync(join(work, 'results-out.csv'), 'utf8')).toBe('id,score\n1,10\n2,20\n');

    // Snapshot contents are readable with -p, and the safety snapshot kept the changed state.
    const safety = (await handoutJson<SnapshotView[]>(['snapshots', 'list'], env)).find((s) => s.kind === 'safety')!;
    await handoutOk(['files', 'get', '/files/course/README.md', join(work, 'safety-readme.md'), '-p', safety.name], env);
    expect(readFileSync(join(work, 'safety-readme.md'), 'utf8')).toBe('changed');
    await handoutOk(['tables', 'export', 'results', join(work, 'week1.parquet'), '-p', 'week1'], env);
    expect(readFileSync(join(work, 'week1.parquet')).subarray(0, 4).toString()).toBe('PAR1');
    expect(await handoutOk(['tables', 'ddl', 'results', '-p', 'week1'], env)).toMatch(/CREATE TABLE results/);

    // Partial restore into another instance.
    await handoutOk(['snapshots', 'restore', '-p', 'week1', '--target-org', 'my_org', '--target-space', 'my_space', '--target-instance', 'empty', '--files', '/files/course/data', '--tables', 'results', '-w'], env);
    const emptyEnv = { ...env, HANDOUT_CONTEXT: '{"org_slug":"my_org","space_slug":"my_space","instance_slug":"empty"}' };
    expect((await handoutJson<FileEntry[]>(['files', 'list', '-r'], emptyEnv)).map((f) => f.path)).toEqual(['/files/course', '/files/course/data', '/files/course/data/blob.bin', '/files/course/data/dataset.csv']);
    expect((await handoutJson<TableInfo[]>(['tables', 'list'], emptyEnv)).map((t) => t.name)).toEqual(['results']);
    expect(await handoutJson<AppView[]>(['apps', 'list'], emptyEnv)).toEqual([]);
  });

  it('- is standard input and output: files and tables stream through a shell pipe, a snapshot\'s too', async () => {
    const sh = async (commandLine: string) => {
      const result = await runShell(`set -o pipefail; ${commandLine}`, env, binDir);
      if (result.code !== 0) throw new Error(`${commandLine} exited ${result.code}: ${result.stderr}`);
      return result.stdout;
    };
    await sh("printf 'from stdin\\n' | handout files put - /files/notes/stdin.txt");
    expect(await sh('handout files get /files/notes/stdin.txt -')).toBe('from stdin\n');
    // Bytes, not text: 300 KB of every byte value, read back through a pipe into sha256sum.
    const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7 + (i >> 8)) % 256));
    writeFileSync(join(work, 'bytes.bin'), bytes);
    await sh(`handout files put - /files/notes/bytes.bin < '${join(work, 'bytes.bin')}'`);
    expect((await sh('handout files get /files/notes/bytes.bin - | sha256sum')).split(' ')[0]).toBe(createHash('sha256').update(bytes).digest('hex'));
    // A reader that stops early ends the download quietly (exit 0 under pipefail), as for cat.
    expect((await sh('handout files get /files/notes/bytes.bin - | head -c 10 | wc -c')).trim()).toBe('10');
    // A snapshot's file, from -p.
    expect(await sh('handout files get /files/course/README.md - -p week1')).toBe('# Course\n');

    await sh("printf 'id,v\\n1,a\\n2,b\\n' | handout tables import piped - --file-format csv");
    expect(await sh('handout tables export piped - --file-format csv')).toBe('id,v\n1,a\n2,b\n');
    expect(await sh('handout tables export results - --file-format csv -p week1')).toBe('id,score\n1,10\n2,20\n');
    expect((await handoutJson<TableInfo[]>(['tables', 'list'], env)).find((t) => t.name === 'piped')?.row_count).toBe(2);
    // The platform's spelling of a table rename.
    await handoutOk(['tables', 'rename', 'piped', '--new-slug', 'piped_csv'], env);
    expect((await handoutJson<TableInfo[]>(['tables', 'list'], env)).map((t) => t.name)).toEqual(['piped_csv', 'results']);
  });

  it('a symbolic link is not written to standard output, and stays as it is', async () => {
    // Links are made inside the instance (by its apps), not through the API: one is put there directly.
    const filesDir = readdirSync(join(dataDir, 'instances'))
      .map((id) => join(dataDir, 'instances', id, 'files'))
      .find((dir) => existsSync(join(dir, 'course', 'README.md')))!; // my_instance: the other one only got course/data
    symlinkSync('README.md', join(filesDir, 'course', 'readme-link'));
    const before = await visible();
    const result = await runHandout(['files', 'get', '/files/course/readme-link', '-'], env);
    expectCliError(result, /\/files\/course\/readme-link is a symbolic link \(to README\.md\): standard output \(-\) takes one file/);
    expect(result.stdout).toBe('');
    expect(await visible()).toEqual(before);
    expect(readlinkSync(join(filesDir, 'course', 'readme-link'))).toBe('README.md');
  });

  it('help shows the default of -p once', async () => {
    for (const args of [['files', 'get', '--help'], ['files', 'list', '--help'], ['tables', 'export', '--help'], ['apps', 'list', '--help']]) {
      const help = await handoutOk(args, env);
      expect(help.match(/default: "development"/g)).toHaveLength(1);
      expect(help).toMatch(/-p, --snapshot <name>\s+snapshot to read; development is the current state/);
    }
  });

  describe('bad input: one line on stderr, exit 1, nothing changed', () => {
    let before: unknown;
    beforeEach(async () => {
      before = await visible();
    });
    afterEach(async () => {
      expect(await visible()).toEqual(before);
    });

    it.each([
      ['a path with ..', ['files', 'put', 'LOCAL', '/files/../../etc/x'], /contains a "\." or "\.\." segment/],
      ['a path outside /files', ['files', 'put', 'LOCAL', '/etc/passwd'], /is not under \/files/],
      ['a path inside the area that climbs out of it', ['files', 'list', '--path', '../etc'], /contains a "\." or "\.\." segment/],
      ['a table name that is not an identifier', ['tables', 'import', 'x;drop', 'CSV'], /invalid table name "x;drop"/],
      ['a CSV that does not parse', ['tables', 'import', 'broken', 'BADCSV'], /not valid CSV/],
      ['a duplicate snapshot name', ['snapshots', 'create', '-n', 'week1'], /a snapshot named "week1" already exists/],
      ['an unknown snapshot', ['snapshots', 'restore', '-p', 'nope'], /snapshot "nope" of instance my_org\/my_space\/my_instance not found/],
      ['reading an unknown snapshot', ['files', 'list', '-p', 'nope'], /snapshot "nope"/],
      ['a restore path not in the snapshot', ['snapshots', 'restore', '-p', 'week1', '--files', '/files/ghost'], /\/files\/ghost is not in snapshot "week1"/],
      ['half a target', ['snapshots', 'restore', '-p', 'week1', '--target-org', 'my_org'], /--target-org, --target-space and --target-instance go together/],
      ['a rename without a new name', ['tables', 'rename', 'results'], /give the new table name with --new-name \(or --new-slug\)/],
      ['a rename whose two new names disagree', ['tables', 'rename', 'results', '--new-name', 'a', '--new-slug', 'b'], /--new-name "a" and --new-slug "b" disagree/],
      ['an app without a base image', ['apps', 'create', '-n', 'Lab'], /required option '--base-image <image>' not specified/],
      ['a local file that does not exist', ['files', 'put', '/nonexistent/notes.txt', '/files/notes.txt'], /\/nonexistent\/notes\.txt does not exist/],
      ['a folder to standard output', ['files', 'get', '/files/course', '-'], /\/files\/course is a folder: standard output \(-\) takes one file/],
      ['a table to standard output without a format', ['tables', 'export', 'results', '-'], /cannot tell the format of standard input or output \(-\): pass --file-format/],
      ['a table from standard input without a format', ['tables', 'import', 'fresh', '-'], /cannot tell the format of standard input or output \(-\): pass --file-format/],
    ])('%s', async (_name, args, message) => {
      writeFileSync(join(work, 'local.txt'), 'x');
      writeFileSync(join(work, 'ok.csv'), 'id\n1\n');
      writeFileSync(join(work, 'bad.csv'), 'id,name\n1,"unterminated\n2,x\n');
      const resolved = args.map((a) => (a === 'LOCAL' ? join(work, 'local.txt') : a === 'CSV' ? join(work, 'ok.csv') : a === 'BADCSV' ? join(work, 'bad.csv') : a));
      const result = await runHandout(resolved, env);
      expectCliError(result, message);
      expect(result.stdout).toBe(''); // nothing half-written to standard output either
    });
  });
});
