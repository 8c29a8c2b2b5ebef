import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { simpleParser } from 'mailparser';
import type { AssignmentView, AuditEvent, AuditVerifyResult, HandinReceipt, HandinView, StudentStatusRow, TaskStarted, TaskView } from '../../src/domain';
import { tempDir } from '../helpers/catalog';
import { startHandoutUp, type RunningUp } from '../helpers/cli';
import { freePorts } from '../helpers/ports';

const STUDENTS = ['s1', 's2', 's3', 's4'];
/**
 * How far ahead the due time is set: the release, one hand-in, three drafts and the stop take 2–5 s on
 * a quiet 2-core machine; the rest is headroom for a busy one (the test checks the stop came first).
 */
const LEAD_MS = 20_000;
/** How long after the due time the stack stays down: the deadline has certainly passed while nothing ran. */
const DOWN_PAST_DUE_MS = 3_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const draftOf = (student: string, slug: string) => `${slug}: draft of ${student}, never handed in\n`;

/**
 * The deadline passes while the whole stack is down — `handout up`, its embedded Temporal server and
 * the catalog, exactly as `npm start` runs them. At the next start every student who had not handed in
 * is collected automatically, exactly once, from what their instance held; whoever had handed in is
 * left alone.
 */
describe('an assignment deadline that passes while the whole stack is stopped', () => {
  let dataDir: string;
  let serverEnv: NodeJS.ProcessEnv;
  let temporalAddress: string;
  let up: RunningUp | undefined;
  let adminKey: string;
  const keys: Record<string, string> = {};
  /** Instance id by slug: the id in each instance-create task's id (`instance-create-<id>`). */
  const instanceIds: Record<string, string> = {};

  /** The HTTP API of whichever `handout up` is running, as the holder of `key` (the admin by default). */
  const call = async <T>(method: string, path: string, opts: { key?: string; body?: unknown; bytes?: string } = {}): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${up!.apiUrl}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${opts.key ?? adminKey}`,
        ...(opts.body !== undefined ? { 'content-type': 'application/json' } : opts.bytes !== undefined ? { 'content-type': 'application/octet-stream' } : {}),
      },
      body: opts.body !== undefined ? JSON.stringify(opts.body) : opts.bytes,
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  };
  /** `call` that must answer `status`. */
  const ok = async <T>(status: number, method: string, path: string, opts: { key?: string; body?: unknown; bytes?: string } = {}): Promise<T> => {
    const res = await call<T>(method, path, opts);
    if (res.status !== status) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const finished = async (taskId: string, key?: string): Promise<TaskView> => {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const task = await ok<TaskView>(200, 'GET', `/tasks/${encodeURIComponent(taskId)}`, { key });
      if (['COMPLETED', 'FAILED', 'CANCELLED'].includes(task.status)) return task;
      if (Date.now() > deadline) throw new Error(`task ${taskId} did not finish: ${JSON.stringify(task)}`);
      await sleep(200);
    }
  };
  const putFile = (instance: string, path: string, bytes: string, key: string) =>
    ok(201, 'PUT', `/orgs/uni/spaces/course/instances/${instance}/files/content?path=${encodeURIComponent(path)}`, { key, bytes });

  beforeAll(async () => {
    dataDir = tempDir('assignment-restart');
    const [api, temporal, ui] = await freePorts(3);
    // Fixed ports, so the restarted stack answers where the first one did.
    serverEnv = { HANDOUT_DATA_DIR: dataDir, HANDOUT_PORT: String(api), HANDOUT_TEMPORAL_PORT: String(temporal), HANDOUT_TEMPORAL_UI_PORT: String(ui) };
    temporalAddress = `127.0.0.1:${temporal}`;
    up = await startHandoutUp(serverEnv);
    adminKey = up.bootstrapKey!;

    await ok(201, 'POST', '/orgs', { body: { slug: 'uni', name: 'Uni' } });
    await ok(201, 'POST', '/orgs/uni/spaces', { body: { slug: 'course', name: 'Course' } });
    for (const user of ['prof', ...STUDENTS]) {
      await ok(201, 'POST', '/users', { body: { email: `${user}@uni.edu`, name: user } });
      keys[user] = (await ok<{ api_key: string }>(201, 'POST', '/keys', { body: { user_email: `${user}@uni.edu` } })).api_key;
    }
    await ok(201, 'POST', '/roles', { body: { user_email: 'prof@uni.edu', role: 'space_admin', org_slug: 'uni', space_slug: 'course' } });
    const creates = [{ name: 'Master', slug: 'master' }, ...STUDENTS.map((s) => ({ name: s, slug: s, student: `${s}@uni.edu` }))];
    const tasks = await Promise.all(creates.map((body) => ok<TaskStarted>(202, 'POST', '/orgs/uni/spaces/course/instances', { key: keys.prof, body })));
    for (const [i, task] of tasks.entries()) {
      expect((await finished(task.task_id, keys.prof)).status).toBe('COMPLETED');
      instanceIds[creates[i]!.slug] = task.task_id.replace(/^instance-create-/, '');
    }
    for (const slug of ['hw1', 'hw2']) {
      await putFile('master', `/files/${slug}/questions.md`, `${slug}: Q1: why?\n`, keys.prof);
      await putFile('master', `/files/${slug}/answers.md`, `${slug}: A1:\n`, keys.prof);
    }
  }, 180_000);

  afterAll(async () => {
    await up?.stop('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  /**
   * Creates assignment `slug` due LEAD_MS from now; `handsIn` hands in, every other student leaves a
   * draft; `stop` brings the whole stack down before the due time; it stays down until the due time
   * has passed, then starts again. Returns the assignment's id.
   */
  async function deadlineWhileDown(slug: string, handsIn: string, stop: () => Promise<void>): Promise<string> {
    const dueAt = Date.now() + LEAD_MS;
    const created = await ok<TaskStarted & { assignment: AssignmentView }>(202, 'POST', '/orgs/uni/spaces/course/assignments', {
      key: keys.prof,
      body: {
        name: slug,
        slug,
        source: { org_slug: 'uni', space_slug: 'course', instance_slug: 'master' },
        files: [`/files/${slug}`],
        handin: [`/files/${slug}/answers.md`],
        targets: 'group',
        due_at: new Date(dueAt).toISOString(),
        timezone: 'Europe/Zurich',
      },
    });
    // Released: the material is out and every student's deadline workflow runs.
    expect((await finished(created.task_id, keys.prof)).status).toBe('COMPLETED');
    await putFile(handsIn, `/files/${slug}/answers.md`, `${slug}: A1: handed in by ${handsIn}\n`, keys[handsIn]!);
    const receipt = await ok<HandinReceipt>(201, 'POST', `/orgs/uni/spaces/course/assignments/${slug}/handins`, { key: keys[handsIn], body: {} });
    expect(receipt).toMatchObject({ version: 1, auto_collected: false, late: false });
    for (const s of STUDENTS.filter((s) => s !== handsIn)) await putFile(s, `/files/${slug}/answers.md`, draftOf(s, slug), keys[s]!);

    await stop();
    up = undefined;
    // Otherwise the deadline fired while the stack was still up and this test proves nothing.
    expect({ stoppedBeforeTheDueTime: Date.now() < dueAt }).toEqual({ stoppedBeforeTheDueTime: true });
    while (Date.now() < dueAt + DOWN_PAST_DUE_MS) await sleep(200);
    up = await startHandoutUp(serverEnv);
    return created.task_id.replace(/^assignment\//, '');
  }

  /** What a student, the instructor and the auditor see once the restarted stack has collected. */
  async function expectCollectedOnce(slug: string, assignmentId: string, handsIn: string): Promise<void> {
    const collected = STUDENTS.filter((s) => s !== handsIn);
    const A = `/orgs/uni/spaces/course/assignments/${slug}`;
    const gridDeadline = Date.now() + 90_000;
    let grid: StudentStatusRow[];
    for (;;) {
      grid = await ok<StudentStatusRow[]>(200, 'GET', `${A}/status`, { key: keys.prof });
      if (grid.filter((r) => r.state === 'auto-collected').length === collected.length) break;
      if (Date.now() > gridDeadline) throw new Error(`not collected after the restart: ${JSON.stringify(grid)}`);
      await sleep(250);
    }

    // Each student's deadline workflow is past its deadline with one version stored — collected for
    // the others, none collected for the one who handed in — and stays open only for an extension.
    const connection = await Connection.connect({ address: temporalAddress });
    try {
      const client = new Client({ connection });
      for (const s of STUDENTS) {
        const handle = client.workflow.getHandle(`assignment/${assignmentId}/student/${instanceIds[s]}`);
        const state = await handle.query<{ versions: number; collected: boolean; closes_at: string }>('studentState');
        expect({ s, versions: state.versions, collected: state.collected, closed: Date.parse(state.closes_at) <= Date.now() }).toEqual({ s, versions: 1, collected: s !== handsIn, closed: true });
      }
    } finally {
      await connection.close();
    }

    grid = await ok<StudentStatusRow[]>(200, 'GET', `${A}/status`, { key: keys.prof });
    expect(grid.map((r) => [r.instance, r.state, r.latest_version, r.auto_collected])).toEqual(
      STUDENTS.map((s) => (s === handsIn ? [s, 'handed in', 1, false] : [s, 'auto-collected', 1, true])),
    );
    // Exactly one hand-in each; the collected ones hold each student's own draft, taken after the due time.
    const all = await ok<HandinView[]>(200, 'GET', `${A}/handins`, { key: keys.prof });
    expect(all.map((h) => [h.instance, h.version, h.auto_collected])).toEqual(STUDENTS.map((s) => [`uni/course/${s}`, 1, s !== handsIn]));
    const assignment = await ok<AssignmentView>(200, 'GET', A, { key: keys.prof });
    for (const s of collected) {
      const handin = await ok<HandinView>(200, 'GET', `${A}/handins/1?student=${s}`, { key: keys.prof });
      expect(handin.manifest).toEqual([{ path: `/files/${slug}/answers.md`, size: Buffer.byteLength(draftOf(s, slug)), sha256: sha256(draftOf(s, slug)) }]);
      expect(Date.parse(handin.handed_in_at)).toBeGreaterThanOrEqual(Date.parse(assignment.due_at_utc));
      // The student sees it too, as their own.
      expect((await ok<HandinView[]>(200, 'GET', `${A}/handins`, { key: keys[s] })).map((h) => [h.version, h.auto_collected])).toEqual([[1, true]]);
    }

    // The audit log: one `handin.auto_collected` per collected student, and the one hand-in.
    const story = await ok<AuditEvent[]>(200, 'GET', `/audit?subject=assignment:uni/course/${slug}`, { key: keys.prof });
    const studentsOf = (action: string) => story.filter((e) => e.action === action).map((e) => (e.details as { student: string }).student);
    expect(studentsOf('handin.auto_collected').sort()).toEqual(collected.map((s) => `${s}@uni.edu`));
    expect(studentsOf('handin.submitted')).toEqual([`${handsIn}@uni.edu`]);
    const byAction = await ok<AuditEvent[]>(200, 'GET', `/audit?subject=assignment:uni/course/${slug}&action=handin.auto_collected`, { key: keys.prof });
    expect(byAction).toHaveLength(collected.length);
    expect(await ok<AuditVerifyResult>(200, 'GET', '/audit/verify')).toMatchObject({ ok: true, first_bad_seq: null });

    // One receipt mail per student for this assignment (no SMTP_URL: the outbox folder).
    const receipts: Record<string, string[]> = {};
    for (const name of readdirSync(join(dataDir, 'outbox')).filter((n) => n.endsWith('.eml'))) {
      const mail = await simpleParser(readFileSync(join(dataDir, 'outbox', name)));
      if (!mail.subject?.startsWith(`Hand-in receipt: uni/course/${slug},`)) continue;
      const to = (Array.isArray(mail.to) ? mail.to : [mail.to]).flatMap((a) => a?.value.map((v) => v.address ?? '') ?? []).join(',');
      (receipts[to] ??= []).push(mail.text ?? '');
    }
    expect(Object.keys(receipts).sort()).toEqual(STUDENTS.map((s) => `${s}@uni.edu`));
    for (const s of STUDENTS) {
      expect(receipts[`${s}@uni.edu`]).toHaveLength(1);
      expect(receipts[`${s}@uni.edu`]![0]).toContain(s === handsIn ? 'was received' : 'was collected automatically at the deadline');
    }
  }

  it('collects every missing hand-in exactly once after a clean stop (SIGTERM) over the deadline', async () => {
    const id = await deadlineWhileDown('hw1', 's1', async () => {
      expect(await up!.stop('SIGTERM')).toBe(0);
    });
    await expectCollectedOnce('hw1', id, 's1');
  }, 150_000);

  it('collects every missing hand-in exactly once after handout up and its Temporal server are killed outright (SIGKILL)', async () => {
    const id = await deadlineWhileDown('hw2', 's2', async () => {
      // The whole process group: handout up and the embedded Temporal server die at the same instant.
      process.kill(-up!.proc.pid!, 'SIGKILL');
      expect(await up!.stop('SIGKILL')).toBeNull();
    });
    await expectCollectedOnce('hw2', id, 's2');
  }, 150_000);
});
