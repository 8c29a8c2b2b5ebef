import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobStoreError, createLocalBlobStore, type BlobStore } from '../../src/store/blob-store';

const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hoursAgo = (h: number) => new Date(Date.now() - h * 3600_000);

let dir: string;
let root: string;
let blobs: BlobStore;
let n = 0;

/** A fresh file with `content` in the test's scratch folder. */
function file(content: string | Buffer): string {
  const path = join(dir, 'src', `f${n++}`);
  writeFileSync(path, content);
  return path;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'handout-blobs-'));
  mkdirSync(join(dir, 'src'));
  root = join(dir, 'store');
  blobs = await createLocalBlobStore(root);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('local blob store', () => {
  it('stores a file under sha256/<2 hex>/<62 hex> and returns its hash and size', async () => {
    const ref = await blobs.putFile(file('hello blobs'));
    expect(ref).toEqual({ sha256: sha('hello blobs'), size: 11 });
    expect(blobs.pathOf(ref.sha256)).toBe(join(root, 'sha256', ref.sha256.slice(0, 2), ref.sha256.slice(2)));
    expect(readFileSync(blobs.pathOf(ref.sha256), 'utf8')).toBe('hello blobs');
    expect(await blobs.readBytes(ref.sha256)).toEqual(Buffer.from('hello blobs'));
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });

  it('keeps one blob for identical content and refreshes its mtime when it is stored again', async () => {
    const first = await blobs.putFile(file('same bytes'));
    utimesSync(blobs.pathOf(first.sha256), hoursAgo(48), hoursAgo(48));
    const again = await blobs.putBytes('same bytes');
    expect(again).toEqual(first);
    expect(Date.now() - lstatSync(blobs.pathOf(first.sha256)).mtimeMs).toBeLessThan(60_000);
    const copies = [];
    for await (const b of blobs.list()) if (b.sha256 === first.sha256) copies.push(b);
    expect(copies).toHaveLength(1);
  });

  it('stores the same content from many writers at once as one intact blob', async () => {
    const content = Buffer.alloc(3 << 20, 7);
    const refs = await Promise.all(Array.from({ length: 8 }, () => blobs.putFile(file(content))));
    expect(new Set(refs.map((r) => r.sha256))).toEqual(new Set([sha(content)]));
    expect(readFileSync(blobs.pathOf(sha(content))).equals(content)).toBe(true);
  });

  it('putFileWithKnownHash only touches an existing blob and never reads the file', async () => {
    const ref = await blobs.putBytes('known content');
    utimesSync(blobs.pathOf(ref.sha256), hoursAgo(10), hoursAgo(10));
    // The path does not exist: any attempt to read it would throw.
    expect(await blobs.putFileWithKnownHash(join(dir, 'no-such-file'), ref.sha256, ref.size)).toEqual(ref);
    expect(Date.now() - lstatSync(blobs.pathOf(ref.sha256)).mtimeMs).toBeLessThan(60_000);
  });

  it('putFileWithKnownHash stores a missing blob, and refuses a file whose content is not the expected hash', async () => {
    const path = file('fresh content');
    expect(await blobs.putFileWithKnownHash(path, sha('fresh content'), 13)).toEqual({ sha256: sha('fresh content'), size: 13 });
    const changed = file('edited content');
    await expect(blobs.putFileWithKnownHash(changed, sha('original content'), 16)).rejects.toMatchObject({ kind: 'hash_mismatch' });
    expect(await blobs.has(sha('original content'))).toBe(false);
  });

  it('keepAlive reports missing or wrong-size blobs, refreshes those untouched for over an hour and leaves fresher ones alone', async () => {
    const old = await blobs.putBytes('kept alive, last touched long ago');
    const fresh = await blobs.putBytes('kept alive, touched half an hour ago');
    utimesSync(blobs.pathOf(old.sha256), hoursAgo(2), hoursAgo(2));
    utimesSync(blobs.pathOf(fresh.sha256), hoursAgo(0.5), hoursAgo(0.5));
    const freshMtime = lstatSync(blobs.pathOf(fresh.sha256)).mtimeMs;
    const missing = { sha256: sha('never stored either'), size: 3 };
    const wrongSize = { sha256: fresh.sha256, size: fresh.size + 1 };
    expect(await blobs.keepAlive([old, fresh, missing, wrongSize])).toEqual(new Set([missing.sha256, fresh.sha256]));
    expect(Date.now() - lstatSync(blobs.pathOf(old.sha256)).mtimeMs).toBeLessThan(60_000);
    // Fresh enough to outlive any snapshot now being written: reusing it writes nothing (no inode update).
    expect(lstatSync(blobs.pathOf(fresh.sha256)).mtimeMs).toBe(freshMtime);
    expect(await blobs.keepAlive([fresh])).toEqual(new Set());
    await blobs.putBytes('kept alive, touched half an hour ago');
    expect(lstatSync(blobs.pathOf(fresh.sha256)).mtimeMs).toBe(freshMtime);
    await expect(blobs.keepAlive([fresh, { sha256: '../../etc/passwd', size: 1 }])).rejects.toMatchObject({ kind: 'invalid_id' });
  });

  it('rejects anything but 64 lowercase hex digits as a blob id, so no path can be built from other text', async () => {
    const bad = ['../../etc/passwd', 'AB'.repeat(32), 'ab'.repeat(31), `${'ab'.repeat(31)}/x`, '', 'g'.repeat(64)];
    for (const id of bad) {
      expect(() => blobs.pathOf(id)).toThrow(BlobStoreError);
      await expect(blobs.has(id)).rejects.toMatchObject({ kind: 'invalid_id' });
      await expect(blobs.readBytes(id)).rejects.toMatchObject({ kind: 'invalid_id' });
      await expect(blobs.touch(id)).rejects.toMatchObject({ kind: 'invalid_id' });
      await expect(blobs.delete(id)).rejects.toMatchObject({ kind: 'invalid_id' });
      await expect(blobs.putFileWithKnownHash(file('x'), id, 1)).rejects.toMatchObject({ kind: 'invalid_id' });
      await expect(blobs.keepAlive([{ sha256: id, size: 1 }])).rejects.toMatchObject({ kind: 'invalid_id' });
    }
  });

  it('refuses to store through a symbolic link', async () => {
    const link = join(dir, 'src', 'link-to-passwd');
    symlinkSync('/etc/passwd', link);
    await expect(blobs.putFile(link)).rejects.toMatchObject({ kind: 'not_a_file' });
    expect(await blobs.has(sha(readFileSync('/etc/passwd')))).toBe(false);
  });

  it('fails with source_changed, storing nothing, when the file grows while it is read', async () => {
    const path = file(Buffer.alloc(3 << 20, 1));
    let appended = false;
    const grow = () => {
      if (!appended) appendFileSync(path, 'more');
      appended = true;
    };
    const before = readdirSync(join(root, 'sha256')).length;
    await expect(blobs.putFile(path, { onData: grow })).rejects.toMatchObject({ kind: 'source_changed' });
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
    expect(await blobs.has(sha(Buffer.alloc(3 << 20, 1)))).toBe(false);
    expect(readdirSync(join(root, 'sha256')).length).toBe(before);
  });

  it('detects a corrupted blob on read, and replaces a torn (short) blob on the next put', async () => {
    const ref = await blobs.putBytes('will be damaged');
    chmodSync(blobs.pathOf(ref.sha256), 0o644); // blobs are read-only; this test damages one on purpose
    writeFileSync(blobs.pathOf(ref.sha256), 'will be DAMAGED');
    await expect(blobs.readBytes(ref.sha256)).rejects.toMatchObject({ kind: 'hash_mismatch' });
    writeFileSync(blobs.pathOf(ref.sha256), 'will be');
    await blobs.putBytes('will be damaged');
    expect(await blobs.readBytes(ref.sha256)).toEqual(Buffer.from('will be damaged'));
  });

  it('reports a missing blob as not_found and touch() as false', async () => {
    const missing = sha('never stored');
    await expect(blobs.readBytes(missing)).rejects.toMatchObject({ kind: 'not_found' });
    expect(await blobs.touch(missing)).toBe(false);
    expect(await blobs.has(missing)).toBe(false);
  });

  it('lists blobs with size and mtime; deletes one, and with ifOlderThanMs only if it is old', async () => {
    const a = await blobs.putBytes('list me a');
    const b = await blobs.putBytes('list me b');
    const listed = new Map<string, { size: number; mtimeMs: number }>();
    for await (const blob of blobs.list()) listed.set(blob.sha256, blob);
    expect(listed.get(a.sha256)?.size).toBe(9);
    expect(listed.has(b.sha256)).toBe(true);
    expect(await blobs.delete(a.sha256)).toBe(true);
    expect(await blobs.delete(a.sha256)).toBe(false);
    expect(await blobs.delete(b.sha256, { ifOlderThanMs: Date.now() - 3600_000 })).toBe(false);
    expect(await blobs.readBytes(b.sha256)).toEqual(Buffer.from('list me b'));
    utimesSync(blobs.pathOf(b.sha256), hoursAgo(2), hoursAgo(2));
    expect(await blobs.delete(b.sha256, { ifOlderThanMs: Date.now() - 3600_000 })).toBe(true);
    expect(await blobs.has(b.sha256)).toBe(false);
  });

  it('on open, removes temp files older than an hour, keeps fresh ones, and restores a blob a crashed collection set aside, not one a live collection holds', async () => {
    const tmp = join(root, 'tmp');
    writeFileSync(join(tmp, 'old.tmp'), 'x');
    utimesSync(join(tmp, 'old.tmp'), hoursAgo(2), hoursAgo(2));
    writeFileSync(join(tmp, 'fresh.tmp'), 'y');
    const crashed = await blobs.putBytes('set aside by a crashed gc');
    const crashedAside = join(tmp, `gc-${crashed.sha256}-${Date.now() - 3600_000}-00aa`);
    renameSync(blobs.pathOf(crashed.sha256), crashedAside);
    const live = await blobs.putBytes('set aside by a gc deciding right now');
    const liveAside = join(tmp, `gc-${live.sha256}-${Date.now()}-00aa`);
    renameSync(blobs.pathOf(live.sha256), liveAside);
    const reopened = await createLocalBlobStore(root);
    expect(existsSync(join(tmp, 'old.tmp'))).toBe(false);
    expect(existsSync(join(tmp, 'fresh.tmp'))).toBe(true);
    expect(existsSync(crashedAside)).toBe(false);
    expect(await reopened.readBytes(crashed.sha256)).toEqual(Buffer.from('set aside by a crashed gc'));
    expect(existsSync(liveAside)).toBe(true);
    expect(await reopened.has(live.sha256)).toBe(false);
  });
});

