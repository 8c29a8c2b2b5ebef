import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalBlobStore, type BlobStore } from '../../src/store/blob-store';
import { materializeTree, snapshotTree } from '../../src/store/file-tree';
import { StatCache, stampOf, type KnownContents } from '../../src/store/stat-cache';
import { fsClockPast } from '../helpers/fs-clock';
import { treeListing } from '../helpers/unchanged';

// A restore leaves alone the files its target already holds exactly, on the word of the target's
// stat cache (what its safety snapshot just hashed): the same stamp (inode, size, mtime and ctime in
// ns), the same bytes by hash, the same mode. Real files, a real blob store; `sync` is shimmed on PATH
// by a script that logs each call before running the real one, to see what was made durable.

let scratch: string;
let blobs: BlobStore;
let syncLog: string;
let n = 0;
const originalPath = process.env.PATH;

const FILES: Record<string, string> = {
  'keep/a.txt': 'alpha',
  'keep/b.txt': 'bravo',
  'edit.txt': 'original',
  'mode.txt': 'mode',
  'gone.txt': 'deleted from the target',
  'torn.txt': 'whole content',
  'copy.txt': 'same bytes, another inode',
};

function freshDir(label: string): string {
  const path = join(scratch, `${label}-${n++}`);
  mkdirSync(path, { recursive: true });
  return path;
}

function build(root: string, files: Record<string, string>): string[] {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
  return Object.keys(files).map((rel) => join(root, rel));
}

const syncCalls = () => (existsSync(syncLog) ? readFileSync(syncLog, 'utf8').trim().split('\n').filter(Boolean) : []);
const inode = (path: string) => lstatSync(path).ino;

/**
 * A target holding the tree, and what its stat cache knows after a snapshot of it (the restore's
 * safety snapshot), taken once the file system's clock has passed its files so that every one is trusted.
 */
async function targetWithCache(label: string, files = FILES): Promise<{ target: string; rootTree: string; cachePath: string }> {
  const src = freshDir(`${label}-src`);
  build(src, files);
  const { rootTree } = await snapshotTree(src, blobs, null, {});
  const target = freshDir(label);
  await fsClockPast(...build(target, files));
  const cachePath = join(scratch, `${label}-${n++}.stat-cache.json`);
  await StatCache.use(cachePath, (cache) => snapshotTree(target, blobs, cache, {}));
  return { target, rootTree, cachePath };
}

const knownIn = (cachePath: string): Promise<KnownContents> => StatCache.use(cachePath, async (cache) => cache.knownContents());

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'handout-unchanged-'));
  blobs = await createLocalBlobStore(join(scratch, 'blobs'));
  syncLog = join(scratch, 'sync.log');
  const real = spawnSync('sh', ['-c', 'command -v sync'], { encoding: 'utf8' }).stdout.trim();
  mkdirSync(join(scratch, 'bin'));
  writeFileSync(join(scratch, 'bin', 'sync'), `#!/bin/sh\nif [ "$3" != /proc ]; then echo "$*" >> '${syncLog}'; fi\nexec ${real} "$@"\n`);
  chmodSync(join(scratch, 'bin', 'sync'), 0o755);
  process.env.PATH = `${join(scratch, 'bin')}:${originalPath}`;
});
afterAll(async () => {
  process.env.PATH = originalPath;
  await rm(scratch, { recursive: true, force: true });
});

