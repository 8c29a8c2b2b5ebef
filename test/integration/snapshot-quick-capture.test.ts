import type { TableInfo } from '../../src/domain';
import type { FileEntry } from '../../src/domain/files';
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
