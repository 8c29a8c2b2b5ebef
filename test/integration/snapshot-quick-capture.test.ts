import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TableInfo } from '../../src/domain';
import type { FileEntry } from '../../src/domain/files';
import { findInstance, findOrg, findSpace } from '../../src/store/catalog/directory';
import { instancePaths } from '../../src/store/instance-storage';
import { downloadBytes, exportCsv, importCsv, inst, runTask, upload } from '../helpers/content';
import { course } from '../helpers/fixtures';
import { stepsOf } from '../helpers/history';
import { startTestStack, type TestStack } from '../helpers/services';

// A snapshot's files are first captured in its first workflow task, within a budget; what does not fit
// goes on in the heartbeating activity. A budget of 0 sends every snapshot that way: the same result.

describe('snapshots whose files do not fit the quick capture budget', () => {
  let stack: TestStack;
  const alice = inst('uni', 'stats', 'alice');

  beforeAll(async () => {
    stack = await startTestStack('quick-capture', { HANDOUT_QUICK_CAPTURE_MS: '0' });
    await course(stack);
  });
  afterAll(() => stack?.close());

  it('are captured by the heartbeating activities, completely, and reused by the next one', async () => {
    await upload(stack, alice, '/files/a.txt', 'first');
    await upload(stack, alice, '/files/sub/b.txt', 'second');
    await importCsv(stack, alice, 'marks', 'id\n1\n');

    const first = await runTask(stack, 'POST', `${alice}/snapshots`, { name: 'one' });
    expect(first).toMatchObject({ status: 'COMPLETED', result: { files: 2, tables: 1, hashed_files: 2 } });
    expect((await stepsOf(stack, first.task_id)).activities).toEqual(['captureFiles', 'captureTables']);

    const second = await runTask(stack, 'POST', `${alice}/snapshots`, { name: 'two' });
    expect(second).toMatchObject({ status: 'COMPLETED', result: { files: 2, hashed_files: 0, reused_files: 2 } });

    expect((await downloadBytes(stack, alice, '/files/sub/b.txt', 'two')).bytes.toString()).toBe('second');
    expect((await exportCsv(stack, alice, 'marks', 'two')).text).toBe('id\n1\n');
    const listed = await stack.call<FileEntry[]>('GET', `${alice}/files?snapshot=one&recursive=true`);
    expect(listed.body.map((e) => e.path)).toEqual(['/files/a.txt', '/files/sub', '/files/sub/b.txt']);
    expect((await stack.call<TableInfo[]>('GET', `${alice}/tables?snapshot=one`)).body.map((t) => t.name)).toEqual(['marks']);
  });
});

describe('a first snapshot that outgrows the quick capture budget', () => {
  let stack: TestStack;
  const bob = inst('uni', 'stats', 'bob');

  beforeAll(async () => {
    stack = await startTestStack('quick-capture-budget', { HANDOUT_QUICK_CAPTURE_MS: '300' });
    await course(stack);
  });
  afterAll(() => stack?.close());

  it('goes on in the heartbeating activity from what the quick capture hashed, and counts every file as hashed this time', async () => {
    // 3,000 files of 20 KB: far more than 300 ms of work, so the quick capture stops part-way.
    const db = stack.catalog.db;
    const space = (await findSpace(db, (await findOrg(db, 'uni'))!.id, 'stats'))!;
    const files = instancePaths(stack.dataDir, (await findInstance(db, space.id, 'bob'))!.id).files;
    for (let d = 0; d < 30; d++) {
      mkdirSync(join(files, `d${d}`));
      for (let f = 0; f < 100; f++) writeFileSync(join(files, `d${d}`, `f${f}.bin`), Buffer.alloc(20_000, (d * 100 + f) % 251));
    }

    const first = await runTask(stack, 'POST', `${bob}/snapshots`, { name: 'first' });
    expect(first).toMatchObject({ status: 'COMPLETED', result: { files: 3000, hashed_files: 3000, reused_files: 0 } });
    expect((await stepsOf(stack, first.task_id)).activities).toContain('captureFiles');
    expect((await downloadBytes(stack, bob, '/files/d29/f99.bin', 'first')).bytes.equals(Buffer.alloc(20_000, (29 * 100 + 99) % 251))).toBe(true);
  });
});
