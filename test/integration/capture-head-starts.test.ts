import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureHeadStarts } from '../../src/activities/capture-head-starts';
import { createQuickCapture, type CapturedFiles, type QuickCaptureUnfinished } from '../../src/activities/snapshots';
import { instancePaths } from '../../src/store/instance-storage';
import { StatCache } from '../../src/store/stat-cache';
import { waitFor } from '../helpers/wait';

// Captures begun with a snapshot's request, for its workflow's quick capture to take over: the real
// quick capture on real instance folders (a data directory of its own), without Temporal.

type Outcome = CapturedFiles | QuickCaptureUnfinished;

let dataDir: string;
let n = 0;
const instances: string[] = [];
/** Every capture begun, finished or stopped: the data directory is removed only once all have settled. */
const captures: Promise<unknown>[] = [];
/** The real quick capture, each run kept in `captures`. */
function quickCapture() {
  const capture = createQuickCapture({ dataDir });
  return (instanceId: string, cancelled: AbortSignal) => {
    const result = capture(instanceId, cancelled);
    captures.push(result.catch(() => undefined));
    return result;
  };
}
/** A new instance folder with `count` files; its id. */
function instanceWith(count: number): string {
  const id = `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
  instances.push(id);
  const files = instancePaths(dataDir, id).files;
  mkdirSync(join(files, 'sub'), { recursive: true });
  for (let i = 0; i < count; i++) writeFileSync(join(files, 'sub', `f${i}.txt`), `file ${i} of ${id}`);
  return id;
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'handout-head-starts-'));
});
afterAll(async () => {
  // A stopped or answered capture still writes its stat cache (on abort, or deferred past its answer),
  // holding the cache until then: opening each one waits for that last save.
  await Promise.all(captures);
  for (const id of instances) await StatCache.use(instancePaths(dataDir, id).statCache, async () => undefined);
  await rm(dataDir, { recursive: true, force: true });
});

describe('a capture begun with a request', () => {
  it('is handed once to the task it was begun for, with the files as captured', async () => {
    const heads = new CaptureHeadStarts<Outcome>(quickCapture());
    const id = instanceWith(3);
    heads.begin('snapshot-1', id);
    heads.begin('snapshot-1', id); // a second begin for the same task changes nothing
    const claimed = heads.claim('snapshot-1', id);
    expect(heads.claim('snapshot-1', id)).toBeUndefined();
    expect(await claimed!.result).toMatchObject({ files: 3, hashedFiles: 3, reusedFiles: 0 });
    expect(heads.counts).toEqual({ begun: 1, claimed: 1, abandoned: 0 });
    expect(heads.waiting).toBe(0);
  });

  it('is not handed to a task of another instance, and is stopped then', async () => {
    const heads = new CaptureHeadStarts<Outcome>(quickCapture());
    heads.begin('snapshot-2', instanceWith(1));
    expect(heads.claim('snapshot-2', instanceWith(1))).toBeUndefined();
    expect(heads.counts).toEqual({ begun: 1, claimed: 0, abandoned: 1 });
    expect(heads.waiting).toBe(0);
  });

  it('is stopped when nobody claims it in time, or when its task could not start', async () => {
    const seen: AbortSignal[] = [];
    const capture = quickCapture();
    const heads = new CaptureHeadStarts<Outcome>((instanceId, cancelled) => {
      seen.push(cancelled);
      return capture(instanceId, cancelled);
    }, 100);
    heads.begin('snapshot-3', instanceWith(2));
    heads.begin('snapshot-4', instanceWith(2));
    heads.abandon('snapshot-4');
    expect(seen[1]!.aborted).toBe(true);
    expect(seen[0]!.aborted).toBe(false);
    await waitFor(() => seen[0]!.aborted, { everyMs: 10 });
    expect(heads.claim('snapshot-3', 'any')).toBeUndefined();
    expect(heads.counts).toEqual({ begun: 2, claimed: 0, abandoned: 2 });
    expect(heads.waiting).toBe(0);

    // A stopping process stops all that wait.
    heads.begin('snapshot-6', instanceWith(1));
    heads.begin('snapshot-7', instanceWith(1));
    heads.abandonAll();
    expect(seen.slice(2).map((signal) => signal.aborted)).toEqual([true, true]);
    expect(heads.waiting).toBe(0);
  });

  it('stops when the activity that claimed it is cancelled, with the cancellation', async () => {
    const heads = new CaptureHeadStarts<Outcome>(quickCapture());
    heads.begin('snapshot-5', instanceWith(2000));
    const claimed = heads.claim('snapshot-5', `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`)!;
    claimed.cancel();
    await expect(claimed.result).rejects.toMatchObject({ name: 'AbortError' });
  });
});
