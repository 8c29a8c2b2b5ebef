import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, rename, rm, symlink, unlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeTree, type TreeEntry } from '../../src/domain/trees';
import { createLocalBlobStore, type BlobStore } from '../../src/store/blob-store';
import { listDir, markCaptures, markReachable, materializeTree, readTree, resolvePath, snapshotTree, sweepBlobs } from '../../src/store/file-tree';
import { StatCache } from '../../src/store/stat-cache';
import { blobsNamedIn } from '../../src/store/stat-cache-file';
import { movedAsConflict } from '../../src/store/tree/anchor';
import { treeListing } from '../helpers/unchanged';

const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

let scratch: string;
let blobs: BlobStore;
let n = 0;

/** A new empty folder in the scratch area. */
function freshDir(label: string): string {
  const path = join(scratch, `${label}-${n++}`);
  mkdirSync(path, { recursive: true });
  return path;
}

/** Writes files (string content), symlinks ({ link }) and empty folders ({ dir }) under `root`. */
function build(root: string, spec: Record<string, string | { link: string } | { dir: true } | { content: string; mode: number }>): void {
  for (const [rel, what] of Object.entries(spec)) {
    const path = join(root, rel);
    mkdirSync(join(path, '..'), { recursive: true });
    if (typeof what === 'string') writeFileSync(path, what);
    else if ('link' in what) symlinkSync(what.link, path);
    else if ('dir' in what) mkdirSync(path, { recursive: true });
    else {
      writeFileSync(path, what.content);
      chmodSync(path, what.mode);
    }
  }
}

/** What a user sees in a folder: every path with its type, permission bits and content hash or link target. */
function describe_(root: string, rel = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(join(root, rel)).sort()) {
    const path = join(root, rel, name);
    const key = rel ? `${rel}/${name}` : name;
    const st = lstatSync(path);
    const mode = (st.mode & 0o777).toString(8);
    if (st.isSymbolicLink()) out[key] = `link ${readlinkSync(path)}`;
    else if (st.isDirectory()) {
      out[key] = `dir ${mode}`;
      Object.assign(out, describe_(root, key));
    } else out[key] = `file ${mode} ${sha(readFileSync(path))}`;
  }
  return out;
}

const cachePath = (label: string) => join(scratch, 'caches', `${label}.json`);
const openCaches = new Map<string, StatCache>();
/** Opens a test's stat cache, handing back the one it opened before (one walk per cache at a time). */
async function openCache(label: string): Promise<StatCache> {
  openCaches.get(label)?.release();
  const cache = await StatCache.open(cachePath(label));
  openCaches.set(label, cache);
  return cache;
}
/** Every blob a snapshot's root reaches (its trees and files). */
const blobsOf = async (store: BlobStore, rootTree: string) => [...(await markReachable(store, [rootTree]))];

