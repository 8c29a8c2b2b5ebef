import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { TaskStarted, TaskView } from '../../src/domain';
import { tempDir } from '../helpers/catalog';
import { fsClockPast } from '../helpers/fs-clock';
import { handoutJson, handoutOk, startHandoutUp, type RunningUp } from '../helpers/cli';
import { freePort } from '../helpers/ports';
import { testTemporalAddress, uniqueTaskQueue } from '../helpers/temporal';

const FOLDERS = 40;
const PER_FOLDER = 100;
const SIZE = 40_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Version 0 is what the snapshot holds; the even folders are rewritten as version 1 after it. */
const content = (d: number, f: number, version: number) => Buffer.alloc(SIZE, (d * PER_FOLDER + f + version * 7) % 251);
const pathOf = (files: string, d: number, f: number) => join(files, `dir${d}`, `f${f}.bin`);

/**
 * SIGKILL the process that runs the worker while a restore is writing the files (held in its sync of
 * the instance's file system, by a `sync` on the server's PATH that waits while a marker file exists,
 * then runs the real one). The retry on the restarted worker must finish the same restore; it leaves
 * alone only the files nobody touched since the safety snapshot hashed them, and writes every other
 * one again, including those the killed attempt had already renamed into place: their bytes may never
 * have reached the disk, and their new inodes are unknown to the stat cache, so none is taken for done.
 */
describe('a restore whose worker is killed before its files are durable', () => {
  let dataDir: string;
  let serverEnv: NodeJS.ProcessEnv;
  let cliEnv: NodeJS.ProcessEnv;
  let up: RunningUp | undefined;
  let hold: string;
  let syncLog: string;

  beforeAll(async () => {
    dataDir = tempDir('restore-crash');
    const bin = tempDir('restore-crash-bin');
    hold = join(bin, 'hold');
    syncLog = join(bin, 'sync.log');
    const real = spawnSync('sh', ['-c', 'command -v sync'], { encoding: 'utf8' }).stdout.trim();
    // Only a sync of an instance's files tree is held; the blob store's are not.
    writeFileSync(
      join(bin, 'sync'),
      `#!/bin/sh\ncase "$3" in */files) echo "held $3" >> '${syncLog}'; while [ -e '${hold}' ]; do sleep 0.05; done ;; esac\nexec ${real} "$@"\n`,
    );
    chmodSync(join(bin, 'sync'), 0o755);
    serverEnv = {
      HANDOUT_DATA_DIR: dataDir,
      HANDOUT_PORT: String(await freePort()),
      TEMPORAL_ADDRESS: testTemporalAddress(),
      HANDOUT_TASK_QUEUE: uniqueTaskQueue('restore-crash'),
      PATH: `${bin}:${process.env.PATH}`,
    };
    up = await startHandoutUp(serverEnv);
    cliEnv = { HOME: tempDir('restore-crash-home'), HANDOUT_API_URL: up.apiUrl, HANDOUT_API_KEY: up.bootstrapKey!, HANDOUT_CONTEXT: '{"org_slug":"uni","space_slug":"stats","instance_slug":"lab"}' };
    await handoutOk(['orgs', 'create', '--slug', 'uni'], cliEnv);
    await handoutOk(['spaces', 'create', '-o', 'uni', '--slug', 'stats'], cliEnv);
    await handoutOk(['instances', 'create', '-o', 'uni', '-s', 'stats', '-n', 'lab', '-w'], cliEnv);
  });
  afterAll(async () => {
    rmSync(hold, { force: true });
    await up?.stop('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('finishes the restore after the kill: every file as in the snapshot, only the untouched ones left alone', async () => {
    const files = join(dataDir, 'instances', readdirSync(join(dataDir, 'instances'))[0]!, 'files');
    const all: string[] = [];
    for (let d = 0; d < FOLDERS; d++) {
      mkdirSync(join(files, `dir${d}`), { recursive: true });
      for (let f = 0; f < PER_FOLDER; f++) {
        writeFileSync(pathOf(files, d, f), content(d, f, 0));
        all.push(pathOf(files, d, f));
      }
    }
    await fsClockPast(...all);
    await handoutOk(['snapshots', 'create', '-n', 'v1', '--wait'], cliEnv);
    const changed: Array<[d: number, f: number]> = [];
    for (let d = 0; d < FOLDERS; d += 2) {
      for (let f = 0; f < PER_FOLDER; f++) {
        writeFileSync(pathOf(files, d, f), content(d, f, 1));
        changed.push([d, f]);
      }
    }
    const changedPaths = changed.map(([d, f]) => pathOf(files, d, f));
    // Past the clock tick of the changes: the safety snapshot then trusts every hash it takes.
    await fsClockPast(...changedPaths);
    const untouched = new Map(all.filter((p) => !changedPaths.includes(p)).map((p) => [p, lstatSync(p).ino]));

    writeFileSync(hold, '');
    const [started] = await handoutJson<TaskStarted[]>(['snapshots', 'restore', '-p', 'v1'], cliEnv);
    const deadline = Date.now() + 120_000;
    while (!existsSync(syncLog)) {
      if (Date.now() > deadline) throw new Error('the restore never reached a sync of the files');
      await sleep(10);
    }
    expect(await up!.stop('SIGKILL')).toBeNull();
    up = undefined;
    // The killed attempt had renamed files into place: some changed file holds the snapshot's bytes again.
    expect(changed.some(([d, f]) => readFileSync(pathOf(files, d, f)).equals(content(d, f, 0)))).toBe(true);

    rmSync(hold);
    up = await startHandoutUp(serverEnv);
    const [done] = await handoutJson<TaskView[]>(['tasks', 'get', started!.task_id, '--wait', '--timeout', '180'], cliEnv);
    expect(done).toMatchObject({ status: 'COMPLETED', result: { files_written: changed.length, files_unchanged: all.length - changed.length, files_removed: 0 } });
    // The applying step ran twice: the kill came in the middle of it.
    const connection = await Connection.connect({ address: testTemporalAddress() });
    try {
      const { events } = await new Client({ connection }).workflow.getHandle(started!.task_id).fetchHistory();
      const scheduled = new Map((events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes ? [[String(e.eventId), e.activityTaskScheduledEventAttributes.activityType!.name!]] : [])));
      const applyFiles = (events ?? []).flatMap((e) => (e.activityTaskStartedEventAttributes && scheduled.get(String(e.activityTaskStartedEventAttributes.scheduledEventId)) === 'applyFiles' ? [e.activityTaskStartedEventAttributes.attempt] : []));
      expect(applyFiles).toEqual([2]);
    } finally {
      await connection.close();
    }
    // Every file holds the snapshot's bytes; the untouched ones are the very files they were; nothing else is there.
    for (let d = 0; d < FOLDERS; d++) {
      expect(readdirSync(join(files, `dir${d}`)).length).toBe(PER_FOLDER);
      for (let f = 0; f < PER_FOLDER; f++) expect(readFileSync(pathOf(files, d, f)).equals(content(d, f, 0))).toBe(true);
    }
    expect([...untouched].filter(([p, ino]) => lstatSync(p).ino !== ino)).toEqual([]);
  });
});
