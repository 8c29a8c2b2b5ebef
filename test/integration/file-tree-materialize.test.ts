import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalBlobStore, type BlobStore } from '../../src/store/blob-store';
import { materializeTree, snapshotTree } from '../../src/store/file-tree';

// How materializeTree writes: through the file-system worker threads, made durable by one syncfs at
// the end. The `sync` command is shimmed on PATH by a script that records each call (and how many files
// the target holds at that moment) before running the real one: real processes, real file system.

let scratch: string;
let blobs: BlobStore;
let syncLog: string;
let n = 0;
const originalPath = process.env.PATH;

function freshDir(label: string): string {
  const path = join(scratch, `${label}-${n++}`);
  mkdirSync(path, { recursive: true });
  return path;
}

function build(root: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
}

/** The calls of `sync` so far, as "<args> <regular files below the path>" ("probe" for the one on /proc). */
const syncCalls = () => (existsSync(syncLog) ? readFileSync(syncLog, 'utf8').trim().split('\n').filter(Boolean) : []);

/** Puts a `sync` on PATH that logs its calls, then runs the real one (or fails, with `fail`). */
function shimSync(dir: string, fail = false): void {
  const real = spawnSync('sh', ['-c', 'command -v sync'], { encoding: 'utf8' }).stdout.trim();
  mkdirSync(dir, { recursive: true });
  const body = fail
    ? 'echo "refused $*" >> "$LOG"; exit 1'
    : `if [ "$3" = /proc ]; then echo probe >> "$LOG"; else echo "$* $(find "$3" -type f | wc -l)" >> "$LOG"; sleep "\${SYNC_SLEEP:-0}"; fi; exec ${real} "$@"`;
  writeFileSync(join(dir, 'sync'), `#!/bin/sh\nLOG='${syncLog}'\n${body}\n`);
  chmodSync(join(dir, 'sync'), 0o755);
  process.env.PATH = `${dir}:${originalPath}`;
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'handout-materialize-'));
  blobs = await createLocalBlobStore(join(scratch, 'blobs'));
  syncLog = join(scratch, 'sync.log');
  shimSync(join(scratch, 'bin'));
});
afterAll(async () => {
  process.env.PATH = originalPath;
  await rm(scratch, { recursive: true, force: true });
});

