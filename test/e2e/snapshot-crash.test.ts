import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditEvent, SnapshotView, TaskStarted, TaskView } from '../../src/domain';
import { tempDir } from '../helpers/catalog';
import { handoutJson, handoutOk, runHandout, startHandoutUp, type RunningUp } from '../helpers/cli';
import { freePort } from '../helpers/ports';
import { testTemporalAddress, uniqueTaskQueue } from '../helpers/temporal';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * SIGKILL the process that runs the worker in the middle of a snapshot: the retry on the restarted
 * worker must finish the same snapshot, re-using what was hashed before the kill, and at no moment
 * may a half-written snapshot be visible. Killed in either place the files are captured: the local
 * activity of the first workflow task (the default budget; the kill comes well within it), or the
 * heartbeating activity (a budget of 0).
 */
describe.each([
  ['in the first workflow task', {}],
  ['in the heartbeating activity', { HANDOUT_QUICK_CAPTURE_MS: '0' }],
])('a snapshot whose worker is killed mid-way, %s', (_where, budget: NodeJS.ProcessEnv) => {
  let dataDir: string;
  let serverEnv: NodeJS.ProcessEnv;
  let cliEnv: NodeJS.ProcessEnv;
  let up: RunningUp | undefined;

  beforeAll(async () => {
    dataDir = tempDir('snap-crash');
    serverEnv = {
      HANDOUT_DATA_DIR: dataDir,
      HANDOUT_PORT: String(await freePort()),
      TEMPORAL_ADDRESS: testTemporalAddress(),
      HANDOUT_TASK_QUEUE: uniqueTaskQueue('snap-crash'),
      ...budget,
    };
    up = await startHandoutUp(serverEnv);
    cliEnv = { HOME: tempDir('snap-crash-home'), HANDOUT_API_URL: up.apiUrl, HANDOUT_API_KEY: up.bootstrapKey!, HANDOUT_CONTEXT: '{"org_slug":"uni","space_slug":"stats","instance_slug":"big"}' };
    await handoutOk(['orgs', 'create', '--slug', 'uni'], cliEnv);
    await handoutOk(['spaces', 'create', '-o', 'uni', '--slug', 'stats'], cliEnv);
    await handoutOk(['instances', 'create', '-o', 'uni', '-s', 'stats', '-n', 'big', '-w'], cliEnv);
  });
  afterAll(async () => {
    await up?.stop('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('finishes exactly one complete snapshot after the kill, without hashing finished files again', async () => {
    // 6,000 files of 40 KB, written straight into the instance's files tree.
    const instanceDir = join(dataDir, 'instances', readdirSync(join(dataDir, 'instances'))[0]!);
    for (let d = 0; d < 60; d++) {
      mkdirSync(join(instanceDir, 'files', `dir${d}`), { recursive: true });
      for (let f = 0; f < 100; f++) writeFileSync(join(instanceDir, 'files', `dir${d}`, `f${f}.bin`), Buffer.alloc(40_000, (d * 100 + f) % 251));
    }
    const [started] = await handoutJson<TaskStarted[]>(['snapshots', 'create', '-n', 'big'], cliEnv);
    // The stat cache is saved every 500 newly hashed files: once it exists, the snapshot is under way.
    const statCache = join(instanceDir, 'stat-cache.json');
    const deadline = Date.now() + 60_000;
    while (!existsSync(statCache)) {
      if (Date.now() > deadline) throw new Error('the snapshot never started hashing');
      await sleep(10);
    }
    expect(await up!.stop('SIGKILL')).toBeNull();
    up = undefined;

    up = await startHandoutUp(serverEnv);
    // Nothing half-written is visible while the retry runs.
    expect(await handoutJson<SnapshotView[]>(['snapshots', 'list'], cliEnv)).toEqual([]);
    const [done] = await handoutJson<TaskView[]>(['tasks', 'get', started!.task_id, '--wait', '--timeout', '180'], cliEnv);
    const result = done!.result as { files: number; hashed_files: number; reused_files: number };
    expect(done!.status).toBe('COMPLETED');
    expect(result.files).toBe(6000);
    // Files hashed before the kill were reused from the stat cache by the retry.
    expect(result.reused_files).toBeGreaterThan(0);
    expect(result.hashed_files + result.reused_files).toBe(6000);
    const snapshots = await handoutJson<SnapshotView[]>(['snapshots', 'list'], cliEnv);
    expect(snapshots.map((s) => [s.name, s.files, s.bytes])).toEqual([['big', 6000, 240_000_000]]);
    const events = await handoutJson<AuditEvent[]>(['audit', 'list', '--action', 'snapshot.created'], cliEnv);
    expect(events).toHaveLength(1);
    // The snapshot is complete: a sample file reads back byte for byte.
    const out = join(tempDir('snap-crash-out'), 'f.bin');
    const got = await runHandout(['files', 'get', '/files/dir59/f99.bin', out, '-p', 'big'], cliEnv);
    expect(got.code).toBe(0);
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(out).equals(Buffer.alloc(40_000, (59 * 100 + 99) % 251))).toBe(true);
  });
});
