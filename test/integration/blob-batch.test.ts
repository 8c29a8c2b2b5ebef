import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalBlobStore, type BlobStore } from '../../src/store/blob-store';

// A batch of blobs (blob-batch.ts) on the real file system: written to temp files (bytes only at the
// commit), made durable together, and only then linked into place; what waits for them runs after that.

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

let dir: string;
let blobs: BlobStore;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'handout-batch-'));
  blobs = await createLocalBlobStore(join(dir, 'store'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('a batch of blobs', () => {
  it('holds new blobs in temp files until its commit, then links every one of them', async () => {
    const batch = blobs.newBatch();
    const texts = Array.from({ length: 40 }, (_, i) => `blob ${i} of a batch`);
    const refs = await Promise.all(texts.map((text) => blobs.putBytes(text, batch)));
    expect(refs.map((r) => r.sha256)).toEqual(texts.map(sha));
    expect(batch.size).toBe(40);
    // Not a blob yet: nothing under its name, the bytes wait for the commit.
    expect(await blobs.has(sha(texts[0]!))).toBe(false);

    await batch.commit();
    expect(batch.size).toBe(0);
    for (const text of texts) expect(readFileSync(blobs.pathOf(sha(text)), 'utf8')).toBe(text);
    expect(readdirSync(join(dir, 'store', 'tmp'))).toEqual([]);
  });

  it('keeps a blob that exists already without writing it again, and stores the same bytes once', async () => {
    await blobs.putBytes('already stored');
    const before = lstatSync(blobs.pathOf(sha('already stored')), { bigint: true });
    const batch = blobs.newBatch();
    await blobs.putBytes('already stored', batch);
    await blobs.putBytes('twice in one batch', batch);
    await blobs.putBytes('twice in one batch', batch);
    expect(batch.size).toBe(2);
    await batch.commit();
    expect(batch.size).toBe(0);
    const after = lstatSync(blobs.pathOf(sha('already stored')), { bigint: true });
    expect([after.ino, after.mtimeNs]).toEqual([before.ino, before.mtimeNs]);
    expect(readFileSync(blobs.pathOf(sha('twice in one batch')), 'utf8')).toBe('twice in one batch');
    expect(readdirSync(join(dir, 'store', 'tmp'))).toEqual([]);
  });

  it('runs what waits for its blobs after the commit that makes them durable, and at once when none waits', async () => {
    const batch = blobs.newBatch();
    const ran: string[] = [];
    batch.afterCommit(() => ran.push('nothing pending'));
    expect(ran).toEqual(['nothing pending']);

    await blobs.putBytes('waited for', batch);
    batch.afterCommit(() => ran.push(`after: ${String(readFileSync(blobs.pathOf(sha('waited for'))))}`));
    expect(ran).toEqual(['nothing pending']);
    await batch.commit();
    expect(ran).toEqual(['nothing pending', 'after: waited for']);
  });

  it('never runs what waited for blobs whose commit failed', async () => {
    const batch = blobs.newBatch();
    await blobs.putBytes('lost before its commit', batch);
    const ran: string[] = [];
    batch.afterCommit(() => ran.push('must not run'));
    // The temp folder is not one any more (as good as a full disk): the commit cannot write the blob.
    const tmp = join(dir, 'store', 'tmp');
    await rm(tmp, { recursive: true });
    writeFileSync(tmp, 'not a folder');
    try {
      await expect(batch.commit()).rejects.toThrow(/ENOTDIR/);
    } finally {
      rmSync(tmp);
      mkdirSync(tmp);
    }
    expect(ran).toEqual([]);
    expect(await blobs.has(sha('lost before its commit'))).toBe(false);
    // The batch goes on: a later blob commits, and what waits for it runs.
    await blobs.putBytes('after the failure', batch);
    batch.afterCommit(() => ran.push('ran'));
    await batch.commit();
    expect(ran).toEqual(['ran']);
  });
});

describe('files of several folders stored at one moment', () => {
  it('are stored by fewer worker jobs than folders, and a folder that moved fails alone', async () => {
    const { TreeAnchor } = await import('../../src/store/tree/anchor');
    const { storePool } = await import('../../src/store/tree/fs-pool');
    const root = join(dir, 'tree');
    const folders = [...Array.from({ length: 10 }, (_, i) => `d${i}`), 'moved'];
    for (const folder of folders) {
      mkdirSync(join(root, folder), { recursive: true });
      writeFileSync(join(root, folder, 'f.txt'), `in ${folder}`);
    }
    const stat = (rel: string) => lstatSync(join(root, rel), { bigint: true });
    const stampOf = (rel: string) => {
      const st = stat(rel);
      return `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    };
    const jobs = jest.spyOn(storePool(), 'run');
    const anchor = await TreeAnchor.open(root);
    try {
      const batch = blobs.newBatch();
      // 'moved' is asked for under another folder's identity: as if it was replaced since it was listed.
      const asked = folders.map((folder) => {
        const st = stat(folder === 'moved' ? 'd0' : folder);
        return blobs.storeFilesIn!(anchor.dirForJob(folder, { dev: st.dev, ino: st.ino }), [['f.txt', stampOf(`${folder}/f.txt`)]], batch);
      });
      const outcomes = await Promise.allSettled(asked);
      expect(jobs.mock.calls.filter(([job]) => job === 'storeFilesInDirs').length).toBeLessThan(folders.length);
      expect(outcomes.map((o) => o.status)).toEqual([...Array(10).fill('fulfilled'), 'rejected']);
      expect((outcomes[10] as PromiseRejectedResult).reason).toMatchObject({ code: 'ECHANGED', message: '/moved was moved or replaced' });
      const stored = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value.stored[0]![0]] : []));
      expect(stored).toEqual(folders.slice(0, 10).map((folder) => sha(`in ${folder}`)));
      // Held for the batch like any of its blobs, then linked by its commit.
      expect(batch.size).toBe(10);
      await batch.commit();
      for (const folder of folders.slice(0, 10)) expect(readFileSync(blobs.pathOf(sha(`in ${folder}`)), 'utf8')).toBe(`in ${folder}`);
      expect(await blobs.has(sha('in moved'))).toBe(false);
    } finally {
      jobs.mockRestore();
      await anchor.close();
    }
  });
});