describe('durability', () => {
  // More files than a small write may sync one by one (32), in a few folders.
  const manyFiles = (label: string) => Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`${label}/f${i % 3}/n${i}.txt`, `${label} ${i}`]));

  it('syncs the target file system once, after the last file is written, and only when something was written', async () => {
    const src = freshDir('src');
    build(src, manyFiles('many'));
    const { rootTree } = await snapshotTree(src, blobs, null, {});
    // The snapshot's new blobs (40 files, 5 tree objects) were made durable by one syncfs too, before any
    // was linked (all 45 still temp files); then their names, in as many shard folders, by one more.
    expect(syncCalls()).toEqual(['probe', `-f -- ${join(scratch, 'blobs', 'tmp')} 45`, `-f -- ${join(scratch, 'blobs', 'sha256')} 45`]);
    const before = syncCalls().length;

    const target = freshDir('target');
    expect(await materializeTree(blobs, rootTree, target, { strategy: 'mirror' })).toMatchObject({ filesWritten: 40 });
    expect(syncCalls().slice(before)).toEqual([`-f -- ${target} 40`]);

    // Nothing to write: nothing to sync.
    expect(await materializeTree(blobs, rootTree, target, { strategy: 'overwrite', subPaths: [] })).toMatchObject({ filesWritten: 0 });
    // fsync: false asks for no durability at all.
    expect(await materializeTree(blobs, rootTree, freshDir('unsynced'), { strategy: 'mirror', fsync: false })).toMatchObject({ filesWritten: 40 });
    // ignore_existing syncs each file before it gets its name instead: its retry would keep a torn one.
    expect(await materializeTree(blobs, rootTree, freshDir('kept'), { strategy: 'ignore_existing' })).toMatchObject({ filesWritten: 40 });
    expect(syncCalls().slice(before)).toHaveLength(1);
  });

  it('makes a small write durable file by file and folder by folder, without syncing the whole file system', async () => {
    const src = freshDir('src-small');
    build(src, { 'notice/welcome.md': 'welcome', 'a.txt': 'a', 'sub/b.txt': 'b' });
    const { rootTree } = await snapshotTree(src, blobs, null, {});
    const before = syncCalls().length;
    const target = freshDir('target-small');
    build(target, { 'stale.txt': 'not in the tree' });

    expect(await materializeTree(blobs, rootTree, target, { strategy: 'mirror' })).toMatchObject({ filesWritten: 3, dirsCreated: 2, removed: 1 });
    expect(await materializeTree(blobs, rootTree, target, { strategy: 'overwrite', subPaths: ['notice/welcome.md'] })).toMatchObject({ filesWritten: 1 });
    expect(syncCalls().slice(before)).toEqual([]);
    expect(readdirSync(target).sort()).toEqual(['a.txt', 'notice', 'sub']);
    expect(readFileSync(join(target, 'notice/welcome.md'), 'utf8')).toBe('welcome');

    // A symlink's own inode is only made durable by the file-system sync, however small the write.
    const withLink = freshDir('src-link');
    build(withLink, { 'x.txt': 'x' });
    symlinkSync('x.txt', join(withLink, 'link'));
    const linked = await snapshotTree(withLink, blobs, null, {});
    const linkTarget = freshDir('target-link');
    expect(await materializeTree(blobs, linked.rootTree, linkTarget, { strategy: 'mirror' })).toMatchObject({ filesWritten: 1, symlinksWritten: 1 });
    expect(syncCalls().slice(before)).toEqual([`-f -- ${linkTarget} 1`]);
  });

  it('reports progress while a slow final sync runs, so the activity keeps heartbeating', async () => {
    const src = freshDir('src-slow-sync');
    build(src, manyFiles('slow'));
    const { rootTree } = await snapshotTree(src, blobs, null, {});
    const reports: number[] = [];
    process.env.SYNC_SLEEP = '3';
    try {
      await materializeTree(blobs, rootTree, freshDir('target-slow-sync'), { strategy: 'mirror', onProgress: (p) => reports.push(p.files) });
    } finally {
      delete process.env.SYNC_SLEEP;
    }
    // One report when the files are written, and more while the sync (held for 3 s by the shim) runs.
    expect(reports.filter((files) => files === 40).length).toBeGreaterThanOrEqual(2);
  });

  it('starts writing back a long write while it runs, and still syncs once after its last file', async () => {
    // Ten folders of ten files: the first three fit the small-write budget (synced file by file), the
    // other seven are left to the syncfs; with a writeback step of one byte, each of those may start one.
    const files = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`long/d${i % 10}/n${i}.txt`, `long ${i}`]));
    const src = freshDir('src-long');
    build(src, files);
    const { rootTree } = await snapshotTree(src, blobs, null, {});
    const before = syncCalls().length;
    const target = freshDir('target-long');
    expect(await materializeTree(blobs, rootTree, target, { strategy: 'mirror', writebackStepBytes: 1 })).toMatchObject({ filesWritten: 100 });
    const calls = syncCalls().slice(before);
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls.every((line) => line.startsWith(`-f -- ${target} `))).toBe(true);
    // The last one, which makes the write durable, saw every file in place (and no temp file left).
    expect(calls[calls.length - 1]).toBe(`-f -- ${target} 100`);
    expect(readFileSync(join(target, 'long/d7/n57.txt'), 'utf8')).toBe('long 57');
  });

  it('still writes everything where `sync -f` does not work (each file is synced instead)', async () => {
    let isolated: typeof import('../../src/store/file-tree') | undefined;
    jest.isolateModules(() => {
      isolated = require('../../src/store/file-tree');
    });
    shimSync(join(scratch, 'bin-failing'), true);
    try {
      const src = freshDir('src-fallback');
      build(src, { 'x.txt': 'x', 'y/z.txt': 'z' });
      const { rootTree } = await snapshotTree(src, blobs, null, {});
      const target = freshDir('target-fallback');
      expect(await isolated!.materializeTree(blobs, rootTree, target, { strategy: 'mirror' })).toMatchObject({ filesWritten: 2 });
      expect(readFileSync(join(target, 'y/z.txt'), 'utf8')).toBe('z');
      expect(syncCalls().filter((line) => line.startsWith('refused'))).toEqual(['refused -f -- /proc']);
    } finally {
      shimSync(join(scratch, 'bin'));
    }
  });
});