describe('a materialize told what the target holds (known)', () => {
  it('leaves alone each file still holding its bytes and mode, and writes every one that changed in any way', async () => {
    const { target, rootTree, cachePath } = await targetWithCache('restore');
    const known = await knownIn(cachePath);
    const kept = { a: inode(join(target, 'keep/a.txt')), b: inode(join(target, 'keep/b.txt')) };
    // After the safety snapshot: an edit, a mode change, a deletion; a file torn and padded back to its
    // size (as a crashed writer could leave it); a file replaced by a copy with the very same bytes.
    writeFileSync(join(target, 'edit.txt'), 'changed!');
    chmodSync(join(target, 'mode.txt'), 0o600);
    await rm(join(target, 'gone.txt'));
    truncateSync(join(target, 'torn.txt'), 5);
    truncateSync(join(target, 'torn.txt'), FILES['torn.txt']!.length);
    writeFileSync(join(target, 'copy.tmp'), FILES['copy.txt']!);
    renameSync(join(target, 'copy.tmp'), join(target, 'copy.txt'));
    const before = syncCalls().length;

    const result = await materializeTree(blobs, rootTree, target, { strategy: 'mirror', known });

    expect(result).toMatchObject({ filesWritten: 5, filesUnchanged: 2, removed: 0 });
    const sha = (text: string) => createHash('sha256').update(text).digest('hex');
    expect(treeListing(target)).toEqual({ keep: 'dir', ...Object.fromEntries(Object.entries(FILES).map(([rel, content]) => [rel, sha(content)])) });
    expect(lstatSync(join(target, 'mode.txt')).mode & 0o777).toBe(0o644);
    // The two files left alone are the very same files, not rewritten copies.
    expect([inode(join(target, 'keep/a.txt')), inode(join(target, 'keep/b.txt'))]).toEqual([kept.a, kept.b]);
    // Written or not, everything is on disk when the restore says it is done: one syncfs.
    expect(syncCalls().slice(before)).toEqual([`-f -- ${target}`]);
  });

  it('still syncs the file system when every file was left alone: their bytes may be in the page cache only', async () => {
    const { target, rootTree, cachePath } = await targetWithCache('all-kept', { 'a.txt': 'a', 'sub/b.txt': 'b' });
    const before = syncCalls().length;
    const result = await materializeTree(blobs, rootTree, target, { strategy: 'mirror', known: await knownIn(cachePath) });
    expect(result).toMatchObject({ filesWritten: 0, filesUnchanged: 2, dirsCreated: 0, removed: 0 });
    expect(syncCalls().slice(before)).toEqual([`-f -- ${target}`]);
  });

  it('writes a file the cache holds under another stamp or does not trust, and ignores what it knows for ignore_existing', async () => {
    const { target, rootTree, cachePath } = await targetWithCache('untrusted', { 'a.txt': 'a', 'b.txt': 'b' });
    // A cache entry from the same clock tick as its hashing (the racy rule) is not trusted.
    const stamp = stampOf(lstatSync(join(target, 'a.txt'), { bigint: true }));
    const mtime = lstatSync(join(target, 'a.txt'), { bigint: true }).mtimeNs;
    const known = await StatCache.use(cachePath, async (cache) => {
      cache.recordStamp('a.txt', stamp, 'ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb', mtime);
      return cache.knownContents();
    });
    const b = inode(join(target, 'b.txt'));
    expect(await materializeTree(blobs, rootTree, target, { strategy: 'overwrite', known })).toMatchObject({ filesWritten: 1, filesUnchanged: 1 });
    expect(inode(join(target, 'b.txt'))).toBe(b);
    // The file just written has a new inode, which the cache never saw: it is written again, b.txt still not.
    const a = inode(join(target, 'a.txt'));
    expect(await materializeTree(blobs, rootTree, target, { strategy: 'overwrite', known })).toMatchObject({ filesWritten: 1, filesUnchanged: 1 });
    expect([inode(join(target, 'a.txt')) === a, inode(join(target, 'b.txt')) === b]).toEqual([false, true]);
    expect(await materializeTree(blobs, rootTree, target, { strategy: 'ignore_existing', known })).toMatchObject({ filesWritten: 0, filesUnchanged: 0, keptExisting: 2 });
  });
});

describe('StatCache.knownContents', () => {
  it('gives the hash of a file only for its exact stamp, and only for entries the racy rule trusts', async () => {
    const dir = freshDir('known');
    const path = join(dir, 'f.txt');
    writeFileSync(path, 'x');
    const st = lstatSync(path, { bigint: true });
    const sha = '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881';
    const known = await StatCache.use(join(dir, 'cache.json'), async (cache) => {
      cache.record('trusted/f.txt', st, sha, st.mtimeNs + 1n);
      cache.record('racy/f.txt', st, sha, st.mtimeNs);
      return cache.knownContents();
    });
    expect(known.knowsDir('trusted')).toBe(true);
    expect(known.sha256Of('trusted', 'f.txt', stampOf(st))).toBe(sha);
    expect(known.sha256Of('trusted', 'f.txt', stampOf({ ...st, ctimeNs: st.ctimeNs + 1n }))).toBeUndefined();
    expect(known.sha256Of('trusted', 'other.txt', stampOf(st))).toBeUndefined();
    expect(known.knowsDir('racy')).toBe(false);
    expect(known.sha256Of('racy', 'f.txt', stampOf(st))).toBeUndefined();
  });

  it('is read from a cache just released without waiting for its deferred save', async () => {
    const dir = freshDir('settling');
    const path = join(dir, 'f.txt');
    writeFileSync(path, 'x');
    const st = lstatSync(path, { bigint: true });
    const cachePath = join(dir, 'cache.json');
    const cache = await StatCache.open(cachePath);
    cache.record('f.txt', st, '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881', st.mtimeNs + 1n);
    // As a snapshot walk leaves it: released, with its last save to be written a while later.
    const saved = cache.saveAfter(2000).then(() => 'saved' as const);
    cache.release();
    const first = await Promise.race([StatCache.knownContentsAt(cachePath), saved]);
    expect(first).not.toBe('saved');
    expect((first as KnownContents).sha256Of('', 'f.txt', stampOf(st))).toBe('2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881');
    await saved;
    // Once saved, the cache is read as any walk would take it.
    expect((await StatCache.knownContentsAt(cachePath)).sha256Of('', 'f.txt', stampOf(st))).toBe('2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881');
  });
});
