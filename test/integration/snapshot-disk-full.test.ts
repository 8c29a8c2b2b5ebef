import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditEvent, SnapshotView } from '../../src/domain';
import { tempDir } from '../helpers/catalog';
import { inst, runTask, upload } from '../helpers/content';
import { createInstance } from '../helpers/fixtures';
import { startTestStack, type TestStack } from '../helpers/services';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp';

/**
 * A full disk in the middle of a snapshot. The blob store sits on a real 1 MiB tmpfs (mounting needs
 * root, which CI and the developer machines have), so the disk really fills up: nothing is mocked.
 */
describe('a snapshot that fills the disk', () => {
  let stack: TestStack;
  let smtp: SmtpSink;
  let blobsMount: string;

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('this test mounts a small tmpfs and must run as root (as CI does)');
    const dataDir = tempDir('disk-full');
    blobsMount = join(dataDir, 'blobs');
    mkdirSync(blobsMount);
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', blobsMount], { encoding: 'utf8' });
    if (mount.status !== 0) throw new Error(`cannot mount a tmpfs: ${mount.stderr}`);
    smtp = await startSmtpSink();
    stack = await startTestStack('disk-full', { HANDOUT_DATA_DIR: dataDir, SMTP_URL: `smtp://127.0.0.1:${smtp.port}` });
    await stack.call('POST', '/api/v1/orgs', { body: { slug: 'uni' } });
    await stack.call('POST', '/api/v1/orgs/uni/spaces', { body: { slug: 'stats' } });
    await createInstance(stack, 'uni', 'stats', 'big');
  });
  afterAll(async () => {
    await stack?.close().catch(() => undefined);
    await smtp?.close();
    spawnSync('umount', [blobsMount]);
  });

  it('fails the task with a clear reason, commits no snapshot and writes no snapshot event', async () => {
    const base = inst('uni', 'stats', 'big');
    for (let i = 0; i < 4; i++) await upload(stack, base, `/files/data/part${i}.bin`, Buffer.alloc(400_000, i + 1));
    const task = await runTask(stack, 'POST', `${base}/snapshots`, { name: 'too-big', email: true });
    expect(task).toMatchObject({ status: 'FAILED', error: 'the disk of the data directory is full; free space and try again' });
    // Asked for with -e, the failure is mailed too, with its reason.
    expect(await stack.deps.temporal.workflow.getHandle(`${task.task_id}/mail`).result()).toEqual({ sent: 1, total: 1 });
    expect(smtp.mails.map((m) => [m.to.join(','), m.subject])).toEqual([['admin@handout.local', 'Snapshot "too-big" of uni/stats/big failed']]);
    expect(smtp.mails[0]!.text).toContain('could not be taken: the disk of the data directory is full; free space and try again');
    expect((await stack.call<SnapshotView[]>('GET', `${base}/snapshots`)).body).toEqual([]);
    expect((await stack.call<AuditEvent[]>('GET', '/api/v1/audit?action=snapshot.created')).body).toEqual([]);
    // No half-written blob is visible under a real name: only complete blobs or nothing, no temp files kept.
    expect(readdirSync(join(blobsMount, 'tmp'))).toEqual([]);
  });
});
