import { existsSync, lstatSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppView, AuditEvent, SnapshotView, TableInfo } from '../../src/domain';
import type { FileEntry } from '../../src/domain/files';
import type { CaptureHeadStarts } from '../../src/activities/capture-head-starts';
import { blobStoreOf } from '../../src/store/blobs';
import { findInstance, findOrg, findSpace } from '../../src/store/catalog/directory';
import { instancePaths } from '../../src/store/instance-storage';
import { warehouseStamp } from '../../src/store/tables-cache';
import { tempDir } from '../helpers/catalog';
import { fsClockPast } from '../helpers/fs-clock';
import { localActivitiesOf, stepsOf } from '../helpers/history';
import { downloadBytes, exportCsv, importCsv, inst, runTask, upload } from '../helpers/content';
import { course } from '../helpers/fixtures';
import { startTestStack, type TestStack } from '../helpers/services';
import { expectUnchanged as expectStateUnchanged, treeListing } from '../helpers/unchanged';

type Keys = Awaited<ReturnType<typeof course>>;
type ErrorReply = { error: { code: string; message: string } };

describe('snapshots: immutable, content-addressed; restore whole or in part', () => {
  let stack: TestStack;
  let keys: Keys;
  const alice = inst('uni', 'stats', 'alice');
  const bob = inst('uni', 'stats', 'bob');
  let filesOf: (slug: string) => Promise<string>;
  let pathsOf: (slug: string) => Promise<ReturnType<typeof instancePaths>>;

  beforeAll(async () => {
    stack = await startTestStack('snapshots', { HANDOUT_BLOB_GC_GRACE_SECONDS: '0' });
    keys = await course(stack);
    const db = stack.catalog.db;
    const space = (await findSpace(db, (await findOrg(db, 'uni'))!.id, 'stats'))!;
    pathsOf = async (slug) => instancePaths(stack.dataDir, (await findInstance(db, space.id, slug))!.id);
    filesOf = async (slug) => (await pathsOf(slug)).files;
  });
  afterAll(() => stack?.close());

  const expectUnchanged = <T>(run: () => Promise<T>) => expectStateUnchanged(stack, run);
  const scheduledSteps = (taskId: string) => stepsOf(stack, taskId);

  it('begins capturing the files with the request; the first step of its workflow takes that capture over', async () => {
    const heads = stack.deps.captureHeadStart as CaptureHeadStarts<unknown>;
    const before = { ...heads.counts };
    await upload(stack, bob, '/files/head-start.txt', 'captured from the request on', keys.bob);
    const snap = await runTask(stack, 'POST', `${bob}/snapshots`, { name: 'head-start' }, keys.bob);
    expect(snap).toMatchObject({ status: 'COMPLETED', result: { files: 1, hashed_files: 1 } });
    // bob's first snapshot: its warehouse, new and empty, was recorded as such when bob was created, so
    // the whole snapshot ran in its first workflow task, with no activity of its own.
    expect(await scheduledSteps(snap.task_id)).toEqual({ activities: [], workflowTasks: 1 });
    expect(heads.counts).toEqual({ begun: before.begun + 1, claimed: before.claimed + 1, abandoned: before.abandoned });
    expect(heads.waiting).toBe(0);
    expect((await downloadBytes(stack, bob, '/files/head-start.txt', 'head-start', keys.bob)).bytes.toString()).toBe('captured from the request on');
    // A refused request begins nothing: the name is taken.
    const refused = await stack.call<ErrorReply>('POST', `${bob}/snapshots`, { key: keys.bob, body: { name: 'head-start' } });
    expect(refused.status).toBe(409);
    expect(heads.counts.begun).toBe(before.begun + 1);
    expect((await stack.call('DELETE', `${bob}/files?path=/files/head-start.txt`, { key: keys.bob })).status).toBe(200);
  });

  it('snapshot → change → restore gives back the exact bytes, table rows and apps, after a safety snapshot', async () => {
    const binary = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 256));
    await upload(stack, alice, '/files/notes/week1.md', '# Week 1\n', keys.alice);
    await upload(stack, alice, '/files/data/big.bin', binary, keys.alice);
    await importCsv(stack, alice, 'scores', 'id,score\n1,10\n2,20\n', 'create', keys.alice);
    await stack.call('POST', `${alice}/apps`, { key: keys.alice, body: { slug: 'rstudio', name: 'RStudio', base_image: 'rocker/rstudio:4' } });
    const files = await filesOf('alice');
    const before = treeListing(files);

    const created = await runTask(stack, 'POST', `${alice}/snapshots`, { name: 'v1', description: 'before the exam' }, keys.alice);
    expect(created).toMatchObject({ status: 'COMPLETED', result: { name: 'v1', files: 2, tables: 1, apps: 1, hashed_files: 2, reused_files: 0 } });
    // One workflow task: the apps are read beside the files and tables, then everything is committed.
    expect(await localActivitiesOf(stack, created.task_id)).toEqual(['captureApps', 'captureFilesQuickly', 'tablesIfUnchanged', 'commitSnapshot']);

    // Change everything: edit, delete, add; new rows; drop an app.
    await upload(stack, alice, '/files/notes/week1.md', '# Week 1 (edited)\n', keys.alice);
    await stack.call('DELETE', `${alice}/files?path=/files/data/big.bin`, { key: keys.alice });
    await upload(stack, alice, '/files/extra.txt', 'new', keys.alice);
    await importCsv(stack, alice, 'scores', 'id,score\n9,99\n', 'replace', keys.alice);
    await importCsv(stack, alice, 'later', 'x\n1\n', 'create', keys.alice);
    await stack.call('DELETE', `${alice}/apps/rstudio`, { key: keys.alice });

    const restored = await runTask(stack, 'POST', `${alice}/snapshots/v1/restore`, {}, keys.alice);
    expect(restored.status).toBe('COMPLETED');
    // The safety snapshot is taken by the restore's own workflow, in its first workflow task: no child workflow.
    expect(await localActivitiesOf(stack, restored.task_id)).toEqual(['captureApps', 'captureFilesQuickly', 'tablesIfUnchanged', 'commitSnapshot', 'applyApps', 'appendAudit']);
    // (The warehouse changed since its last capture: its tables are captured by an activity of their own.)
    expect((await scheduledSteps(restored.task_id)).activities).toEqual(['captureTables', 'applyFiles', 'applyTables']);
    const { events } = await stack.deps.temporal.workflow.getHandle(restored.task_id).fetchHistory();
    expect((events ?? []).filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)).toEqual([]);
    expect(treeListing(files)).toEqual(before);
    expect((await exportCsv(stack, alice, 'scores')).text).toBe('id,score\n1,10\n2,20\n');
    expect((await stack.call<TableInfo[]>('GET', `${alice}/tables`, { key: keys.alice })).body.map((t) => t.name)).toEqual(['scores']);
    expect((await stack.call<AppView[]>('GET', `${alice}/apps`, { key: keys.alice })).body.map((a) => a.slug)).toEqual(['rstudio']);

    // The safety snapshot holds the state just before the restore.
    const safetyName = (restored.result as { safety_snapshot: string }).safety_snapshot;
    const safetyFiles = await stack.call<FileEntry[]>('GET', `${alice}/files?snapshot=${safetyName}&recursive=true`, { key: keys.alice });
    expect(safetyFiles.body.map((e) => e.path)).toEqual(['/files/data', '/files/extra.txt', '/files/notes', '/files/notes/week1.md']);
    expect((await downloadBytes(stack, alice, '/files/notes/week1.md', safetyName, keys.alice)).bytes.toString()).toBe('# Week 1 (edited)\n');
    expect((await exportCsv(stack, alice, 'scores', safetyName)).text).toBe('id,score\n9,99\n');

    const audit = (await stack.call<AuditEvent[]>('GET', `/api/v1/audit?subject=instance:uni/stats/alice`)).body;
    const createdEvent = audit.find((e) => e.action === 'snapshot.created' && e.details.snapshot === 'v1')!;
    expect(createdEvent.content_hashes).toMatchObject({ snapshot: expect.stringMatching(/^[0-9a-f]{64}$/), files_tree: expect.stringMatching(/^[0-9a-f]{64}$/), 'table:scores': expect.stringMatching(/^[0-9a-f]{64}$/) });
    const restoredEvent = audit.find((e) => e.action === 'snapshot.restored')!;
    expect(restoredEvent).toMatchObject({ actor: 'user:alice@uni.edu', details: { snapshot: 'v1', whole: true, safety_snapshot: safetyName }, content_hashes: { snapshot: createdEvent.content_hashes.snapshot } });
  });

  it('a restore leaves alone the files the target still holds exactly, and says how many', async () => {
    const names = ['keep/a.txt', 'keep/b.txt', 'keep/c.txt', 'edit.txt'];
    for (const name of names) await upload(stack, bob, `/files/unchanged/${name}`, `${name} as in the snapshot`, keys.bob);
    const files = await filesOf('bob');
    await fsClockPast(...names.map((name) => join(files, 'unchanged', name)));
    expect(await runTask(stack, 'POST', `${bob}/snapshots`, { name: 'kept' }, keys.bob)).toMatchObject({ status: 'COMPLETED' });
    const snapshotted = treeListing(join(files, 'unchanged'));
    await upload(stack, bob, '/files/unchanged/edit.txt', 'edit.txt changed after it!!', keys.bob);
    const inodeOf = (name: string) => lstatSync(join(files, 'unchanged', name)).ino;
    const kept = names.slice(0, 3).map(inodeOf);
    // Past the clock tick of the edit, so the safety snapshot's hashes are all trusted.
    await fsClockPast(join(files, 'unchanged', 'edit.txt'));

    const restored = await runTask(stack, 'POST', `${bob}/snapshots/kept/restore`, { files: ['/files/unchanged'] }, keys.bob);
    expect(restored).toMatchObject({ status: 'COMPLETED', result: { files_written: 1, files_unchanged: 3 } });
    expect(names.slice(0, 3).map(inodeOf)).toEqual(kept);
    expect(readFileSync(join(files, 'unchanged', 'edit.txt'), 'utf8')).toBe('edit.txt as in the snapshot');
    expect(treeListing(join(files, 'unchanged'))).toEqual(snapshotted);
    const audit = (await stack.call<AuditEvent[]>('GET', `/api/v1/audit?subject=instance:uni/stats/bob`)).body;
    expect(audit.find((e) => e.action === 'snapshot.restored' && e.details.snapshot === 'kept')).toMatchObject({ details: { files_written: 1, files_unchanged: 3 } });
  });

  it('reads snapshot contents: files list, files get and tables export with -p', async () => {
    const listed = await stack.call<FileEntry[]>('GET', `${alice}/files?snapshot=v1&path=/files/data`, { key: keys.alice });
    expect(listed.body).toEqual([expect.objectContaining({ path: '/files/data/big.bin', type: 'file', size: 70_000 })]);
    const one = await downloadBytes(stack, alice, '/files/notes/week1.md', 'v1', keys.alice);
    expect(one.bytes.toString()).toBe('# Week 1\n');
    expect((await stack.call<TableInfo[]>('GET', `${alice}/tables?snapshot=v1`, { key: keys.alice })).body).toEqual([{ name: 'scores', row_count: 2, column_count: 2 }]);
  });

  it('restores only the selected paths, tables and apps, overwriting them', async () => {
    await upload(stack, alice, '/files/notes/week1.md', 'changed again', keys.alice);
    await upload(stack, alice, '/files/data/big.bin', 'not big any more', keys.alice);
    await importCsv(stack, alice, 'scores', 'id,score\n5,5\n', 'replace', keys.alice);
    const task = await runTask(stack, 'POST', `${alice}/snapshots/v1/restore`, { files: ['/files/notes'] }, keys.alice);
    expect(task.status).toBe('COMPLETED');
    expect((await downloadBytes(stack, alice, '/files/notes/week1.md', 'development', keys.alice)).bytes.toString()).toBe('# Week 1\n');
    expect((await downloadBytes(stack, alice, '/files/data/big.bin', 'development', keys.alice)).bytes.toString()).toBe('not big any more');
    expect((await exportCsv(stack, alice, 'scores')).text).toBe('id,score\n5,5\n');
  });

  it('restores into another instance only for an editor of that instance', async () => {
    const denied = await expectUnchanged(() =>
      stack.call<ErrorReply>('POST', `${alice}/snapshots/v1/restore`, { key: keys.alice, body: { target: { org_slug: 'uni', space_slug: 'stats', instance_slug: 'bob' } } }),
    );
    expect(denied).toMatchObject({ status: 403, body: { error: { message: expect.stringMatching(/instance_editor role .* on instance "uni\/stats\/bob"/) } } });
    const task = await runTask(stack, 'POST', `${alice}/snapshots/v1/restore`, { target: { org_slug: 'uni', space_slug: 'stats', instance_slug: 'bob' }, files: ['/files/notes/week1.md'] }, keys.prof);
    expect(task.status).toBe('COMPLETED');
    expect((await downloadBytes(stack, bob, '/files/notes/week1.md', 'development', keys.bob)).bytes.toString()).toBe('# Week 1\n');
  });

  describe('bad input: a clear error, and nothing changes', () => {
    it.each([
      ['a duplicate snapshot name', 'POST', '/snapshots', { name: 'v1' }, 409, /a snapshot named "v1" already exists/],
      ['the name of the current state', 'POST', '/snapshots', { name: 'development' }, 400, /current state/],
      ['an invalid snapshot name', 'POST', '/snapshots', { name: 'Has Spaces' }, 400, /snapshot name/],
      ['an unknown snapshot', 'POST', '/snapshots/nope/restore', {}, 404, /snapshot "nope" of instance uni\/stats\/alice not found/],
      ['a path not in the snapshot', 'POST', '/snapshots/v1/restore', { files: ['/files/missing.txt'] }, 400, /\/files\/missing\.txt is not in snapshot "v1"/],
      ['a path outside /files', 'POST', '/snapshots/v1/restore', { files: ['/etc'] }, 400, /not under \/files/],
      ['a table not in the snapshot', 'POST', '/snapshots/v1/restore', { tables: ['ghost'] }, 400, /table "ghost" is not in snapshot "v1"/],
      ['an app not in the snapshot', 'POST', '/snapshots/v1/restore', { apps: ['ghost'] }, 400, /app "ghost" is not in snapshot "v1"/],
      ['reading an unknown snapshot', 'GET', '/files?snapshot=nope', undefined, 404, /snapshot "nope"/],
    ] as const)('%s', async (_name, method, path, body, status, message) => {
      const res = await expectUnchanged(() => stack.call<ErrorReply>(method, `${alice}${path}`, { key: keys.alice, body }));
      expect(res.status).toBe(status);
      expect(res.body.error.message).toMatch(message);
    });

    it('a viewer cannot create, restore or delete snapshots', async () => {
      const master = inst('uni', 'stats', 'master');
      await runTask(stack, 'POST', `${master}/snapshots`, { name: 'm1' }, keys.prof);
      for (const [method, path, body] of [['POST', '/snapshots', { name: 'x' }], ['POST', '/snapshots/m1/restore', {}], ['DELETE', '/snapshots/m1', undefined]] as const) {
        const res = await expectUnchanged(() => stack.call<ErrorReply>(method, `${master}${path}`, { key: keys.tim, body }));
        expect([path, res.status]).toEqual([path, 403]);
      }
      expect((await stack.call<SnapshotView[]>('GET', `${master}/snapshots`, { key: keys.tim })).body.map((s) => s.name)).toEqual(['m1']);
    });
  });

  it('keeps symbolic links as links, whatever they point to, and never stores what they point to', async () => {
    const outside = tempDir('outside-secret');
    writeFileSync(join(outside, 'secret.txt'), 'outside secret bytes');
    const files = await filesOf('bob');
    symlinkSync(join(outside, 'secret.txt'), join(files, 'link-out'));
    await runTask(stack, 'POST', `${bob}/snapshots`, { name: 'links' }, keys.bob);
    const entry = (await stack.call<FileEntry[]>('GET', `${bob}/files?snapshot=links`, { key: keys.bob })).body.find((e) => e.path === '/files/link-out');
    expect(entry).toMatchObject({ type: 'symlink', target: join(outside, 'secret.txt') });
    const blobs = await blobStoreOf(stack.dataDir);
    const { createHash } = await import('node:crypto');
    expect(await blobs.has(createHash('sha256').update('outside secret bytes').digest('hex'))).toBe(false);
    await stack.call('DELETE', `${bob}/files?path=/files/link-out`, { key: keys.bob });
    await runTask(stack, 'POST', `${bob}/snapshots/links/restore`, { files: ['/files/link-out'] }, keys.bob);
    expect(lstatSync(join(files, 'link-out')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(files, 'link-out'))).toBe(join(outside, 'secret.txt'));
  });

  it('deleting a snapshot frees the blobs no other snapshot references, and keeps shared ones', async () => {
    const carol = inst('uni', 'stats', 'master');
    await upload(stack, carol, '/files/shared.txt', 'shared between both snapshots', keys.prof);
    await upload(stack, carol, '/files/only-in-a.txt', 'only in snapshot a', keys.prof);
    await runTask(stack, 'POST', `${carol}/snapshots`, { name: 'a' }, keys.prof);
    await stack.call('DELETE', `${carol}/files?path=/files/only-in-a.txt`, { key: keys.prof });
    await runTask(stack, 'POST', `${carol}/snapshots`, { name: 'b' }, keys.prof);
    const blobs = await blobStoreOf(stack.dataDir);
    const { createHash } = await import('node:crypto');
    const sha = (text: string) => createHash('sha256').update(text).digest('hex');
    expect(await blobs.has(sha('only in snapshot a'))).toBe(true);
    const gc = await runTask(stack, 'DELETE', `${carol}/snapshots/a`, undefined, keys.prof);
    expect(gc).toMatchObject({ kind: 'snapshot.gc', status: 'COMPLETED' });
    expect((gc.result as { deleted: number }).deleted).toBeGreaterThan(0);
    expect(await blobs.has(sha('only in snapshot a'))).toBe(false);
    expect(await blobs.has(sha('shared between both snapshots'))).toBe(true);
    expect((await downloadBytes(stack, carol, '/files/shared.txt', 'b', keys.prof)).bytes.toString()).toBe('shared between both snapshots');
    expect((await stack.call<ErrorReply>('GET', `${carol}/snapshots/a`, { key: keys.prof })).status).toBe(404);
    expect(existsSync(blobs.pathOf(sha('shared between both snapshots')))).toBe(true);
  });

  describe('tables of a warehouse unchanged since the last capture', () => {
    const tableBlob = async (snapshot: string) => {
      const audit = (await stack.call<AuditEvent[]>('GET', `/api/v1/audit?subject=instance:uni/stats/bob`)).body;
      return audit.find((e) => e.action === 'snapshot.created' && e.details.snapshot === snapshot)!.content_hashes['table:marks'];
    };

    it('are taken from that capture, under the stamps of the warehouse files; a change after it is captured', async () => {
      await importCsv(stack, bob, 'marks', 'id,mark\n1,5\n', 'create', keys.bob);
      const paths = await pathsOf('bob');
      await fsClockPast(paths.warehouse, `${paths.warehouse}.wal`); // a change in the clock's current tick is never recorded
      expect((await runTask(stack, 'POST', `${bob}/snapshots`, { name: 't1' }, keys.bob)).result).toMatchObject({ tables: 1 });
      const recorded = JSON.parse(readFileSync(paths.tablesCache, 'utf8')) as { stamp: string; tables: { name: string; blob: string }[] };
      expect(recorded.stamp).toBe((await warehouseStamp(paths.warehouse)).text);
      expect(recorded.tables).toEqual([expect.objectContaining({ name: 'marks', blob: await tableBlob('t1') })]);

      const t2 = await runTask(stack, 'POST', `${bob}/snapshots`, { name: 't2' }, keys.bob);
      expect(t2.result).toMatchObject({ tables: 1 });
      expect(await tableBlob('t2')).toBe(await tableBlob('t1'));
      // Nothing left for an activity: the whole snapshot ran in its first workflow task, as local activities.
      expect(await scheduledSteps(t2.task_id)).toEqual({ activities: [], workflowTasks: 1 });

      await importCsv(stack, bob, 'marks', 'id,mark\n1,5\n2,7\n', 'replace', keys.bob);
      await runTask(stack, 'POST', `${bob}/snapshots`, { name: 't3' }, keys.bob);
      expect(await tableBlob('t3')).not.toBe(await tableBlob('t2'));
      expect((await exportCsv(stack, bob, 'marks', 't3')).text).toBe('id,mark\n1,5\n2,7\n');
      expect((await exportCsv(stack, bob, 'marks', 't2')).text).toBe('id,mark\n1,5\n');
    });

    it('are exported again when the garbage collector has removed their blob meanwhile', async () => {
      await importCsv(stack, bob, 'marks', 'id,mark\n3,9\n', 'replace', keys.bob);
      const paths = await pathsOf('bob');
      await fsClockPast(paths.warehouse, `${paths.warehouse}.wal`);
      await runTask(stack, 'POST', `${bob}/snapshots`, { name: 'gone-soon' }, keys.bob);
      expect(JSON.parse(readFileSync(paths.tablesCache, 'utf8')).stamp).toBe((await warehouseStamp(paths.warehouse)).text);
      const blob = await tableBlob('gone-soon');
      // The only snapshot naming those rows goes, and the collection (no grace period here) takes their blob.
      await runTask(stack, 'DELETE', `${bob}/snapshots/gone-soon`, undefined, keys.bob);
      expect(await (await blobStoreOf(stack.dataDir)).has(blob)).toBe(false);

      await runTask(stack, 'POST', `${bob}/snapshots`, { name: 'after-gc' }, keys.bob);
      expect(await tableBlob('after-gc')).toBe(blob);
      expect(await (await blobStoreOf(stack.dataDir)).has(blob)).toBe(true);
      expect((await exportCsv(stack, bob, 'marks', 'after-gc')).text).toBe('id,mark\n3,9\n');
    });
  });
});
