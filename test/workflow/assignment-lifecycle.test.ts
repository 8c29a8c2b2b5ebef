import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { asc } from 'drizzle-orm';
import type { CreateAssignment, HandinReceipt } from '../../src/domain';
import type { CapturedHandin } from '../../src/domain/assignment-run';
import { blobStoreOf } from '../../src/store/blobs';
import { captureHandinTree } from '../../src/store/handin-capture';
import * as assignments from '../../src/service/assignments';
import { assignmentStatus } from '../../src/service/assignment-status';
import type { Principal, ServiceDeps } from '../../src/service/deps';
import { HandoutError } from '../../src/service/errors';
import * as feedback from '../../src/service/feedback';
import * as handins from '../../src/service/handins';
import { listAuditEvents } from '../../src/store/catalog/audit-log';
import { insertOrg, insertSpace, registerInstance } from '../../src/store/catalog/directory';
import { insertGrant, insertUser } from '../../src/store/catalog/identity';
import { handins as handinRows } from '../../src/store/catalog/schema';
import { createInstanceStorage, instancePaths } from '../../src/store/instance-storage';
import { freshCatalog } from '../helpers/catalog';
import { waitFor } from '../helpers/wait';
import { testWorker, timeSkippingEnv } from '../helpers/workflow-env';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ZONE = 'Europe/Zurich';

/**
 * Whole assignments on Temporal's time-skipping test server, with deadlines days and months away,
 * driven through the real service layer (the one the HTTP API calls) with real activities, catalog
 * and files; the deadline clock is the test server's.
 */