describe('writing files', () => {
  it('replaces a folder, a symlink or a file standing where the tree has a file, never writing through the link', async () => {
    const src = freshDir('kinds-src');
    build(src, { 'was-dir.txt': 'file 1', 'was-link.txt': 'file 2', 'was-file.txt': 'file 3' });
    const { rootTree } = await snapshotTree(src, blobs, null, {});
    const outside = freshDir('kinds-outside');
    build(outside, { 'secret.txt': 'outside' });
    const target = freshDir('kinds-target');
    build(target, { 'was-dir.txt/inner.txt': 'inside a folder', 'was-file.txt': 'old' });
    symlinkSync(join(outside, 'secret.txt'), join(target, 'was-link.txt'));

    const result = await materializeTree(blobs, rootTree, target, { strategy: 'overwrite' });
    expect(result).toMatchObject({ filesWritten: 3, removed: 1 });
    for (const [name, content] of [['was-dir.txt', 'file 1'], ['was-link.txt', 'file 2'], ['was-file.txt', 'file 3']]) {
      expect(lstatSync(join(target, name!)).isFile()).toBe(true);
      expect(readFileSync(join(target, name!), 'utf8')).toBe(content);
    }
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('outside');
  });

  it('writes large files (kernel copy) and many files per folder exactly', async () => {
    const src = freshDir('large-src');
    const big = Buffer.alloc(3 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) % 251;
    build(src, Object.fromEntries(Array.from({ length: 1500 }, (_, i) => [`many/f${i}.txt`, `file ${i}\n`.repeat(i % 7)])));
    writeFileSync(join(src, 'big.bin'), big);
    writeFileSync(join(src, 'empty.txt'), '');
    const { rootTree } = await snapshotTree(src, blobs, null, {});
    const target = freshDir('large-target');
    expect(await materializeTree(blobs, rootTree, target, { strategy: 'mirror' })).toMatchObject({ filesWritten: 1502, bytes: big.length + Array.from({ length: 1500 }, (_, i) => `file ${i}\n`.length * (i % 7)).reduce((a, b) => a + b, 0) });
    expect(readFileSync(join(target, 'big.bin')).equals(big)).toBe(true);
    expect(readFileSync(join(target, 'empty.txt'), 'utf8')).toBe('');
    expect(readFileSync(join(target, 'many/f1499.txt'), 'utf8')).toBe('file 1499\n'.repeat(1499 % 7));
    expect(readdirSync(join(target, 'many'))).toHaveLength(1500); // no temp file left behind
  });

  it('fails with `internal` for a missing or damaged blob, naming the file, and leaves no temp file', async () => {
    const store = await createLocalBlobStore(join(scratch, 'damaged-blobs'));
    const src = freshDir('damaged-src');
    build(src, { 'ok.txt': 'fine', 'short.txt': 'this blob will be cut short', 'gone.txt': 'this blob will vanish', 'long.bin': 'x'.repeat(1 << 20) });
    const { rootTree } = await snapshotTree(src, store, null, {});
    const shaOf = async (name: string) => (await import('node:crypto')).createHash('sha256').update(readFileSync(join(src, name))).digest('hex');

    truncateSync(store.pathOf(await shaOf('short.txt')), 5);
    let target = freshDir('damaged-target');
    await expect(materializeTree(store, rootTree, target, { strategy: 'mirror' })).rejects.toMatchObject({ code: 'internal', message: expect.stringMatching(/of \/short\.txt is damaged/) });
    expect(readdirSync(target).filter((f) => f.startsWith('.handout-tmp-'))).toEqual([]);

    truncateSync(store.pathOf(await shaOf('long.bin')), 1000);
    await store.delete(await shaOf('short.txt'));
    target = freshDir('damaged-target');
    await expect(materializeTree(store, rootTree, target, { strategy: 'mirror', subPaths: ['long.bin'] })).rejects.toMatchObject({ code: 'internal', message: expect.stringMatching(/of \/long\.bin is damaged/) });

    // A folder the target lacks is built out of sight: a failure inside it leaves neither the folder
    // nor its temp, and names the file by its place in the tree.
    const deep = freshDir('damaged-deep-src');
    build(deep, { 'kept.txt': 'old', 'unit/a.txt': 'fine', 'unit/inner/b.txt': 'will be cut short', 'unit/inner/c.txt': 'fine too' });
    const deepTree = (await snapshotTree(deep, store, null, {})).rootTree;
    truncateSync(store.pathOf(createHash('sha256').update('will be cut short').digest('hex')), 3);
    target = freshDir('damaged-target');
    build(target, { 'kept.txt': 'old' });
    await expect(materializeTree(store, deepTree, target, { strategy: 'overwrite' })).rejects.toMatchObject({ code: 'internal', message: expect.stringMatching(/of \/unit\/inner\/b\.txt is damaged/) });
    expect(readdirSync(target)).toEqual(['kept.txt']);
    // A new folder is made before the files beside it are written: when one of those fails, it goes too.
    const beside = freshDir('damaged-beside-src');
    build(beside, { 'bad.txt': 'will be cut short', 'unit2/x.txt': 'fine' });
    const besideTree = (await snapshotTree(beside, store, null, {})).rootTree; // stores that blob whole again
    truncateSync(store.pathOf(createHash('sha256').update('will be cut short').digest('hex')), 3);
    await expect(materializeTree(store, besideTree, target, { strategy: 'overwrite' })).rejects.toMatchObject({ code: 'internal', message: expect.stringMatching(/of \/bad\.txt is damaged/) });
    expect(readdirSync(target)).toEqual(['kept.txt']);

    await store.delete(await shaOf('gone.txt'));
    target = freshDir('damaged-target');
    await expect(materializeTree(store, rootTree, target, { strategy: 'mirror', subPaths: ['gone.txt'] })).rejects.toMatchObject({ code: 'internal', message: expect.stringMatching(/of \/gone\.txt is missing from the blob store/) });
    expect(readdirSync(target)).toEqual([]);
  });
});
