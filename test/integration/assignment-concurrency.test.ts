import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import type { AssignmentView, AuditEvent, HandinReceipt, HandinView, StudentStatusRow, TaskStarted } from '../../src/domain';
import { handins } from '../../src/store/catalog/schema';
import { inst, upload } from '../helpers/content';
import { createInstance, finishedTask, grant, groupAssignment, userWithKey } from '../helpers/fixtures';
import { startTestStack, type TestStack } from '../helpers/services';

const STUDENTS = 100;
const A = '/api/v1/orgs/uni/spaces/course/assignments';
const slugOf = (i: number) => `s${String(i).padStart(3, '0')}`;
const emailOf = (i: number) => `${slugOf(i)}@uni.edu`;
/** Each student's own answers: different bytes (and sizes) for every student. */
const answersOf = (i: number) => `Answers of ${slugOf(i)}\n${'x = 42\n'.repeat(i + 1)}`;
const sha256 = (bytes: string | Buffer) => createHash('sha256').update(bytes).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type ErrorReply = { error: { code: string; message: string } };

/**
 * The worst moment of a course, on the real dev server: every student hands in at the same instant.
 * Each hand-in is an update of that student's own deadline workflow, so nothing may be lost to a race,
 * counted twice, or credited to the wrong student.
 */
