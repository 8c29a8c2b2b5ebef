import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AppView, TableInfo } from '../../src/domain';
import type { FileEntry } from '../../src/domain/files';
import { instancePaths } from '../../src/store/instance-storage';
import { findInstance, findSpace, findOrg } from '../../src/store/catalog/directory';
import { tempDir } from '../helpers/catalog';
import { downloadBytes, exportCsv, importCsv, inst, upload } from '../helpers/content';
import { course } from '../helpers/fixtures';
import { startTestStack, type TestStack } from '../helpers/services';
import { expectUnchanged as expectStateUnchanged } from '../helpers/unchanged';

type Keys = Awaited<ReturnType<typeof course>>;
type ErrorReply = { error: { code: string; message: string } };

describe('files, tables and apps of an instance through the API', () => {
  let stack: TestStack;
  let keys: Keys;
  const alice = inst('uni', 'stats', 'alice');
  const bob = inst('uni', 'stats', 'bob');
  let aliceFiles: string;

  beforeAll(async () => {
    stack = await startTestStack('content', { HANDOUT_MAX_UPLOAD_BYTES: '100000' });
    keys = await course(stack);
    const db = stack.catalog.db;
    const space = (await findSpace(db, (await findOrg(db, 'uni'))!.id, 'stats'))!;
    aliceFiles = instancePaths(stack.dataDir, (await findInstance(db, space.id, 'alice'))!.id).files;
  });
  afterAll(() => stack?.close());

  const expectUnchanged = <T>(run: () => Promise<T>) => expectStateUnchanged(stack, run);

  it('writes, lists, reads and removes files; each write is whole and audited with its sha256', async () => {
    const put = await upload(stack, alice, '/files/hw/answer.txt', 'forty-two\n', keys.alice);
    expect(put).toMatchObject({ status: 201, body: { path: '/files/hw/answer.txt', size: 10 } });
    expect(readFileSync(join(aliceFiles, 'hw', 'answer.txt'), 'utf8')).toBe('forty-two\n');
    expect(readdirSync(join(aliceFiles, 'hw'))).toEqual(['answer.txt']); // no temp file left behind
    const listed = await stack.call<FileEntry[]>('GET', `${alice}/files?path=/files&recursive=true`, { key: keys.alice });
    expect(listed.body.map((e) => [e.path, e.type, e.size])).toEqual([['/files/hw', 'dir', null], ['/files/hw/answer.txt', 'file', 10]]);
    expect((await downloadBytes(stack, alice, '/files/hw/answer.txt', 'development', keys.alice)).bytes.toString()).toBe('forty-two\n');
    const audit = await stack.call<{ action: string; content_hashes: Record<string, string> }[]>('GET', '/api/v1/audit?action=file.written');
    expect(audit.body.at(-1)!.content_hashes).toEqual({ '/files/hw/answer.txt': put.body.sha256 });
    expect((await stack.call('DELETE', `${alice}/files?path=/files/hw`, { key: keys.alice })).status).toBe(200);
    expect(existsSync(join(aliceFiles, 'hw'))).toBe(false);
  });

  describe('refuses paths outside /files, and changes nothing', () => {
    it.each([
      ['a parent segment', '/files/../../etc/passwd', /contains a "\." or "\.\." segment/],
      ['another absolute path', '/etc/passwd', /is not under \/files/],
      ['a relative path', 'files/x', /is not under \/files/],
      ['a NUL byte', '/files/a\0b', /NUL byte/],
      ['an overlong name', `/files/${'x'.repeat(256)}`, /longer than 255 bytes/],
      ['/files itself', '/files', /name a file below it/],
    ])('%s', async (_name, path, message) => {
      const res = await expectUnchanged(() => upload(stack, alice, path, 'x', keys.alice));
      expect(res.status).toBe(400);
      expect(res.body.error!.message).toMatch(message);
    });

    it('never writes or reads through a symbolic link planted in the tree, even one pointing outside', async () => {
      const outside = tempDir('outside');
      writeFileSync(join(outside, 'secret.txt'), 'do not read');
      symlinkSync(outside, join(aliceFiles, 'escape'));
      symlinkSync(join(outside, 'secret.txt'), join(aliceFiles, 'secret-link'));
      try {
        const write = await expectUnchanged(() => upload(stack, alice, '/files/escape/pwned.txt', 'x', keys.alice));
        expect(write).toMatchObject({ status: 400, body: { error: { message: '/files/escape is a symbolic link; Handout never follows links inside a path' } } });
        expect(readdirSync(outside)).toEqual(['secret.txt']);
        const read = await downloadBytes(stack, alice, '/files/secret-link', 'development', keys.alice);
        expect(read.status).toBe(400);
        expect(read.bytes.toString()).not.toContain('do not read');
        const listThrough = await stack.call<ErrorReply>('GET', `${alice}/files?path=/files/escape/secret.txt`, { key: keys.alice });
        expect(listThrough.status).toBe(400);
        const listed = await stack.call<FileEntry[]>('GET', `${alice}/files?path=/files`, { key: keys.alice });
        expect(listed.body.find((e) => e.path === '/files/escape')).toMatchObject({ type: 'symlink', target: outside });
      } finally {
        rmSync(join(aliceFiles, 'escape'));
        rmSync(join(aliceFiles, 'secret-link'));
        rmSync(outside, { recursive: true, force: true });
      }
    });

    it('refuses an upload over the size limit and leaves no file or temp file', async () => {
      const res = await expectUnchanged(() => upload(stack, alice, '/files/big.bin', Buffer.alloc(100_001), keys.alice));
      expect(res).toMatchObject({ status: 400, body: { error: { message: expect.stringMatching(/larger than the upload limit of 100000 bytes/) } } });
    });

    it('refuses a write that names a snapshot: snapshots are immutable', async () => {
      const res = await expectUnchanged(() => upload(stack, alice, '/files/x.txt', 'x', keys.alice, '&snapshot=v1'));
      expect(res.status).toBe(400);
    });
  });

  it('lets a viewer read but not write, and a student neither read nor write another student\'s files', async () => {
    await upload(stack, bob, '/files/bob.txt', 'bob only', keys.bob);
    const denied = await expectUnchanged(() => upload(stack, bob, '/files/bob.txt', 'overwritten', keys.alice));
    expect(denied.status).toBe(403);
    expect((await downloadBytes(stack, bob, '/files/bob.txt', 'development', keys.alice)).status).toBe(403);
    expect((await stack.call('GET', `${bob}/files`, { key: keys.alice })).status).toBe(403);
    const master = inst('uni', 'stats', 'master');
    await upload(stack, master, '/files/syllabus.md', '# Stats', keys.prof);
    expect((await downloadBytes(stack, master, '/files/syllabus.md', 'development', keys.tim)).bytes.toString()).toBe('# Stats');
    expect((await expectUnchanged(() => upload(stack, master, '/files/syllabus.md', 'x', keys.tim))).status).toBe(403);
  });

  describe('tables', () => {
    it('imports a CSV, lists it, shows columns and DDL, exports it, renames and deletes it', async () => {
      expect(await importCsv(stack, alice, 'scores', 'id,name,score\n1,ann,3.5\n2,bob,4\n', 'create', keys.alice)).toMatchObject({ status: 201, body: { rows: 2 } });
      expect((await stack.call<TableInfo[]>('GET', `${alice}/tables`, { key: keys.alice })).body).toEqual([{ name: 'scores', row_count: 2, column_count: 3 }]);
      expect((await stack.call<{ ddl: string }>('GET', `${alice}/tables/scores/ddl`, { key: keys.alice })).body.ddl).toMatch(/^CREATE TABLE scores\(id BIGINT, "name" VARCHAR, score DOUBLE\);/);
      expect((await exportCsv(stack, alice, 'scores')).text).toBe('id,name,score\n1,ann,3.5\n2,bob,4.0\n');
      expect((await stack.call('POST', `${alice}/tables/scores/rename`, { key: keys.alice, body: { new_name: 'grades' } })).status).toBe(200);
      expect((await stack.call('DELETE', `${alice}/tables/grades`, { key: keys.alice })).status).toBe(200);
      expect((await stack.call<TableInfo[]>('GET', `${alice}/tables`, { key: keys.alice })).body).toEqual([]);
    });

    it.each([
      ['a CSV that does not parse', 'broken', 'id,name\n1,"unterminated\n2,x\n', 400, /not valid CSV/],
      ['a table name that is SQL', 'x;DROP%20TABLE%20y', 'id\n1\n', 400, /invalid table name/],
    ])('refuses %s, and changes nothing', async (_name, table, csv, status, message) => {
      await importCsv(stack, alice, 'keep', 'id\n1\n', 'replace', keys.alice);
      const res = await expectUnchanged(() => importCsv(stack, alice, table, csv, 'create', keys.alice));
      expect(res.status).toBe(status);
      expect(res.body.error!.message).toMatch(message);
      expect(res.body.error!.message).not.toContain(stack.dataDir);
    });
  });

  describe('apps', () => {
    it('creates, updates only the given fields, lists and deletes an app', async () => {
      const created = await stack.call<AppView>('POST', `${alice}/apps`, {
        key: keys.alice,
        body: { slug: 'jupyter', name: 'Jupyter', base_image: 'jupyter/scipy:2026', packages: ['numpy'], env: [{ name: 'LICENSE_KEY', value: 'x', license_related: true }] },
      });
      expect(created.status).toBe(201);
      const updated = await stack.call<AppView>('POST', `${alice}/apps/jupyter`, { key: keys.alice, body: { startup_command: 'jupyter lab' } });
      expect(updated.body).toMatchObject({ packages: ['numpy'], env: [{ name: 'LICENSE_KEY', license_related: true }], startup_command: 'jupyter lab' });
      expect((await stack.call<AppView[]>('GET', `${alice}/apps`, { key: keys.alice })).body.map((a) => a.slug)).toEqual(['jupyter']);
      expect((await stack.call('DELETE', `${alice}/apps/jupyter`, { key: keys.alice })).status).toBe(200);
    });

    it('derives the slug from the name when none is given, as the platform does', async () => {
      const created = await stack.call<AppView>('POST', `${alice}/apps`, { key: keys.alice, body: { name: 'Data Science Lab', base_image: 'jupyter/scipy:2026' } });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ slug: 'data_science_lab', name: 'Data Science Lab' });
      expect((await stack.call('DELETE', `${alice}/apps/data_science_lab`, { key: keys.alice })).status).toBe(200);
    });

    it.each([
      ['a duplicate slug', { slug: 'dup', name: 'Dup', base_image: 'x' }, 409, /already exists/],
      ['an invalid env name', { slug: 'bad', name: 'Bad', base_image: 'x', env: [{ name: '1X', value: 'y' }] }, 400, /environment variable name/],
      ['a missing base image', { slug: 'nobase', name: 'No base' }, 400, /base_image/],
      ['a name no slug can be made of, and no slug', { name: '!!!', base_image: 'x' }, 400, /cannot derive a valid slug from the name "!!!"; pass --slug/],
    ])('refuses %s, and changes nothing', async (_name, body, status, message) => {
      if (status === 409) await stack.call('POST', `${alice}/apps`, { key: keys.alice, body });
      const res = await expectUnchanged(() => stack.call<ErrorReply>('POST', `${alice}/apps`, { key: keys.alice, body }));
      expect(res.status).toBe(status);
      expect(res.body.error.message).toMatch(message);
    });
  });
});