describe('capture roots', () => {
  it('records each capture root as its own file, lists those of the grace period and removes older ones', async () => {
    const rootsDir = join(dir, 'capture-roots');
    const store = await createLocalBlobStore(rootsDir);
    mkdirSync(join(rootsDir, 'roots'), { recursive: true });
    // Left by captures eight and two days ago.
    const eightDays = `${sha('eight days')}-${Date.now() - 8 * 24 * 3600_000}-aa`;
    const twoDays = `${sha('two days')}-${Date.now() - 2 * 24 * 3600_000}-bb`;
    for (const name of [eightDays, twoDays, 'not-a-root']) writeFileSync(join(rootsDir, 'roots', name), '');

    // Recording prunes what no collection could need any more (over a week old), and nothing else.
    await store.recordCaptureRoot(sha('now'));
    await store.recordCaptureRoot(sha('now'));
    const names = readdirSync(join(rootsDir, 'roots'));
    expect(names).not.toContain(eightDays);
    expect(names).toContain(twoDays);
    expect(names.filter((n) => n.startsWith(sha('now')))).toHaveLength(2);

    // A collection with a day's grace keeps the recent roots and removes the older record.
    expect((await store.captureRootsSince(Date.now() - 24 * 3600_000)).sort()).toEqual([sha('now')]);
    expect(readdirSync(join(rootsDir, 'roots'))).not.toContain(twoDays);
    await expect(store.recordCaptureRoot('../escape')).rejects.toThrow('not a sha256');
    expect(readdirSync(join(rootsDir, 'roots')).filter((n) => n.startsWith(sha('now')))).toHaveLength(2);
  });
});
