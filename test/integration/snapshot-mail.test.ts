import { WorkflowNotFoundError } from '@temporalio/client';
import type { SnapshotView, TaskStarted, TaskView } from '../../src/domain';
import { outboxMails } from '../../src/store/catalog/schema';
import { inst, runTask, upload } from '../helpers/content';
import { createInstance, finishedTask, userWithKey } from '../helpers/fixtures';
import { freePort } from '../helpers/ports';
import { startTestStack, type TestStack } from '../helpers/services';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp';

/** `snapshots create -e`: the creator is mailed (over a real SMTP listener) once the snapshot is complete. */
describe('snapshot mails', () => {
  const base = inst('uni', 'stats', 'main');
  /** The snapshot task's mail workflow, run to its end: how many mails it handed over. */
  const mailWorkflow = (stack: TestStack, taskId: string) => stack.deps.temporal.workflow.getHandle(`${taskId}/mail`).result() as Promise<{ sent: number; total: number }>;

  async function course(stack: TestStack) {
    await stack.call('POST', '/api/v1/orgs', { body: { slug: 'uni' } });
    await stack.call('POST', '/api/v1/orgs/uni/spaces', { body: { slug: 'stats' } });
    await createInstance(stack, 'uni', 'stats', 'main');
    await upload(stack, base, '/files/notes.md', '# Week 1\n');
  }

  describe('with the mail server up', () => {
    let stack: TestStack;
    let smtp: SmtpSink;
    let editorKey: string;
    beforeAll(async () => {
      smtp = await startSmtpSink();
      stack = await startTestStack('snapshot-mail', { SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, HANDOUT_MAIL_FROM: 'Handout <handout@uni.edu>' });
      await course(stack);
      editorKey = await userWithKey(stack, 'ta@uni.edu');
      await stack.call('POST', '/api/v1/roles', { body: { user_email: 'ta@uni.edu', role: 'instance_editor', org_slug: 'uni', space_slug: 'stats', instance_slug: 'main' } });
    });
    afterAll(async () => {
      await stack?.close();
      await smtp?.close();
    });

    it('mails the one who asked, once, saying what the snapshot holds', async () => {
      const task = await runTask(stack, 'POST', `${base}/snapshots`, { name: 'week1', email: true }, editorKey);
      expect(task.status).toBe('COMPLETED');
      expect(await mailWorkflow(stack, task.task_id)).toEqual({ sent: 1, total: 1 });
      expect(smtp.mails).toHaveLength(1);
      const [mail] = smtp.mails;
      expect(mail!.to).toEqual(['ta@uni.edu']);
      expect(mail!.from).toBe('handout@uni.edu');
      expect(mail!.subject).toBe('Snapshot "week1" of uni/stats/main is ready');
      expect(mail!.text).toContain('Files: 1 file, 9 bytes');
      expect(mail!.text).toContain(task.task_id);
    });

    it('mails nobody without -e, and starts no mail workflow', async () => {
      const before = smtp.mails.length;
      const task = await runTask(stack, 'POST', `${base}/snapshots`, { name: 'quiet' });
      expect(task.status).toBe('COMPLETED');
      await expect(stack.deps.temporal.workflow.getHandle(`${task.task_id}/mail`).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
      expect(smtp.mails).toHaveLength(before);
    });

    it('refuses an email flag that is not true or false, and changes nothing', async () => {
      const snapshotsBefore = (await stack.call<SnapshotView[]>('GET', `${base}/snapshots`)).body;
      const tasksBefore = (await stack.call<TaskView[]>('GET', '/api/v1/tasks')).body;
      const mailsBefore = await stack.catalog.db.select().from(outboxMails);
      const res = await stack.call<{ error: { code: string; message: string } }>('POST', `${base}/snapshots`, { body: { name: 'week2', email: 'yes' } });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/email/);
      expect((await stack.call<SnapshotView[]>('GET', `${base}/snapshots`)).body).toEqual(snapshotsBefore);
      expect((await stack.call<TaskView[]>('GET', '/api/v1/tasks')).body).toEqual(tasksBefore);
      expect(await stack.catalog.db.select().from(outboxMails)).toEqual(mailsBefore);
    });
  });

  describe('with the mail server down', () => {
    let stack: TestStack;
    let smtp: SmtpSink | undefined;
    let port: number;
    beforeAll(async () => {
      port = await freePort();
      stack = await startTestStack('snapshot-mail-down', { SMTP_URL: `smtp://127.0.0.1:${port}` });
      await course(stack);
    });
    afterAll(async () => {
      await stack?.close();
      await smtp?.close();
    });

    it('completes the snapshot at once; the mail follows once the server is back', async () => {
      const started = await stack.call<TaskStarted>('POST', `${base}/snapshots`, { body: { name: 'week1', email: true } });
      const task = await finishedTask(stack, started.body.task_id);
      expect(task.status).toBe('COMPLETED');
      expect((await stack.call<SnapshotView[]>('GET', `${base}/snapshots`)).body.map((s) => s.name)).toEqual(['week1']);
      // The mail is queued, its delivery workflow still trying.
      const handle = stack.deps.temporal.workflow.getHandle(`${task.task_id}/mail`);
      expect((await handle.describe()).status.name).toBe('RUNNING');
      expect((await stack.catalog.db.select().from(outboxMails)).map((m) => [m.recipient, m.sentAt])).toEqual([['admin@handout.local', null]]);

      smtp = await startSmtpSink(port);
      expect(await handle.result()).toEqual({ sent: 1, total: 1 });
      expect(smtp.mails.map((m) => [m.to.join(','), m.subject])).toEqual([['admin@handout.local', 'Snapshot "week1" of uni/stats/main is ready']]);
    });
  });
});