beforeAll(async () => {
  process.umask(0o022); // expected modes below assume it
  scratch = await mkdtemp(join(tmpdir(), 'handout-tree-'));
  blobs = await createLocalBlobStore(join(scratch, 'blobs'));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe('snapshot and materialize', () => {
  it('round-trips bytes, permission bits, empty folders and symlinks; mirror undoes later changes', async () => {
    const src = freshDir('src');
    build(src, {
      'README.md': '# course\n',
      'data/x.csv': 'a,b\n1,2\n',
      'data/big.bin': 'z'.repeat(3 << 20),
      'bin/run.sh': { content: '#!/bin/sh\necho hi\n', mode: 0o755 },
      'secret.txt': { content: 'only me', mode: 0o600 },
      'empty': { dir: true },
      'data/latest': { link: 'x.csv' },
      'dangling': { link: '../nowhere/at/all' },
    });
    chmodSync(join(src, 'bin'), 0o750);
    const expected = describe_(src);
    const snap = await snapshotTree(src, blobs, null, {});
    expect(snap).toMatchObject({ files: 5, dirs: 3, symlinks: 2, bytes: 9 + 8 + (3 << 20) + 18 + 7, hashedFiles: 5, reusedFiles: 0, skipped: [] });

    writeFileSync(join(src, 'data/x.csv'), 'changed');
    rmSync(join(src, 'bin'), { recursive: true });
    writeFileSync(join(src, 'new-file.txt'), 'added later');
    rmSync(join(src, 'data/latest'));
    writeFileSync(join(src, 'data/latest'), 'a file where a link was');
    const result = await materializeTree(blobs, snap.rootTree, src, { strategy: 'mirror' });
    expect(describe_(src)).toEqual(expected);
    expect(result).toMatchObject({ removed: 1 });

    const elsewhere = freshDir('restore');
    await materializeTree(blobs, snap.rootTree, elsewhere, { strategy: 'overwrite' });
    expect(describe_(elsewhere)).toEqual(expected);
  });

  it('stores identical content once, and the same tree anywhere gets the same root id', async () => {
    const a = freshDir('dedup');
    build(a, { 'one.txt': 'same', 'two.txt': 'same', 'sub/three.txt': 'same', 'sub/other.txt': 'other' });
    const snap = await snapshotTree(a, blobs, null, {});
    const all = await blobsOf(blobs, snap.rootTree);
    const fileBlobs = all.filter((b) => b === sha('same') || b === sha('other'));
    expect(fileBlobs.sort()).toEqual([sha('same'), sha('other')].sort());
    expect(all).toHaveLength(4); // two file blobs, the root tree, the sub tree

    const b = freshDir('dedup-copy');
    build(b, { 'sub/other.txt': 'other', 'two.txt': 'same', 'sub/three.txt': 'same', 'one.txt': 'same' });
    utimesSync(join(b, 'one.txt'), new Date(2001, 1, 1), new Date(2001, 1, 1));
    expect((await snapshotTree(b, blobs, null, {})).rootTree).toBe(snap.rootTree);
  });

  it('writes tree objects as canonical JSON sorted by UTF-8 bytes, not UTF-16 units', async () => {
    const src = freshDir('order');
    // U+FF5E sorts before U+1F600 in UTF-8 (EF… < F0…) but after it in UTF-16 (FF5E > D83D).
    build(src, { '\u{1F600}.txt': '1', '\uFF5E.txt': '2', 'B': '3', 'a': '4', 'é': '5' });
    const snap = await snapshotTree(src, blobs, null, {});
    const entries = await readTree(blobs, snap.rootTree);
    expect(entries.map((e) => e.name)).toEqual(['B', 'a', 'é', '\uFF5E.txt', '\u{1F600}.txt']);
    const bytes = (await blobs.readBytes(snap.rootTree)).toString('utf8');
    expect(bytes).toBe(encodeTree(entries));
    expect(bytes).toMatch(/^\{"entries":\[\{"mode":\d+,"name":"B","sha256":"[0-9a-f]{64}","size":1,"type":"file"\},/);
  });

  it('resolves and lists paths, never through a symlink, and rejects paths that climb out', async () => {
    const src = freshDir('resolve');
    build(src, { 'data/x.csv': 'x', 'data/inner/y.txt': 'y', 'link': { link: 'data' } });
    const { rootTree } = await snapshotTree(src, blobs, null, {});
    expect(await resolvePath(blobs, rootTree, 'data/x.csv')).toMatchObject({ name: 'x.csv', type: 'file', size: 1, sha256: sha('x') });
    expect(await resolvePath(blobs, rootTree, '')).toMatchObject({ type: 'dir', sha256: rootTree });
    expect(await resolvePath(blobs, rootTree, '/data/inner/')).toMatchObject({ name: 'inner', type: 'dir', size: 1 });
    expect(await resolvePath(blobs, rootTree, 'data/missing')).toBeUndefined();
    expect(await resolvePath(blobs, rootTree, 'link/x.csv')).toBeUndefined();
    expect(await resolvePath(blobs, rootTree, 'link')).toMatchObject({ type: 'symlink', target: 'data' });
    expect((await listDir(blobs, rootTree, 'data')).map((e: TreeEntry) => e.name)).toEqual(['inner', 'x.csv']);
    await expect(listDir(blobs, rootTree, 'data/x.csv')).rejects.toMatchObject({ code: 'not_found' });
    await expect(resolvePath(blobs, rootTree, 'data/../../etc')).rejects.toMatchObject({ code: 'invalid_input' });
  });

  it('skips FIFOs, sockets and names that are not UTF-8, with a note, and never blocks on a FIFO', async () => {
    const src = freshDir('special');
    // U+FFFD itself is a valid name (it is what bytes that are not UTF-8 decode to).
    build(src, { 'ok.txt': 'fine', 'real-\uFFFD.txt': 'a replacement character, written as UTF-8' });
    expect(spawnSync('mkfifo', [join(src, 'pipe')]).status).toBe(0);
    // A listening socket (its file goes when the server closes, after the walks).
    const socket = createServer();
    await new Promise<void>((resolve) => socket.listen(join(src, 'sock'), resolve));
    writeFileSync(Buffer.concat([Buffer.from(`${src}/`), Buffer.from([0x66, 0xff, 0x6f])]), 'latin-1 name');
    const past = new Date(Date.now() - 60_000);
    for (const f of ['ok.txt', 'real-\uFFFD.txt']) utimesSync(join(src, f), past, past);
    try {
      // Every walk reports them, also one that has a stat cache from the walk before.
      for (const cache of [null, await openCache('special'), await openCache('special')]) {
        const snap = await snapshotTree(src, blobs, cache, {});
        expect(snap.files).toBe(2);
        expect(await resolvePath(blobs, snap.rootTree, 'real-\uFFFD.txt')).toMatchObject({ type: 'file' });
        expect(snap.skipped).toEqual(
          expect.arrayContaining([
            { path: 'pipe', reason: 'a FIFO cannot be part of a snapshot' },
            { path: 'sock', reason: 'a socket cannot be part of a snapshot' },
            { path: expect.stringMatching(/^f.o$/), reason: 'its name is not valid UTF-8' },
          ]),
        );
      }
    } finally {
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    }
  });
});

describe('the stat cache', () => {
  it('lets a second snapshot read no file, but re-hashes a file replaced with the same size and mtime', async () => {
    const src = freshDir('cached');
    build(src, { 'a.txt': 'alpha', 'b.txt': 'bravo', 'sub/c.txt': 'charlie' });
    const past = new Date(Date.now() - 60_000);
    for (const f of ['a.txt', 'b.txt', 'sub/c.txt']) utimesSync(join(src, f), past, past);
    const cache = await openCache('cached');
    const first = await snapshotTree(src, blobs, cache, {});
    expect(first).toMatchObject({ hashedFiles: 3, reusedFiles: 0 });

    const saved = lstatSync(join(scratch, 'caches', 'cached.json'), { bigint: true });
    const second = await snapshotTree(src, blobs, await openCache('cached'), {});
    expect(second).toMatchObject({ hashedFiles: 0, reusedFiles: 3, rootTree: first.rootTree });
    // Nothing changed, so the cache file was not rewritten.
    expect(lstatSync(join(scratch, 'caches', 'cached.json'), { bigint: true })).toMatchObject({ ino: saved.ino, mtimeNs: saved.mtimeNs });

    // Same size, same mtime, different bytes: only the new inode gives it away.
    const before = statSync(join(src, 'b.txt'));
    writeFileSync(join(src, 'b.new'), 'BRAVO');
    renameSync(join(src, 'b.new'), join(src, 'b.txt'));
    utimesSync(join(src, 'b.txt'), before.atime, before.mtime);
    expect(statSync(join(src, 'b.txt')).mtimeMs).toBe(before.mtimeMs);
    const third = await snapshotTree(src, blobs, await openCache('cached'), {});
    expect(third).toMatchObject({ hashedFiles: 1, reusedFiles: 2 });
    expect(await resolvePath(blobs, third.rootTree, 'b.txt')).toMatchObject({ sha256: sha('BRAVO') });
  });

  it('fails with the clock reading\'s error when the clock probe cannot be written, and stores nothing', async () => {
    const src = freshDir('noclock');
    build(src, { 'a.txt': 'never read', 'sub/b.txt': 'nor this' });
    const cache = await openCache('noclock');
    // A folder where the probe file goes: writing the probe fails, as on a full or read-only disk.
    mkdirSync(`${cachePath('noclock')}.clock`, { recursive: true });
    const storeRoot = freshDir('noclock-blobs');
    const store = await createLocalBlobStore(storeRoot);
    const storeBefore = treeListing(storeRoot);
    await expect(snapshotTree(src, store, cache, {})).rejects.toMatchObject({ code: 'EISDIR' });
    // The root was listed meanwhile, but no file was read into the store (no blob, no temp file) and no cache was written.
    expect(treeListing(storeRoot)).toEqual(storeBefore);
    expect(Object.keys(storeBefore).filter((path) => path.startsWith('sha256/'))).toEqual([]);
    expect(existsSync(cachePath('noclock'))).toBe(false);
  });

  it('re-hashes a file whose mtime is not before the clock reading of the save that recorded it (racy git)', async () => {
    const src = freshDir('racy');
    build(src, { 'settled.txt': 'old', 'racy.txt': 'written in the same tick' });
    const past = new Date(Date.now() - 60_000);
    utimesSync(join(src, 'settled.txt'), past, past);
    // An mtime at or after the walk's clock reading: the file may still change without its stat changing.
    const future = new Date(Date.now() + 60_000);
    utimesSync(join(src, 'racy.txt'), future, future);
    await snapshotTree(src, blobs, await openCache('racy'), {});
    const again = await snapshotTree(src, blobs, await openCache('racy'), {});
    expect(again).toMatchObject({ hashedFiles: 1, reusedFiles: 1 });
  });

  it('trusts an entry only when the file mtime is strictly before its clock reading, across a save and reload', async () => {
    const dir = freshDir('boundary');
    build(dir, { 'f.txt': 'x' });
    const past = new Date(Date.now() - 60_000);
    utimesSync(join(dir, 'f.txt'), past, past);
    const st = lstatSync(join(dir, 'f.txt'), { bigint: true });
    const cache = await openCache('boundary');
    cache.record('same-tick', st, sha('x'), st.mtimeNs);
    cache.record('tick-before', st, sha('x'), st.mtimeNs + 1n);
    await cache.save();
    const reloaded = await openCache('boundary');
    expect(reloaded.lookup('same-tick', st)).toBeUndefined();
    expect(reloaded.lookup('tick-before', st)).toBe(sha('x'));
    expect(reloaded.lookup('tick-before', { ...st, ctimeNs: st.ctimeNs + 1n })).toBeUndefined();
    expect(reloaded.lastWrittenAtNs).toBeGreaterThanOrEqual(st.mtimeNs);
    // The file: its checksum, a newline, then JSON with one [path, stamp, sha256, clock reading] per entry.
    const text = readFileSync(join(scratch, 'caches', 'boundary.json'), 'utf8');
    const json = text.slice(text.indexOf('\n') + 1);
    expect(text.slice(0, 64)).toBe(sha(json));
    const raw = JSON.parse(json);
    const entry = raw.entries.find((e: unknown[]) => e[0] === 'tick-before');
    expect(entry.slice(0, 3)).toEqual(['tick-before', `${st.ino}:1:${st.mtimeNs}:${st.ctimeNs}`, sha('x')]);
    expect(raw.hashedAt[entry[3]]).toBe(String(st.mtimeNs + 1n));
  });

  it('hands a released cache to the next open of the same unchanged file, and reads the file otherwise', async () => {
    const src = freshDir('released');
    build(src, { 'a.txt': 'released a', 'b.txt': 'released b' });
    const past = new Date(Date.now() - 60_000);
    for (const f of ['a.txt', 'b.txt']) utimesSync(join(src, f), past, past);
    const path = cachePath('released-direct');
    const first = await StatCache.open(path);
    await snapshotTree(src, blobs, first, {});
    first.release();
    const again = await StatCache.open(path);
    expect(again).toBe(first);
    expect(await snapshotTree(src, blobs, again, {})).toMatchObject({ hashedFiles: 0, reusedFiles: 2 });
    again.release();
    // Changed since (rewritten by someone else): read from the file again, into a cache of its own.
    writeFileSync(path, readFileSync(path));
    const fresh = await StatCache.open(path);
    expect(fresh).not.toBe(again);
    expect(fresh.size).toBe(2);
    fresh.release();
  });

  it('lets one walk at a time use a cache file: a second open waits for the first release', async () => {
    const path = cachePath('one-at-a-time');
    const first = await StatCache.open(path);
    let second: StatCache | undefined;
    const opening = StatCache.open(path).then((cache) => (second = cache));
    // Enough turns of the event loop for an open that did not wait to finish (it reads one missing file).
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(second).toBeUndefined();
    first.release();
    await opening;
    expect(second).toBeDefined();
    second!.release();
    // `use` releases also when the work fails.
    await expect(StatCache.use(path, async () => Promise.reject(new Error('walk failed')))).rejects.toThrow('walk failed');
    (await StatCache.open(path)).release();
  });

  it('takes an unchanged folder from its record without a look at its files, and re-makes only the folders a change is in', async () => {
    const src = freshDir('records');
    const spec: Record<string, string> = {};
    for (const d of ['a', 'b', 'c']) for (const s of ['x', 'y']) for (let i = 0; i < 5; i++) spec[`${d}/${s}/f${i}.txt`] = `${d}${s}${i}`;
    spec['top.txt'] = 'top';
    build(src, spec);
    const past = new Date(Date.now() - 60_000);
    for (const f of Object.keys(spec)) utimesSync(join(src, f), past, past);
    const first = await snapshotTree(src, blobs, await openCache('records'), {});
    expect(first).toMatchObject({ files: 31, dirs: 9, hashedFiles: 31 });
    const raw = JSON.parse(readFileSync(cachePath('records'), 'utf8').split('\n')[1]!);
    expect(raw.version).toBe(3);
    expect(raw.dirs.map((d: unknown[]) => d[0]).sort()).toEqual(['', 'a', 'a/x', 'a/y', 'b', 'b/x', 'b/y', 'c', 'c/x', 'c/y']);

    // A file's blob taken away behind the cache's back shows whether the walk looked at it.
    const same = await snapshotTree(src, blobs, await openCache('records'), {});
    expect(same).toMatchObject({ files: 31, dirs: 9, bytes: first.bytes, hashedFiles: 0, reusedFiles: 31, rootTree: first.rootTree });

    writeFileSync(join(src, 'b/y/f3.txt'), 'changed in b/y');
    utimesSync(join(src, 'b/y/f3.txt'), past, past);
    const changed = await snapshotTree(src, blobs, await openCache('records'), {});
    expect(changed).toMatchObject({ files: 31, hashedFiles: 1, reusedFiles: 30 });
    expect(changed.rootTree).toBe((await snapshotTree(src, blobs, null, {})).rootTree);
    expect(await resolvePath(blobs, changed.rootTree, 'b/y/f3.txt')).toMatchObject({ sha256: sha('changed in b/y') });
    expect(await resolvePath(blobs, changed.rootTree, 'a/x')).toEqual(await resolvePath(blobs, first.rootTree, 'a/x'));

    // A folder removed, one added, a file renamed: each seen, and the cache forgets what is gone.
    rmSync(join(src, 'c'), { recursive: true });
    build(src, { 'd/new.txt': 'new folder' });
    utimesSync(join(src, 'd/new.txt'), past, past);
    renameSync(join(src, 'a/x/f0.txt'), join(src, 'a/x/renamed.txt'));
    const moved = await snapshotTree(src, blobs, await openCache('records'), {});
    expect(moved.rootTree).toBe((await snapshotTree(src, blobs, null, {})).rootTree);
    expect(moved).toMatchObject({ files: 22, hashedFiles: 2, reusedFiles: 20 }); // the new file and the renamed one
    const after = JSON.parse(readFileSync(cachePath('records'), 'utf8').split('\n')[1]!);
    expect(after.dirs.map((d: unknown[]) => d[0]).sort()).toEqual(['', 'a', 'a/x', 'a/y', 'b', 'b/x', 'b/y', 'd']);
    expect(after.entries.some((e: string[]) => e[0].startsWith('c/') || e[0] === 'a/x/f0.txt')).toBe(false);
  });

  it('starts empty from a corrupt or torn cache file instead of failing', async () => {
    mkdirSync(join(scratch, 'caches'), { recursive: true });
    writeFileSync(join(scratch, 'caches', 'corrupt.json'), '{"version":1,"entries":');
    expect((await openCache('corrupt')).size).toBe(0);
    // A save is not synced: after a power cut its bytes may be zeros or half there. The checksum catches both.
    const st = lstatSync(join(scratch, 'caches', 'corrupt.json'), { bigint: true });
    const cache = await openCache('torn');
    cache.record('a.txt', st, sha('a'), st.mtimeNs + 1n);
    cache.record('b.txt', st, sha('b'), st.mtimeNs + 1n);
    await cache.save();
    const path = join(scratch, 'caches', 'torn.json');
    const whole = readFileSync(path, 'utf8');
    expect((await openCache('torn')).size).toBe(2);
    // Still valid JSON, but not what was saved: one entry's hash swapped for the other's.
    writeFileSync(path, whole.replace(sha('b'), sha('a')));
    expect((await openCache('torn')).size).toBe(0);
    writeFileSync(path, whole.slice(0, whole.length - 20));
    expect((await openCache('torn')).size).toBe(0);
    writeFileSync(path, Buffer.alloc(whole.length));
    expect((await openCache('torn')).size).toBe(0);
  });

  it('reads a cache saved in the first format (version 1), so an upgrade re-hashes nothing', async () => {
    const src = freshDir('cache-v1');
    build(src, { 'a.txt': 'v1 alpha', 'sub/b.txt': 'v1 bravo' });
    const past = new Date(Date.now() - 60_000);
    for (const f of ['a.txt', 'sub/b.txt']) utimesSync(join(src, f), past, past);
    const entries: Record<string, object> = {};
    for (const [rel, content] of [['a.txt', 'v1 alpha'], ['sub/b.txt', 'v1 bravo']]) {
      const st = lstatSync(join(src, rel!), { bigint: true });
      entries[rel!] = { ino: String(st.ino), size: String(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs), sha256: sha(content!), hashedAtNs: String(st.mtimeNs + 1n) };
    }
    mkdirSync(join(scratch, 'caches'), { recursive: true });
    writeFileSync(join(scratch, 'caches', 'v1.json'), JSON.stringify({ version: 1, writtenAtNs: String(BigInt(Date.now()) * 1_000_000n), entries }));
    await blobs.putBytes('v1 alpha');
    await blobs.putBytes('v1 bravo');
    // A blob a collector of that time removed (it did not keep what caches name) is stored again from
    // the file: entries of an old cache are checked in the store once.
    await blobs.delete(sha('v1 bravo'));
    expect(await snapshotTree(src, blobs, await openCache('v1'), {})).toMatchObject({ hashedFiles: 1, reusedFiles: 1 });
    expect(await blobs.has(sha('v1 bravo'))).toBe(true);
    expect(await snapshotTree(src, blobs, await openCache('v1'), {})).toMatchObject({ hashedFiles: 0, reusedFiles: 2 });
  });
});

describe('symlinks are never followed', () => {
  it('stores a link to /etc/passwd (or to a FIFO) as a link and recreates it as a link', async () => {
    const src = freshDir('links');
    const outside = freshDir('outside-fifo');
    expect(spawnSync('mkfifo', [join(outside, 'fifo')]).status).toBe(0);
    build(src, { 'passwd': { link: '/etc/passwd' }, 'fifo': { link: join(outside, 'fifo') }, 'up': { link: '../../..' } });
    // Following the FIFO link would block this test forever.
    const snap = await snapshotTree(src, blobs, await openCache('links'), {});
    expect(snap).toMatchObject({ files: 0, symlinks: 3 });
    expect(await resolvePath(blobs, snap.rootTree, 'passwd')).toMatchObject({ type: 'symlink', target: '/etc/passwd' });
    expect(await blobs.has(sha(readFileSync('/etc/passwd')))).toBe(false);

    const target = freshDir('links-restored');
    const result = await materializeTree(blobs, snap.rootTree, target, { strategy: 'overwrite' });
    expect(result).toMatchObject({ filesWritten: 0, symlinksWritten: 3 });
    expect(readlinkSync(join(target, 'passwd'))).toBe('/etc/passwd');
    expect(readlinkSync(join(target, 'up'))).toBe('../../..');
    expect(lstatSync(join(target, 'fifo')).isSymbolicLink()).toBe(true);
  });

  it('never writes through a symlink in the target: a linked folder or file is replaced, the outside stays untouched', async () => {
    const src = freshDir('escape-src');
    build(src, { 'sub/x.txt': 'tree x', 'sub/deeper/y.txt': 'tree y', 'notes.txt': 'tree notes' });
    const { rootTree } = await snapshotTree(src, blobs, null, {});
    const outside = freshDir('outside');
    build(outside, { 'keep.txt': 'outside content', 'x.txt': 'outside x', 'notes.txt': 'outside notes' });
    const outsideBefore = describe_(outside);

    for (const [strategy, subPaths] of [['overwrite', undefined], ['mirror', undefined], ['overwrite', ['sub/x.txt']], ['mirror', ['sub']]] as const) {
      const target = freshDir('escape-target');
      symlinkSync(outside, join(target, 'sub'));
      symlinkSync(join(outside, 'notes.txt'), join(target, 'notes.txt'));
      await materializeTree(blobs, rootTree, target, { strategy, subPaths: subPaths && [...subPaths] });
      expect(describe_(outside)).toEqual(outsideBefore);
      expect(lstatSync(join(target, 'sub')).isDirectory()).toBe(true);
      expect(readFileSync(join(target, 'sub/x.txt'), 'utf8')).toBe('tree x');
    }

    const keep = freshDir('escape-keep');
    symlinkSync(outside, join(keep, 'sub'));
    const kept = await materializeTree(blobs, rootTree, keep, { strategy: 'ignore_existing' });
    expect(kept).toMatchObject({ keptExisting: 1, filesWritten: 1 });
    expect(readlinkSync(join(keep, 'sub'))).toBe(outside);
    expect(describe_(outside)).toEqual(outsideBefore);
  });
});

describe('a user racing the walk with symlinks', () => {
  /** Swaps `dir` for a symlink to `outside` and back, as fast as it can, until stopped. */
  function attacker(dir: string, outside: string): { stop(): Promise<number> } {
    let running = true;
    let swaps = 0;
    const loop = (async () => {
      while (running) {
        try {
          await rename(dir, `${dir}.real`);
          await symlink(outside, dir);
          await new Promise((r) => setImmediate(r));
          await unlink(dir);
          await rename(`${dir}.real`, dir);
          swaps++;
        } catch {
          // the walk may hold or change the folder at that moment; keep trying
        }
      }
    })();
    return { stop: async () => ((running = false), await loop, swaps) };
  }

  it('a snapshot never records a file from outside, whatever it catches mid-swap', async () => {
    const outside = freshDir('secret');
    build(outside, Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`f${i}.txt`, `secret ${i}`])));
    const secrets = new Set(Array.from({ length: 20 }, (_, i) => sha(`secret ${i}`)));
    const src = freshDir('raced');
    build(src, Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`data/f${i}.txt`, `mine ${i}`])));
    const race = attacker(join(src, 'data'), outside);
    let refused = 0;
    try {
      for (let round = 0; round < 30; round++) {
        const snap = await snapshotTree(src, blobs, null, { concurrency: 4 }).catch((err) => {
          expect(err).toMatchObject({ code: 'conflict' });
          refused++;
        });
        if (snap) expect((await blobsOf(blobs, snap.rootTree)).filter((b) => secrets.has(b))).toEqual([]);
      }
    } finally {
      expect(await race.stop()).toBeGreaterThan(0);
    }
    for (const s of secrets) expect(await blobs.has(s)).toBe(false);
    expect(refused).toBeLessThan(30);
  });

  /** Every file of a tree, by path, as "size sha256". */
  async function filesOf(rootTree: string, prefix = ''): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const entry of await readTree(blobs, rootTree)) {
      const path = `${prefix}${entry.name}`;
      if (entry.type === 'dir') Object.assign(out, await filesOf(entry.sha256, `${path}/`));
      if (entry.type === 'file') out[path] = `${entry.size} ${entry.sha256}`;
    }
    return out;
  }

  it('a snapshot with a warm stat cache records only what the folder holds, whatever stat its listing catches mid-swap', async () => {
    // The outside files have the inside names (and other sizes): a listing that took a stat through the
    // folder's path while it pointed outside would show in a size or a hash below.
    const outside = freshDir('secret-named');
    build(outside, Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`f${i}.txt`, `a longer secret ${i}`])));
    const secrets = new Set(Array.from({ length: 40 }, (_, i) => sha(`a longer secret ${i}`)));
    const src = freshDir('raced-cached');
    build(src, Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`data/f${i}.txt`, `mine ${i}`])));
    const mine = (name: string) => {
      const content = `mine ${/^f(\d+)\.txt$/.exec(name)![1]}`;
      return `${content.length} ${sha(content)}`;
    };
    const quiet = await snapshotTree(src, blobs, await openCache('raced-cached'), {});
    const race = attacker(join(src, 'data'), outside);
    let recorded = 0;
    try {
      for (let round = 0; round < 30; round++) {
        const snap = await snapshotTree(src, blobs, await openCache('raced-cached'), { concurrency: 4 }).catch((err) => expect(err).toMatchObject({ code: 'conflict' }));
        if (!snap) continue;
        recorded++;
        // Caught mid-swap, the folder may be recorded as the symlink or under its moved name; its files are always its own.
        for (const [path, file] of Object.entries(await filesOf(snap.rootTree))) expect({ path, file }).toEqual({ path, file: mine(path.slice(path.lastIndexOf('/') + 1)) });
      }
    } finally {
      expect(await race.stop()).toBeGreaterThan(0);
    }
    expect(recorded).toBeGreaterThan(0);
    for (const s of secrets) expect(await blobs.has(s)).toBe(false);
    // Quiet again, the walk gives the first snapshot's tree.
    expect((await snapshotTree(src, blobs, await openCache('raced-cached'), {})).rootTree).toBe(quiet.rootTree);
  });

  it('a materialize never writes outside the target, whatever it catches mid-swap', async () => {
    const src = freshDir('race-src');
    build(src, Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`data/f${i}.txt`, `tree ${i}`])));
    const { rootTree } = await snapshotTree(src, blobs, null, {});
    const outside = freshDir('race-outside');
    build(outside, { 'keep.txt': 'untouched' });
    const target = freshDir('race-target');
    mkdirSync(join(target, 'data'));
    const race = attacker(join(target, 'data'), outside);
    try {
      for (let round = 0; round < 30; round++) {
        const strategy = round % 2 ? 'mirror' : 'overwrite';
        await materializeTree(blobs, rootTree, target, { strategy, concurrency: 4 }).catch((err) => expect(err).toMatchObject({ code: 'conflict' }));
      }
    } finally {
      expect(await race.stop()).toBeGreaterThan(0);
    }
    expect(readdirSync(outside)).toEqual(['keep.txt']);
    expect(readFileSync(join(outside, 'keep.txt'), 'utf8')).toBe('untouched');
  });
});