describe('100 students handing in at the same moment', () => {
  let stack: TestStack;
  const keys = new Map<string, string>();
  const students = Array.from({ length: STUDENTS }, (_, i) => i);

  beforeAll(async () => {
    stack = await startTestStack('handin-concurrency');
    await stack.call('POST', '/api/v1/orgs', { body: { slug: 'uni', name: 'Uni' } });
    await stack.call('POST', '/api/v1/orgs/uni/spaces', { body: { slug: 'course', name: 'Course' } });
    keys.set('prof', await userWithKey(stack, 'prof@uni.edu'));
    await grant(stack, { user_email: 'prof@uni.edu', role: 'space_admin', org_slug: 'uni', space_slug: 'course' });
    await createInstance(stack, 'uni', 'course', 'master');
    await upload(stack, inst('uni', 'course', 'master'), '/files/hw/questions.md', 'Q1: what is x?\n');
    await upload(stack, inst('uni', 'course', 'master'), '/files/hw/answers.md', 'x = ?\n');
    // Student instances through the API (all creation tasks at once), not inserted into the catalog:
    // each student must own their instance and be its editor, exactly as `instances create --student`
    // makes them, because the test hands in and uploads as the students themselves.
    await Promise.all(students.map(async (i) => keys.set(slugOf(i), await userWithKey(stack, emailOf(i)))));
    const started = await Promise.all(
      students.map((i) => stack.call<TaskStarted & ErrorReply>('POST', '/api/v1/orgs/uni/spaces/course/instances', { body: { name: `Student ${i}`, slug: slugOf(i), student: emailOf(i) } })),
    );
    expect(started.filter((s) => s.status !== 202).map((s) => s.body)).toEqual([]);
    for (const s of started) expect((await finishedTask(stack, s.body.task_id, undefined, 120_000)).status).toBe('COMPLETED');
  }, 180_000);
  afterAll(() => stack?.close());

  it('stores each of 100 concurrent hand-ins exactly once, under the right student, and keeps them when the assignment is cancelled', async () => {
    const prof = keys.get('prof')!;
    // Due in a few minutes: the whole test runs well before it, so no hand-in is late and none is collected.
    const created = await stack.call<TaskStarted & { assignment: AssignmentView } & ErrorReply>('POST', A, {
      key: prof,
      body: groupAssignment('hw', 'hw', { name: 'Homework', due_at: new Date(Date.now() + 5 * 60_000).toISOString() }),
    });
    expect(created.status).toBe(202);
    // The assignment task completes once the material is out and every student's deadline workflow runs.
    expect((await finishedTask(stack, created.body.task_id, prof, 120_000)).status).toBe('COMPLETED');
    const assignmentId = created.body.task_id.replace(/^assignment\//, '');

    // Each student writes their own answers, as themselves.
    const uploads = await Promise.all(students.map((i) => upload(stack, inst('uni', 'course', slugOf(i)), '/files/hw/answers.md', answersOf(i), keys.get(slugOf(i)))));
    expect(uploads.filter((u) => u.status !== 201).map((u) => u.body)).toEqual([]);

    // All 100 at once, each with their own key.
    const replies = await Promise.all(
      students.map((i) => stack.call<HandinReceipt & ErrorReply>('POST', `${A}/hw/handins`, { key: keys.get(slugOf(i)), body: { identifier: `submission of ${slugOf(i)}` } })),
    );
    expect(replies.filter((r) => r.status !== 201).map((r) => [r.status, r.body])).toEqual([]);
    const receipts = replies.map((r) => r.body);
    expect(receipts.map((r) => [r.student, r.instance, r.version, r.files, r.bytes, r.late, r.auto_collected, r.identifier])).toEqual(
      students.map((i) => [emailOf(i), `uni/course/${slugOf(i)}`, 1, 1, Buffer.byteLength(answersOf(i)), false, false, `submission of ${slugOf(i)}`]),
    );
    expect(new Set(receipts.map((r) => r.sha256)).size).toBe(STUDENTS);

    // Each receipt's hash names a stored manifest listing that student's own answers, not anyone else's:
    // as the hand-in reads back through the API, and as the content-addressed blob itself.
    for (const i of students) {
      const receipt = receipts[i]!;
      const view = await stack.call<HandinView>('GET', `${A}/hw/handins/1?student=${slugOf(i)}`, { key: prof });
      expect(view.body).toMatchObject({ sha256: receipt.sha256, version: 1, auto_collected: false });
      expect(view.body.manifest).toEqual([{ path: '/files/hw/answers.md', size: Buffer.byteLength(answersOf(i)), sha256: sha256(answersOf(i)) }]);
      const blob = readFileSync(join(stack.dataDir, 'blobs', 'sha256', receipt.sha256.slice(0, 2), receipt.sha256.slice(2)));
      expect(sha256(blob)).toBe(receipt.sha256);
      expect((JSON.parse(blob.toString('utf8')) as { files: unknown }).files).toEqual(view.body.manifest);
    }

    // The status grid: 100 times "handed in", each with that student's receipt hash.
    const grid = (await stack.call<StudentStatusRow[]>('GET', `${A}/hw/status`, { key: prof })).body;
    expect(grid.map((r) => [r.instance, r.state, r.latest_version, r.sha256])).toEqual(students.map((i) => [slugOf(i), 'handed in', 1, receipts[i]!.sha256]));

    // The catalog: exactly one row per student; the audit log: exactly one `handin.submitted` each.
    const rows = await stack.catalog.db.select().from(handins).where(eq(handins.assignmentId, assignmentId));
    expect(rows).toHaveLength(STUDENTS);
    expect(new Set(rows.map((r) => r.instanceId)).size).toBe(STUDENTS);
    expect(rows.every((r) => r.version === 1 && !r.autoCollected)).toBe(true);
    const submitted = (await stack.call<AuditEvent[]>('GET', `/api/v1/audit?subject=assignment:uni/course/hw&action=handin.submitted`, { key: prof })).body;
    expect(submitted.map((e) => (e.details as { student: string }).student).sort()).toEqual(students.map(emailOf));

    // Cancel, so no deadline timer outlives the test on the shared server; stored hand-ins stay.
    const cancelled = await stack.call<AssignmentView>('POST', `${A}/hw/cancel`, { key: prof });
    expect(cancelled).toMatchObject({ status: 200, body: { status: 'cancelled' } });
    const workflowIds = rows.map((r) => `assignment/${assignmentId}/student/${r.instanceId}`);
    const deadline = Date.now() + 60_000;
    for (const id of workflowIds) {
      for (;;) {
        const { status } = await stack.deps.temporal.workflow.getHandle(id).describe();
        if (status.name === 'CANCELLED') break;
        if (Date.now() > deadline) throw new Error(`${id} is still ${status.name} after the cancellation`);
        await sleep(100);
      }
    }
    const kept = (await stack.call<HandinView[]>('GET', `${A}/hw/handins`, { key: prof })).body;
    expect(kept.map((h) => [h.instance, h.version, h.sha256])).toEqual(students.map((i) => [`uni/course/${slugOf(i)}`, 1, receipts[i]!.sha256]));
    expect(await stack.catalog.db.select().from(handins).where(eq(handins.assignmentId, assignmentId))).toHaveLength(STUDENTS);
    const after = (await stack.call<StudentStatusRow[]>('GET', `${A}/hw/status`, { key: prof })).body;
    expect(after.map((r) => [r.state, r.latest_version])).toEqual(students.map(() => ['cancelled', 1]));
  }, 120_000);
});
