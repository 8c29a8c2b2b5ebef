import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalBlobStore, type BlobStore } from '../../src/store/blob-store';
import { materializeTree, snapshotTree } from '../../src/store/file-tree';

// A writer killed in the middle of a file leaves its temp file; the next run through that folder
// removes it at once when its writer (named in the file name) is gone, and keeps a live writer's.

describe('temp files a killed writer left behind', () => {
  let scratch: string;
  let blobs: BlobStore;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'handout-leftovers-'));
    blobs = await createLocalBlobStore(join(scratch, 'blobs'));
  });
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  it('are removed by the next write into their folder when the writer is dead, and kept while it lives', async () => {
    const source = join(scratch, 'source');
    mkdirSync(join(source, 'week1'), { recursive: true });
    writeFileSync(join(source, 'week1', 'notes.md'), '# Notes\n');
    const tree = await snapshotTree(source, blobs, null);

    const target = join(scratch, 'target');
    mkdirSync(join(target, 'week1'), { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!; // a process that has exited
    const deadTemp = `.handout-tmp-${dead.toString(36)}.0123456789ab-7`;
    const liveTemp = `.handout-tmp-${process.ppid.toString(36)}.0123456789ab-7`;
    writeFileSync(join(target, 'week1', deadTemp), 'half a fi');
    writeFileSync(join(target, 'week1', liveTemp), 'being writ');

    await materializeTree(blobs, tree.rootTree, target, { strategy: 'overwrite' });
    expect(readdirSync(join(target, 'week1')).sort()).toEqual([liveTemp, 'notes.md'].sort());
  });
});