describe('materialize strategies', () => {
  let rootTree: string;
  beforeAll(async () => {
    const src = freshDir('strategies');
    build(src, { 'data/a.csv': 'tree a', 'data/sub/b.csv': 'tree b', 'other/o.txt': 'tree o', 'top.txt': 'tree top' });
    ({ rootTree } = await snapshotTree(src, blobs, null, {}));
  });

  function target(): string {
    const dir = freshDir('target');
    build(dir, {
      'data/a.csv': 'mine a',
      'data/extra.csv': 'extra in data',
      'data/sub/extra2.csv': 'extra in data/sub',
      'data/gone': { dir: true },
      'other/extra3.txt': 'extra in other',
      'extra-top.txt': 'extra at the top',
    });
    return dir;
  }

  it('mirror removes extras only inside the selected paths', async () => {
    const dir = target();
    const result = await materializeTree(blobs, rootTree, dir, { strategy: 'mirror', subPaths: ['data'] });
    expect(describe_(dir)).toEqual({
      'data': 'dir 755',
      'data/a.csv': `file 644 ${sha('tree a')}`,
      'data/sub': 'dir 755',
      'data/sub/b.csv': `file 644 ${sha('tree b')}`,
      'other': 'dir 755',
      'other/extra3.txt': `file 644 ${sha('extra in other')}`,
      'extra-top.txt': `file 644 ${sha('extra at the top')}`,
    });
    expect(result).toMatchObject({ filesWritten: 2, removed: 3 });
  });

  it('overwrite replaces existing files and keeps extras; ignore_existing keeps existing files and adds missing ones', async () => {
    const over = target();
    await materializeTree(blobs, rootTree, over, { strategy: 'overwrite', subPaths: ['data/a.csv', 'top.txt'] });
    expect(readFileSync(join(over, 'data/a.csv'), 'utf8')).toBe('tree a');
    expect(readFileSync(join(over, 'top.txt'), 'utf8')).toBe('tree top');
    expect(readFileSync(join(over, 'data/extra.csv'), 'utf8')).toBe('extra in data');

    const keep = target();
    const result = await materializeTree(blobs, rootTree, keep, { strategy: 'ignore_existing' });
    expect(readFileSync(join(keep, 'data/a.csv'), 'utf8')).toBe('mine a');
    expect(readFileSync(join(keep, 'data/sub/b.csv'), 'utf8')).toBe('tree b');
    expect(readFileSync(join(keep, 'other/o.txt'), 'utf8')).toBe('tree o');
    expect(result).toMatchObject({ filesWritten: 3, keptExisting: 1, removed: 0 });
  });

  it('rejects a path that is not in the snapshot, or climbs out, before writing anything', async () => {
    const dir = target();
    const before = describe_(dir);
    await expect(materializeTree(blobs, rootTree, dir, { strategy: 'mirror', subPaths: ['data', 'nope/x'] })).rejects.toMatchObject({ code: 'not_found' });
    await expect(materializeTree(blobs, rootTree, dir, { strategy: 'overwrite', subPaths: ['../etc'] })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(materializeTree(blobs, rootTree, dir, { strategy: 'merge' as never })).rejects.toMatchObject({ code: 'invalid_input' });
    expect(describe_(dir)).toEqual(before);
  });
});

describe('abort and resume', () => {
  function manyFiles(count: number): string {
    const src = freshDir('many');
    const past = new Date(Date.now() - 60_000);
    for (let i = 0; i < count; i++) {
      const path = join(src, `d${i % 10}`, `f${i}.txt`);
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, `file number ${i}\n`.repeat(50));
      utimesSync(path, past, past);
    }
    return src;
  }

  it('throws an AbortError for an aborted signal, before or during the walk, and writes nothing afterwards', async () => {
    const src = manyFiles(50);
    await expect(snapshotTree(src, blobs, null, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    const controller = new AbortController();
    const walk = snapshotTree(src, blobs, null, {
      signal: controller.signal,
      concurrency: 2,
      onProgress: () => controller.abort(),
    });
    await expect(walk).rejects.toMatchObject({ name: 'AbortError' });
    const target = freshDir('aborted-restore');
    const { rootTree } = await snapshotTree(src, blobs, null, {});
    await expect(materializeTree(blobs, rootTree, target, { strategy: 'overwrite', signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(readdirSync(target)).toEqual([]);
  });

  it('resumes after an abort from the blobs and cache entries saved before it', async () => {
    const src = manyFiles(400);
    const controller = new AbortController();
    // The cache file as a crash at this moment would leave it: how many blobs it names, and which are missing.
    const samples: Array<{ named: number; missing: string[] }> = [];
    const savedCacheSample = () => {
      const text = (() => {
        try {
          return readFileSync(cachePath('resume'), 'utf8');
        } catch {
          return undefined;
        }
      })();
      const named = blobsNamedIn(text);
      const all = [...named.files, ...named.trees];
      return { named: all.length, missing: all.filter((sha256) => !existsSync(blobs.pathOf(sha256))) };
    };
    // The real store, aborting the walk once it has stored 150 files (one by one, or in batches).
    let stored = 0;
    const count = (n: number) => {
      if (stored < 150 && (stored += n) >= 150) controller.abort();
    };
    const aborting = new Proxy(blobs, {
      get(target, key) {
        if (key === 'putFile') {
          return async (...args: Parameters<BlobStore['putFile']>) => {
            const ref = await target.putFile(...args);
            count(1);
            return ref;
          };
        }
        if (key === 'storeFilesIn') {
          return async (...args: Parameters<NonNullable<BlobStore['storeFilesIn']>>) => {
            const done = await target.storeFilesIn!(...args);
            count(done.stored.filter((s) => s.length > 1).length);
            return done;
          };
        }
        const value = Reflect.get(target, key);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    // Sampled as each save lands on disk.
    const cache = await openCache('resume');
    const save = cache.save.bind(cache);
    cache.save = () => save().then(() => void samples.push(savedCacheSample()));
    const aborted = snapshotTree(src, aborting, cache, { signal: controller.signal, concurrency: 4, saveCacheEvery: 25 });
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    expect(stored).toBeGreaterThanOrEqual(150);
    expect(stored).toBeLessThan(400);
    // Whenever a save was on disk, it named only blobs that existed (a crash then would leave a cache a
    // retry trusts unseen): a blob becomes a cache entry only once it is linked.
    expect(samples.filter((s) => s.named > 0).length).toBeGreaterThan(0);
    expect(samples.flatMap((s) => s.missing)).toEqual([]);
    // A retry in a fresh process: the cache comes back from disk.
    const resumed = await snapshotTree(src, blobs, await openCache('resume'), {});
    expect(resumed.files).toBe(400);
    expect(resumed.reusedFiles).toBeGreaterThanOrEqual(150);
    expect(resumed.hashedFiles).toBe(400 - resumed.reusedFiles);
    expect(resumed.rootTree).toBe((await snapshotTree(src, blobs, null, {})).rootTree);
  });
});

describe('garbage collection', () => {
  it('deletes unreachable old blobs, keeps reachable ones and fresh unreachable ones', async () => {
    const gcBlobs = await createLocalBlobStore(join(scratch, 'gc-blobs'));
    const src = freshDir('gc');
    build(src, { 'shared.txt': 'in both', 'data/old.txt': 'only in the old snapshot' });
    const old = await snapshotTree(src, gcBlobs, null, {});
    rmSync(join(src, 'data/old.txt'));
    build(src, { 'data/new.txt': 'only in the new snapshot' });
    const kept = await snapshotTree(src, gcBlobs, null, {});
    const twoDaysAgo = new Date(Date.now() - 48 * 3600_000);
    for await (const blob of gcBlobs.list()) utimesSync(gcBlobs.pathOf(blob.sha256), twoDaysAgo, twoDaysAgo);
    const inProgress = await gcBlobs.putBytes('a snapshot being written right now');
    const manifest = await gcBlobs.putBytes('a manifest the catalog points at');
    utimesSync(gcBlobs.pathOf(manifest.sha256), twoDaysAgo, twoDaysAgo);

    const [oldBlobs, keptBlobs] = [await blobsOf(gcBlobs, old.rootTree), await blobsOf(gcBlobs, kept.rootTree)];
    const reachable = await markReachable(gcBlobs, [kept.rootTree], [manifest.sha256]);
    expect([...reachable].sort()).toEqual([...keptBlobs, manifest.sha256].sort());
    const swept = await sweepBlobs(gcBlobs, reachable, { graceMs: 3600_000 });

    const onlyOld = oldBlobs.filter((b) => !keptBlobs.includes(b));
    expect(onlyOld.length).toBe(3); // old.txt, the old root tree, the old data tree
    expect(swept).toMatchObject({ deleted: 3, kept: keptBlobs.length + 2 });
    for (const b of onlyOld) expect(await gcBlobs.has(b)).toBe(false);
    for (const b of [...keptBlobs, inProgress.sha256, manifest.sha256]) expect(await gcBlobs.has(b)).toBe(true);
    const restored = freshDir('gc-restore');
    await materializeTree(gcBlobs, kept.rootTree, restored, { strategy: 'overwrite' });
    expect(readFileSync(join(restored, 'data/new.txt'), 'utf8')).toBe('only in the new snapshot');
  });

  it('a collection keeps what a walk may reuse unseen: blobs a stat cache names, and what a recent capture reached after the cache forgot it', async () => {
    const gcBlobs = await createLocalBlobStore(join(scratch, 'gc-reuse-blobs'));
    const src = freshDir('gc-reuse');
    build(src, { 'kept.txt': 'reused, two days old', 'sub/changed.txt': 'version one' });
    const past = new Date(Date.now() - 60_000);
    for (const f of ['kept.txt', 'sub/changed.txt']) utimesSync(join(src, f), past, past);
    await snapshotTree(src, gcBlobs, await openCache('gc-reuse'), {});
    const twoDaysAgo = new Date(Date.now() - 48 * 3600_000);
    const ageAll = async () => {
      for await (const blob of gcBlobs.list()) utimesSync(gcBlobs.pathOf(blob.sha256), twoDaysAgo, twoDaysAgo);
    };
    await ageAll();
    const day = 24 * 3600_000;
    const noRoots = Date.now() + day; // as a collection a day later sees the capture roots: none recent

    // A walk that reuses everything reads no file and touches no blob; no snapshot references them yet.
    const second = await snapshotTree(src, gcBlobs, await openCache('gc-reuse'), {});
    expect(second).toMatchObject({ hashedFiles: 0, reusedFiles: 2 });
    // The cache alone names all of it: the files, and the folders' trees.
    const named = await StatCache.blobsNamedBy(cachePath('gc-reuse'));
    const byCache = await markReachable(gcBlobs, named.trees, named.files);
    expect([...byCache].sort()).toEqual((await blobsOf(gcBlobs, second.rootTree)).sort());
    expect(await sweepBlobs(gcBlobs, byCache, { graceMs: day })).toMatchObject({ deleted: 0 });

    // The next walk sees a change and forgets the old version, before `second` would have committed:
    // only the capture root of `second` still reaches it.
    writeFileSync(join(src, 'sub/changed.txt'), 'version two');
    utimesSync(join(src, 'sub/changed.txt'), past, past);
    await snapshotTree(src, gcBlobs, await openCache('gc-reuse'), {});
    await ageAll();
    const withRoots = new Set<string>();
    await markCaptures(gcBlobs, [cachePath('gc-reuse')], Date.now() - day, withRoots);
    expect(withRoots.has(sha('version one'))).toBe(true);
    expect(await sweepBlobs(gcBlobs, withRoots, { graceMs: day })).toMatchObject({ deleted: 0 });
    const materialized = freshDir('gc-reuse-restore');
    await materializeTree(gcBlobs, second.rootTree, materialized, { strategy: 'overwrite' });
    expect(readFileSync(join(materialized, 'sub/changed.txt'), 'utf8')).toBe('version one');

    // A day later the root record has lapsed, and the old version (no snapshot committed it) goes.
    const later = new Set<string>();
    await markCaptures(gcBlobs, [cachePath('gc-reuse')], noRoots, later);
    expect(later.has(sha('version one'))).toBe(false);
    expect(later.has(sha('version two'))).toBe(true);
    expect(await sweepBlobs(gcBlobs, later, { graceMs: day })).toMatchObject({ deleted: 3 }); // version one, its sub tree, its root
    expect(await gcBlobs.has(sha('version one'))).toBe(false);
    expect(await gcBlobs.has(sha('reused, two days old'))).toBe(true);
  });

  it('refuses to collect when a root tree cannot be read', async () => {
    await expect(markReachable(blobs, [sha('not a stored tree')])).rejects.toMatchObject({ code: 'internal' });
  });
});

describe('a folder moved while a worker lists it', () => {
  it('is a conflict naming the folder that moved, also deep inside a subtree listed in one job', () => {
    const job = (rel?: string) => Object.assign(new Error('moved'), { code: 'ECHANGED', rel });
    expect(movedAsConflict(job(), 'top')).toMatchObject({ code: 'conflict', message: expect.stringMatching(/^\/top was moved or replaced/) });
    expect(movedAsConflict(job('sub/deeper'), 'top')).toMatchObject({ code: 'conflict', message: expect.stringMatching(/^\/top\/sub\/deeper was moved/) });
    expect(movedAsConflict(job('sub'), '')).toMatchObject({ message: expect.stringMatching(/^\/sub was moved/) });
    const other = Object.assign(new Error('disk'), { code: 'EIO' });
    expect(movedAsConflict(other, 'top')).toBe(other);
  });
});