describe('assignment lifecycle (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  let cat: Awaited<ReturnType<typeof freshCatalog>>;
  let worker: Worker;
  let deps: ServiceDeps;
  let run: Promise<void>;
  const taskQueue = `assignments-${randomUUID()}`;
  const prof: Principal = { userId: '', email: 'prof@uni.edu', isAdmin: false };
  const students: Record<string, Principal & { instanceId: string }> = {};
  let spaceId = '';

  const filesOf = (who: string) => instancePaths(cat.dir, students[who]!.instanceId).files;
  const write = (who: string, path: string, text: string) => {
    mkdirSync(join(filesOf(who), path, '..'), { recursive: true });
    writeFileSync(join(filesOf(who), path), text);
  };
  /** Moves the test server's clock to `instant` (timers due meanwhile fire in order). */
  const sleepUntil = async (instant: string | Date) => {
    const ms = new Date(instant).getTime() - (await env.currentTimeMs());
    if (ms > 0) await env.sleep(ms);
  };
  const submit = (who: string, extra: { student?: string; identifier?: string } = {}) => handins.submitHandin(deps, students[who]!, 'uni', 'course', current, extra);
  const refusal = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err) {
      if (err instanceof HandoutError) return `${err.code}: ${err.message}`;
      throw err;
    }
    throw new Error('expected a refusal');
  };
  let current = '';
  const create = async (slug: string, body: Partial<CreateAssignment>) => {
    current = slug;
    return assignments.createAssignment(deps, prof, 'uni', 'course', {
      name: slug,
      slug,
      source: { org_slug: 'uni', space_slug: 'course', instance_slug: 'master' },
      files: ['/files/hw'],
      handin: ['/files/hw/answers.md'],
      targets: 'group',
      timezone: ZONE,
      due_at: '',
      ...body,
    } as CreateAssignment);
  };
  const versionsOf = async (who: string) =>
    (await cat.catalog.db.select().from(handinRows).orderBy(asc(handinRows.version))).filter((h) => h.instanceId === students[who]!.instanceId && h.assignmentId === assignmentId());
  let ids: Record<string, string> = {};
  const assignmentId = () => ids[current]!;

  beforeAll(async () => {
    [env, cat] = await Promise.all([timeSkippingEnv(), freshCatalog()]);
    const db = cat.catalog.db;
    const profRow = await insertUser(db, { id: randomUUID(), email: 'prof@uni.edu', name: 'Prof' });
    prof.userId = profRow.id;
    const org = await insertOrg(db, { id: randomUUID(), slug: 'uni', name: 'Uni' });
    const space = await insertSpace(db, { id: randomUUID(), orgId: org.id, slug: 'course', name: 'Course' });
    spaceId = space.id;
    await insertGrant(db, { id: randomUUID(), userId: profRow.id, role: 'space_admin', spaceId });
    const master = randomUUID();
    await registerInstance(db, { id: master, spaceId, slug: 'master', name: 'master', status: 'ready', createdBy: profRow.id });
    await createInstanceStorage(cat.dir, master);
    mkdirSync(join(instancePaths(cat.dir, master).files, 'hw'), { recursive: true });
    writeFileSync(join(instancePaths(cat.dir, master).files, 'hw/questions.md'), 'Q1\n');
    writeFileSync(join(instancePaths(cat.dir, master).files, 'hw/answers.md'), 'A1: ?\n');
    for (const who of ['s1', 's2', 's3', 's4']) {
      const user = await insertUser(db, { id: randomUUID(), email: `${who}@uni.edu`, name: who });
      const instanceId = randomUUID();
      await registerInstance(db, { id: instanceId, spaceId, slug: who, name: who, status: 'ready', group: 'students', ownerId: user.id, createdBy: profRow.id });
      await insertGrant(db, { id: randomUUID(), userId: user.id, role: 'instance_editor', spaceId, instanceId });
      await createInstanceStorage(cat.dir, instanceId);
      students[who] = { userId: user.id, email: user.email, isAdmin: false, instanceId };
    }
    deps = {
      catalog: cat.catalog,
      temporal: env.client,
      taskQueue,
      temporalUiUrl: null,
      version: 'test',
      dataDir: cat.dir,
      maxUploadBytes: 1e9,
      blobGcGraceMs: DAY,
      distributionConcurrency: 4,
    };
    worker = await testWorker(env, taskQueue, { catalog: cat.catalog, dataDir: cat.dir });
    run = worker.run();
  });
  afterAll(async () => {
    worker?.shutdown();
    await run;
    await env?.teardown();
    await cat?.cleanup();
  });

  it('accept-late: a hand-in after the deadline is accepted and flagged late until the cut-off, and graded', async () => {
    const t0 = await env.currentTimeMs();
    const due = new Date(t0 + 3 * DAY);
    const cutoff = new Date(t0 + 5 * DAY);
    await create('late', { due_at: due.toISOString(), late_policy: 'accept-late', cutoff_at: cutoff.toISOString() });
    ids.late = (await assignments.findAssignment(deps, 'uni', 'course', 'late')).assignment.id;
    await waitForRelease();
    write('s1', 'hw/answers.md', 'on time\n');
    await submit('s1');
    await sleepUntil(new Date(due.getTime() + DAY));
    write('s1', 'hw/answers.md', 'better, but late\n');
    const late: HandinReceipt = await submit('s1');
    expect(late).toMatchObject({ version: 2, late: true });
    await sleepUntil(new Date(cutoff.getTime() + HOUR));
    expect(await refusal(submit('s1'))).toMatch(/hand-in is closed: it closed at /);
    const rows = await handins.listHandins(deps, prof, 'uni', 'course', 'late', 's1');
    expect(rows.map((h) => [h.version, h.late, h.graded])).toEqual([
      [1, false, false],
      [2, true, true],
    ]);
  }, 60_000);

  it('counts a hand-in from when the API received it, not from when a busy worker got to it', async () => {
    const t0 = await env.currentTimeMs();
    const due = t0 + 2 * DAY;
    await create('queue', { due_at: new Date(due).toISOString(), targets: [{ org_slug: 'uni', space_slug: 'course', instance_slug: 's2' }] as never });
    ids.queue = (await assignments.findAssignment(deps, 'uni', 'course', 'queue')).assignment.id;
    await waitForRelease();
    write('s2', 'hw/answers.md', 'sent at 23:59:50, processed after the deadline\n');
    await sleepUntil(new Date(due + 30_000));
    const captured = await captureHandinTree(await blobStoreOf(cat.dir), instancePaths(cat.dir, students.s2!.instanceId), ['hw/answers.md']);
    const handle = env.client.workflow.getHandle(`assignment/${assignmentId()}/student/${students.s2!.instanceId}`);
    const received = new Date(due - 10_000).toISOString();
    const receipt = await handle.executeUpdate<HandinReceipt, [CapturedHandin]>('handIn', { args: [{ ...captured, identifier: null, actor: 'user:s2@uni.edu', receivedAt: received }] });
    expect(receipt).toMatchObject({ late: false, handed_in_at: received, auto_collected: false });
    // Recorded after the close (the workflow was idle, waiting for an extension): its receipt is still mailed.
    const outbox = join(cat.dir, 'outbox');
    const receiptMailed = () =>
      existsSync(outbox) && readdirSync(outbox).some((name) => readFileSync(join(outbox, name), 'utf8').includes(`Subject: Hand-in receipt: uni/course/queue, version ${receipt.version}`));
    await waitFor(receiptMailed, { timeoutMs: 20_000, everyMs: 100 });
    expect(receiptMailed()).toBe(true);
    // A receipt time far behind the workflow's clock is not trusted: the hand-in counts now, and is refused.
    const stale = handle.executeUpdate('handIn', { args: [{ ...captured, identifier: null, actor: 'user:s2@uni.edu', receivedAt: new Date(due - 3_600_000).toISOString() }] });
    await expect(stale).rejects.toThrow();
  }, 60_000);

  it('cancelling before the release stops the release timer: nothing is distributed', async () => {
    const t0 = await env.currentTimeMs();
    await create('never', { release_at: new Date(t0 + 2 * DAY).toISOString(), due_at: new Date(t0 + 4 * DAY).toISOString(), files: ['/files/hw/questions.md'], handin: ['/files/hw/questions.md'] });
    ids.never = (await assignments.findAssignment(deps, 'uni', 'course', 'never')).assignment.id;
    await assignments.cancelAssignment(deps, prof, 'uni', 'course', 'never');
    await sleepUntil(new Date(t0 + 5 * DAY));
    const status = await env.client.workflow.getHandle(`assignment/${assignmentId()}`).describe();
    expect(status.status.name).toBe('CANCELLED');
    expect((await assignmentStatus(deps, prof, 'uni', 'course', 'never')).length).toBe(0);
  }, 60_000);

  it('refuses bad input with a clear error: time zone, due before release, cut-off before due, hand-in outside the material', async () => {
    const cases: [Partial<CreateAssignment>, RegExp][] = [
      [{ timezone: 'Mars/Olympus', due_at: '2030-01-01T10:00' }, /unknown time zone "Mars\/Olympus"/],
      [{ release_at: '2030-01-05T10:00', due_at: '2030-01-04T10:00' }, /due time .* is not after the release/],
      [{ due_at: '2030-01-04T10:00', late_policy: 'accept-late', cutoff_at: '2030-01-03T10:00' }, /cut-off .* is not after the due time/],
      [{ due_at: '2030-01-04T10:00', late_policy: 'accept-late' }, /needs --cutoff-at/],
      [{ due_at: '2030-01-04T10:00', handin: ['/files/solutions.md'] }, /hand-in path \/files\/solutions.md is not in the material/],
      [{ due_at: '2030-03-31T02:30' }, /does not exist in Europe\/Zurich/],
      [{ due_at: 'next friday' }, /--due-at: "next friday" is not a time/],
    ];
    for (const [body, message] of cases) {
      const before = await listAuditEvents(cat.catalog.db, { limit: 100000 });
      expect(await refusal(create(`bad-${randomUUID().slice(0, 8)}`, body))).toMatch(message);
      expect(await listAuditEvents(cat.catalog.db, { limit: 100000 })).toEqual(before);
    }
  });

  // Last: the test server does not release its time-skipping lock when a workflow that handled an
  // update ends (temporalio/sdk-java#1138 and kin), so the test that cancels such workflows runs last.
  it('hard deadline on a daylight-saving day: release, hand-ins, last second, extension before and after, auto-collection, feedback, cancel', async () => {
    // 28 March 2027: clocks in Zurich go from 02:00 to 03:00. 23:59 that evening is CEST, 21:59 UTC.
    const created = await create('dst', { release_at: '2027-03-27T09:00', due_at: '2027-03-28T23:59', size_limit_bytes: 10_000 });
    ids.dst = (await assignments.findAssignment(deps, 'uni', 'course', 'dst')).assignment.id;
    expect(created.assignment).toMatchObject({ due_at_utc: '2027-03-28T21:59:00.000Z', due_at: '2027-03-28T23:59:00+02:00 Europe/Zurich', release_at_utc: '2027-03-27T08:00:00.000Z' });

    expect(await refusal(submit('s1'))).toMatch(/^conflict: assignment dst is not released yet: it opens at 2027-03-27T09:00:00\+01:00/);
    await sleepUntil('2027-03-27T08:00:30Z');
    await waitForRelease();
    expect(readFileSync(join(filesOf('s1'), 'hw/questions.md'), 'utf8')).toBe('Q1\n');

    write('s1', 'hw/answers.md', 'A1: 42\n');
    const first = await submit('s1');
    expect(first).toMatchObject({ version: 1, late: false, auto_collected: false });
    await assignments.extendAssignment(deps, prof, 'uni', 'course', 'dst', { student: 's2@uni.edu', until: '2027-03-30T12:00' });

    // The last second before the deadline still counts; one second after does not.
    await sleepUntil('2027-03-28T21:58:59Z');
    write('s3', 'hw/answers.md', 'A1: just in time\n');
    expect(await submit('s3')).toMatchObject({ version: 1, late: false });
    await sleepUntil('2027-03-28T21:59:01Z');
    expect(await refusal(submit('s1'))).toMatch(
      /^conflict: hand-in is closed: it closed at 2027-03-28T23:59:00\+02:00 Europe\/Zurich; this hand-in counts from 2027-03-28T23:59:0[1-9]\+02:00 Europe\/Zurich$/,
    );
    // s4 never handed in: collected at the deadline, exactly once; s2 (extended) is not collected yet.
    await sleepUntil('2027-03-28T23:00:00Z');
    const s4 = await versionsOf('s4');
    expect(s4.map((h) => [h.version, h.autoCollected, h.late])).toEqual([[1, true, false]]);
    expect(s4[0]!.handedInAt.toISOString() >= '2027-03-28T21:59:00.000Z').toBe(true);
    expect(await versionsOf('s2')).toEqual([]);
    write('s2', 'hw/answers.md', 'A1: with more time\n');
    expect(await submit('s2')).toMatchObject({ version: 1, late: false });

    // An extension after the deadline reopens hand-in for that student only.
    await assignments.extendAssignment(deps, prof, 'uni', 'course', 'dst', { student: 's4', until: '2027-04-02T12:00' });
    write('s4', 'hw/answers.md', 'A1: sorry, late but extended\n');
    expect(await submit('s4')).toMatchObject({ version: 2, late: false, auto_collected: false });
    expect(await refusal(submit('s3'))).toMatch(/hand-in is closed/);

    const grid = await assignmentStatus(deps, prof, 'uni', 'course', 'dst');
    expect(grid.map((r) => [r.instance, r.state, r.latest_version, r.extended_until])).toEqual([
      ['s1', 'handed in', 1, null],
      ['s2', 'handed in', 1, '2027-03-30T12:00:00+02:00 Europe/Zurich'],
      ['s3', 'handed in', 1, null],
      ['s4', 'handed in', 2, '2027-04-02T12:00:00+02:00 Europe/Zurich'],
    ]);
    expect(grid.find((r) => r.instance === 's2')!.effective_deadline).toBe('2027-03-30T12:00:00+02:00 Europe/Zurich');

    // Feedback: stored, invisible to the student until released, then read-only in their instance.
    await feedback.putFeedback(deps, prof, 'uni', 'course', 'dst', { student: 's1', grade: '6', comment: 'Well argued.' });
    expect(await feedback.getFeedback(deps, students.s1!, 'uni', 'course', 'dst')).toEqual([]);
    expect(await refusal(feedback.putFeedback(deps, prof, 'uni', 'course', 'dst', { student: 's1', version: 7, grade: '1' }))).toMatch(/^not_found: hand-in version 7 of s1@uni.edu/);
    const uploaded = await feedback.uploadFeedbackFile(deps, prof, 'uni', 'course', 'dst', Readable.from([Buffer.from('corrected\n')]));
    await feedback.putFeedback(deps, prof, 'uni', 'course', 'dst', { student: 's1', grade: '5.5', files: [{ path: 'corrected.md', ...uploaded }] });
    const release = await feedback.releaseFeedback(deps, prof, 'uni', 'course', 'dst', { students: ['s1'] });
    expect(await finished(release.task_id)).toBe('COMPLETED');
    const handback = join(filesOf('s1'), 'handback/dst/1');
    expect(readFileSync(join(handback, 'corrected.md'), 'utf8')).toBe('corrected\n');
    expect(readFileSync(join(handback, 'FEEDBACK.md'), 'utf8')).toContain('Grade: 5.5');
    expect(statSync(join(handback, 'corrected.md')).mode & 0o777).toBe(0o444);
    expect((await feedback.getFeedback(deps, students.s1!, 'uni', 'course', 'dst')).map((f) => [f.version, f.grade])).toEqual([[2, '5.5']]);
    const grades = await feedback.exportGrades(deps, prof, 'uni', 'course', 'dst');
    expect(grades.map((g) => [g.instance, g.graded_version, g.grade, g.feedback_released])).toEqual([
      ['s1', 1, '5.5', true],
      ['s2', 1, null, false],
      ['s3', 1, null, false],
      ['s4', 2, null, false],
    ]);

    // Cancelling stops every timer: each student's workflow ends (CANCELLED), hand-ins stay.
    await assignments.cancelAssignment(deps, prof, 'uni', 'course', 'dst');
    expect(await refusal(submit('s2'))).toMatch(/was cancelled/);
    for (const who of ['s1', 's2', 's3', 's4']) expect(await finished(`assignment/${assignmentId()}/student/${students[who]!.instanceId}`)).toBe('CANCELLED');
    expect((await versionsOf('s2')).length).toBe(1);
    expect((await versionsOf('s4')).length).toBe(2);

    const story = (await listAuditEvents(cat.catalog.db, { subject: 'assignment:uni/course/dst', limit: 1000 })).map((e) => e.action);
    for (const action of ['assignment.created', 'assignment.released', 'handin.submitted', 'handin.rejected', 'assignment.extended', 'handin.auto_collected', 'feedback.stored', 'feedback.released', 'assignment.cancelled']) {
      expect(story).toContain(action);
    }
  }, 120_000);

  /** Waits until the current assignment's release workflow has finished. */
  async function waitForRelease() {
    await finished(`assignment/${assignmentId()}`);
  }

  /**
   * Polls (in real time) until a workflow has closed. Awaiting its result instead would let the test
   * server skip time, past the very deadlines the test is about.
   */
  async function finished(workflowId: string) {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { status } = await env.client.workflow.getHandle(workflowId).describe();
      if (status.name !== 'RUNNING') return status.name;
      if (Date.now() > deadline) {
        const d = await env.client.workflow.getHandle(workflowId).describe();
        throw new Error(`${workflowId} still running: ${JSON.stringify(d.raw.pendingActivities?.map((a) => [a.activityType?.name, a.attempt, a.lastFailure?.message]))}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
});
