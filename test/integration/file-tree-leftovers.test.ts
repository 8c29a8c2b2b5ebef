import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalBlobStore, type BlobStore } from '../../src/store/blob-store';
import { materializeTree, snapshotTree } from '../../src/store/file-tree';

// A writer killed in the middle of a file leaves its temp file; the next run through that folder
// removes it at once when its writer (named in the file name) is gone, and keeps a live writer's.

/** Temp names as a materialize makes them: one of a writer that has exited, one of a live one (jest's parent). */
function leftoverNames(): { deadTemp: string; liveTemp: string } {
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  return { deadTemp: `.handout-tmp-${dead.toString(36)}.0123456789ab-7`, liveTemp: `.handout-tmp-${process.ppid.toString(36)}.0123456789ab-7` };
}

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
    const { deadTemp, liveTemp } = leftoverNames();
    writeFileSync(join(target, 'week1', deadTemp), 'half a fi');
    writeFileSync(join(target, 'week1', liveTemp), 'being writ');

    await materializeTree(blobs, tree.rootTree, target, { strategy: 'overwrite' });
    expect(readdirSync(join(target, 'week1')).sort()).toEqual([liveTemp, 'notes.md'].sort());
  });

  it('include half-built folders (a new folder is built under a temp name): removed with a dead writer, kept with a live one', async () => {
    const source = join(scratch, 'source-folders');
    mkdirSync(join(source, 'week2'), { recursive: true });
    writeFileSync(join(source, 'week2', 'task.md'), '# Task\n');
    const tree = await snapshotTree(source, blobs, null);

    const target = join(scratch, 'target-folders');
    const { deadTemp, liveTemp } = leftoverNames();
    for (const temp of [deadTemp, liveTemp]) {
      mkdirSync(join(target, temp, 'deep'), { recursive: true });
      writeFileSync(join(target, temp, 'deep', 'part.md'), 'half');
    }

    await materializeTree(blobs, tree.rootTree, target, { strategy: 'mirror' });
    expect(readdirSync(target).sort()).toEqual([liveTemp, 'week2'].sort());
    expect(readdirSync(join(target, 'week2'))).toEqual(['task.md']);
  });
});
