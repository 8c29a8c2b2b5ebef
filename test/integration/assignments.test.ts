import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AssignmentView, AuditEvent, HandinReceipt, HandinView, StudentStatusRow, TaskStarted, TaskView } from '../../src/domain';
import { findInstance, findOrg, findSpace } from '../../src/store/catalog/directory';
import { instancePaths } from '../../src/store/instance-storage';
import { outboxMails, users } from '../../src/store/catalog/schema';
import { eq, isNull } from 'drizzle-orm';
import { Client, ServiceError, WorkflowNotFoundError } from '@temporalio/client';
import { submitHandin } from '../../src/service/handins';
import { inst, upload } from '../helpers/content';
import { createInstance, finishedTask, groupAssignment, userWithKey } from '../helpers/fixtures';
import { waitFor } from '../helpers/wait';
import { startTestStack, type TestStack } from '../helpers/services';
import { expectOnlyAudited, expectUnchanged } from '../helpers/unchanged';

type ErrorReply = { error: { code: string; message: string } };
const A = '/api/v1/orgs/uni/spaces/course/assignments';

/** Real time on the shared dev server: a deadline a few seconds away, hand-ins before and after it. */
describe('assignments on the real stack', () => {
  let stack: TestStack;
  const keys: Record<string, string> = {};
  let filesOf: (slug: string) => Promise<string>;

  const createStudent = async (slug: string) => {
    keys[slug] = await userWithKey(stack, `${slug}@uni.edu`);
    const res = await stack.call<TaskStarted>('POST', '/api/v1/orgs/uni/spaces/course/instances', { body: { name: slug, slug, student: `${slug}@uni.edu` } });
    return finishedTask(stack, res.body.task_id);
  };

  beforeAll(async () => {
    stack = await startTestStack('assignments');
    await stack.call('POST', '/api/v1/orgs', { body: { slug: 'uni', name: 'Uni' } });
    await stack.call('POST', '/api/v1/orgs/uni/spaces', { body: { slug: 'course', name: 'Course' } });
    keys.prof = await userWithKey(stack, 'prof@uni.edu');
    await stack.call('POST', '/api/v1/roles', { body: { user_email: 'prof@uni.edu', role: 'space_admin', org_slug: 'uni', space_slug: 'course' } });
    await createInstance(stack, 'uni', 'course', 'master');
    await upload(stack, inst('uni', 'course', 'master'), '/files/hw1/questions.md', 'Q1: why?\n');
    await upload(stack, inst('uni', 'course', 'master'), '/files/hw1/answers.md', 'A1: \n');
    for (const s of ['s1', 's2', 's3']) await createStudent(s);
    const db = stack.catalog.db;
    const space = (await findSpace(db, (await findOrg(db, 'uni'))!.id, 'course'))!;
    filesOf = async (slug) => instancePaths(stack.dataDir, (await findInstance(db, space.id, slug))!.id).files;
  });
  afterAll(() => stack?.close());

  const submit = (student: string, body: Record<string, unknown> = {}) => stack.call<HandinReceipt & ErrorReply>('POST', `${A}/hw1/handins`, { key: keys[student], body });

  it('releases, takes hand-ins, refuses what it must, collects the missing ones at the deadline, and tells the story', async () => {
    const dueAt = new Date(Date.now() + 12_000).toISOString();
    const created = await stack.call<TaskStarted & { assignment: AssignmentView } & ErrorReply>('POST', A, {
      key: keys.prof,
      body: groupAssignment('hw1', 'hw1', { name: 'Homework 1', due_at: dueAt, size_limit_bytes: 1000 }),
    });
    expect(created.status).toBe(202);
    expect(created.body.assignment).toMatchObject({ slug: 'hw1', status: 'scheduled', due_at_utc: dueAt, late_policy: 'hard', handin: ['/files/hw1/answers.md'] });
    expect((await finishedTask(stack, created.body.task_id, keys.prof)).status).toBe('COMPLETED');
    // Released: every student has the material.
    for (const s of ['s1', 's2', 's3']) expect(Object.keys((await stack.call<unknown[]>('GET', `${inst('uni', 'course', s)}/files?path=/files/hw1`, { key: keys[s] })).body)).toHaveLength(2);

    // s1 hands in twice: versions 1 and 2, receipts with the manifest hash.
    await upload(stack, inst('uni', 'course', 's1'), '/files/hw1/answers.md', 'A1: because.\n', keys.s1);
    const first = await submit('s1', { identifier: 'first try' });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ version: 1, student: 's1@uni.edu', instance: 'uni/course/s1', files: 1, late: false, auto_collected: false, identifier: 'first try' });
    const second = await submit('s1');
    expect(second.body).toMatchObject({ version: 2 });
    expect(second.body.sha256).toBe(first.body.sha256); // same bytes, same manifest

    // Refused: for another student (403, audited), incomplete, too large (each rejected, nothing stored).
    await waitFor(async () => (await stack.catalog.db.select().from(outboxMails).where(isNull(outboxMails.sentAt))).length === 0); // receipts mailed
    const forOther = await expectOnlyAudited(stack, ['handin.refused'], () => submit('s1', { student: 's2' }));
    expect(forOther.status).toBe(403);
    rmSync(join(await filesOf('s3'), 'hw1/answers.md'));
    const incomplete = await expectOnlyAudited(stack, ['handin.rejected'], () => submit('s3'));
    expect(incomplete.status).toBe(400);
    expect(incomplete.body.error.message).toMatch(/missing \/files\/hw1\/answers\.md/);
    writeFileSync(join(await filesOf('s2'), 'hw1/answers.md'), 'x'.repeat(1001));
    const tooLarge = await submit('s2');
    expect(tooLarge.body.error.message).toMatch(/over the size limit of 1000 bytes/);
    writeFileSync(join(await filesOf('s2'), 'hw1/answers.md'), 'A1: almost.\n');

    // s1 sees only their own hand-ins; a student cannot read the status grid.
    const mine = await stack.call<HandinView[]>('GET', `${A}/hw1/handins`, { key: keys.s1 });
    expect(mine.body.map((h) => [h.instance, h.version, h.graded])).toEqual([
      ['uni/course/s1', 1, false],
      ['uni/course/s1', 2, true],
    ]);
    expect((await stack.call<ErrorReply>('GET', `${A}/hw1/handins?student=s2`, { key: keys.s1 })).status).toBe(403);
    expect((await stack.call<ErrorReply>('GET', `${A}/hw1/status`, { key: keys.s1 })).status).toBe(403);

    // After the deadline: s2 and s3 are collected automatically, exactly once; s1 is not; hand-in is closed.
    await waitFor(async () => (await stack.call<StudentStatusRow[]>('GET', `${A}/hw1/status`, { key: keys.prof })).body.filter((r) => r.auto_collected).length === 2);
    const grid = (await stack.call<StudentStatusRow[]>('GET', `${A}/hw1/status`, { key: keys.prof })).body;
    expect(grid.map((r) => [r.instance, r.state, r.latest_version, r.auto_collected])).toEqual([
      ['s1', 'handed in', 2, false],
      ['s2', 'auto-collected', 1, true],
      ['s3', 'auto-collected', 1, true],
    ]);
    const collected = (await stack.call<HandinView>('GET', `${A}/hw1/handins/1?student=s2`, { key: keys.prof })).body;
    expect(collected.manifest).toEqual([{ path: '/files/hw1/answers.md', size: 12, sha256: expect.any(String) }]);
    const late = await submit('s1');
    expect(late.status).toBe(409);
    expect(late.body.error.message).toMatch(/hand-in is closed/);

    const story = (await stack.call<AuditEvent[]>('GET', `/api/v1/audit?subject=assignment:uni/course/hw1`, { key: keys.prof })).body.map((e) => e.action);
    expect(story.filter((a) => a === 'handin.auto_collected')).toHaveLength(2);
    expect(story).toEqual(
      expect.arrayContaining(['assignment.created', 'assignment.released', 'handin.submitted', 'handin.refused', 'handin.rejected', 'handin.auto_collected']),
    );
  }, 90_000);


  it('gives a student who joins after the release the material and the same deadline', async () => {
    const joined = await createStudent('s4');
    expect((joined.result as { assignments: string[] }).assignments).toEqual(['uni/course/hw1']);
    expect((await stack.call<unknown[]>('GET', `${inst('uni', 'course', 's4')}/files?path=/files/hw1`, { key: keys.s4 })).body).toHaveLength(2);
    const row = (await stack.call<StudentStatusRow[]>('GET', `${A}/hw1/status`, { key: keys.prof })).body.find((r) => r.instance === 's4')!;
    const hw1 = (await stack.call<AssignmentView>('GET', `${A}/hw1`, { key: keys.prof })).body;
    expect(row.effective_deadline).toBe(hw1.due_at);
    // The deadline has passed already: the late joiner's hand-in is collected at once, exactly once.
    await waitFor(async () => (await stack.call<HandinView[]>('GET', `${A}/hw1/handins?student=s4`, { key: keys.prof })).body.length === 1);
    expect((await stack.call<HandinView[]>('GET', `${A}/hw1/handins?student=s4`, { key: keys.prof })).body[0]).toMatchObject({ version: 1, auto_collected: true });
    await waitFor(async () => (await stack.catalog.db.select().from(outboxMails).where(isNull(outboxMails.sentAt))).length === 0); // its receipt is mailed
  }, 60_000);

  it('answers a hand-in whose answers from Temporal were lost or said "not found" with the one receipt it recorded', async () => {
    const created = await stack.call<TaskStarted & ErrorReply>('POST', A, {
      key: keys.prof,
      body: groupAssignment('hw2', 'hw1', { name: 'Homework 2', due_at: new Date(Date.now() + 10 * 60_000).toISOString() }),
    });
    expect((await finishedTask(stack, created.body.task_id, keys.prof)).status).toBe('COMPLETED');
    // A client whose first update call is recorded by Temporal, but whose answer never comes back (what a
    // timed-out call looks like to the API minutes before a deadline): the fault is injected into the
    // real client by an interceptor; the server, worker and catalog are real.
    let lost = 0;
    const lossy = new Client({
      connection: stack.deps.temporal.connection,
      namespace: stack.deps.temporal.options.namespace,
      interceptors: {
        workflow: [
          {
            async startUpdate(input, next) {
              const output = await next(input);
              lost++;
              if (lost === 1) throw new ServiceError('connection reset before the answer arrived');
              // What Temporal answers for an update it aborted (its workflow task timed out on a busy
              // worker): "not found", although the workflow runs on. Not a closed hand-in.
              if (lost === 2) throw new WorkflowNotFoundError('update not found', input.workflowExecution.workflowId ?? '', undefined);
              return output;
            },
          },
        ],
      },
    });
    const [user] = await stack.catalog.db.select().from(users).where(eq(users.email, 's2@uni.edu'));
    const receipt = await submitHandin({ ...stack.deps, temporal: lossy }, { userId: user!.id, email: user!.email, isAdmin: false }, 'uni', 'course', 'hw2', {});
    expect(lost).toBe(3); // asked three times, with the same update id
    expect(receipt).toMatchObject({ version: 1, student: 's2@uni.edu', auto_collected: false });
    const stored = (await stack.call<HandinView[]>('GET', `${A}/hw2/handins`, { key: keys.s2 })).body;
    expect(stored.map((h) => [h.version, h.sha256])).toEqual([[1, receipt.sha256]]);
    const events = (await stack.call<AuditEvent[]>('GET', `/api/v1/audit?subject=assignment:uni/course/hw2&action=handin.submitted`, { key: keys.prof })).body;
    expect(events).toHaveLength(1);
    await stack.call('POST', `${A}/hw2/cancel`, { key: keys.prof });
  }, 60_000);

  describe('bad input: a clear error, and nothing changes', () => {
    const base = {
      name: 'Bad',
      source: { org_slug: 'uni', space_slug: 'course', instance_slug: 'master' },
      files: ['/files/hw1'],
      handin: ['/files/hw1/answers.md'],
      targets: 'group',
      timezone: 'Europe/Zurich',
      due_at: '2031-01-31T23:59',
    };
    it.each([
      ['an unknown time zone', { timezone: 'Europe/Atlantis' }, 400, /unknown time zone "Europe\/Atlantis"/],
      ['due before release', { release_at: '2031-02-01T10:00' }, 400, /is not after the release/],
      ['a cut-off before the due time', { late_policy: 'accept-late', cutoff_at: '2031-01-30T10:00' }, 400, /cut-off .* is not after the due time/],
      ['a cut-off with a hard deadline', { cutoff_at: '2031-02-03T10:00' }, 400, /only applies with --late-policy accept-late/],
      ['hand-in paths not in the material', { handin: ['/files/hw2/answers.md'] }, 400, /hand-in path \/files\/hw2\/answers.md is not in the material/],
      ['a hand-in path outside /files', { handin: ['/files/../etc/passwd'] }, 400, /\.\./],
      ['a time that is not a time', { due_at: 'tomorrow' }, 400, /--due-at: "tomorrow" is not a time/],
      ['a duplicate slug', { slug: 'hw1' }, 409, /already exists/],
      ['students of another space', { targets: [{ org_slug: 'uni', space_slug: 'other', instance_slug: 'x' }] }, 404, /not found/],
    ])('%s', async (_name, body, status, message) => {
      const res = await expectUnchanged(stack, () => stack.call<ErrorReply>('POST', A, { key: keys.prof, body: { ...base, ...body } }));
      expect(res.status).toBe(status);
      expect(res.body.error.message).toMatch(message);
    });

    it('feedback for a hand-in that does not exist', async () => {
      const res = await expectUnchanged(stack, () => stack.call<ErrorReply>('POST', `${A}/hw1/feedback`, { key: keys.prof, body: { student: 's1', version: 9, grade: 'A' } }));
      expect(res.status).toBe(404);
      expect(res.body.error.message).toMatch(/hand-in version 9 of s1@uni.edu/);
    });

    it('a student may not create assignments, read the grid, another student\'s feedback or the assignment\'s audit story', async () => {
      const tries: [string, string, unknown][] = [
        ['POST', A, base],
        ['GET', `${A}/hw1/status`, undefined],
        ['GET', `${A}/hw1/feedback?student=s2`, undefined],
        ['GET', `${A}/hw1/grades`, undefined],
        ['GET', '/api/v1/audit?subject=assignment:uni/course/hw1', undefined],
      ];
      for (const [method, url, body] of tries) {
        const res = await expectUnchanged(stack, () => stack.call<ErrorReply>(method as 'GET' | 'POST', url, { key: keys.s1, body }));
        expect(res.status).toBe(403);
      }
    });
  });
});


export type { TaskView };
