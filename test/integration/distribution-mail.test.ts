import { eq } from 'drizzle-orm';
import type { TaskStarted, TaskView } from '../../src/domain';
import { outboxMails } from '../../src/store/catalog/schema';
import { inst, upload } from '../helpers/content';
import { finishedTask, userWithKey } from '../helpers/fixtures';
import { freePort } from '../helpers/ports';
import { startTestStack, type TestStack } from '../helpers/services';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp';

/** An org `uni`, space `course` with a master instance and one student instance per email; the admin distributes. */
async function courseWithStudents(stack: TestStack, students: string[]) {
  await stack.call('POST', '/api/v1/orgs', { body: { slug: 'uni', name: 'Uni' } });
  await stack.call('POST', '/api/v1/orgs/uni/spaces', { body: { slug: 'course', name: 'Course' } });
  const create = async (slug: string, student?: string) => {
    const res = await stack.call<TaskStarted>('POST', '/api/v1/orgs/uni/spaces/course/instances', { body: { name: slug, slug, student } });
    return finishedTask(stack, res.body.task_id);
  };
  await create('master');
  for (const email of students) {
    await userWithKey(stack, email);
    await create(email.split('@')[0]!, email);
  }
  // A TA with an instance role on s1 hears about s1's distributions too.
  await userWithKey(stack, 'ta@uni.edu');
  await stack.call('POST', '/api/v1/roles', { body: { user_email: 'ta@uni.edu', role: 'instance_viewer', org_slug: 'uni', space_slug: 'course', instance_slug: 's1' } });
  await upload(stack, inst('uni', 'course', 'master'), '/files/sheet1.md', '# Sheet 1\n');
}

const distribute = (stack: TestStack, message: string) =>
  stack.call<TaskStarted>('POST', '/api/v1/distributions', {
    body: {
      source: { org_slug: 'uni', space_slug: 'course', instance_slug: 'master' },
      targets: [{ org_slug: 'uni', space_slug: 'course', group: 'students' }],
      files: ['/files/sheet1.md'],
      notify: true,
      message,
    },
  });

describe('distribution notifications over SMTP', () => {
  describe('with the mail server up', () => {
    let stack: TestStack;
    let smtp: SmtpSink;
    beforeAll(async () => {
      smtp = await startSmtpSink();
      stack = await startTestStack('dist-mail', { SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, HANDOUT_MAIL_FROM: 'Course <course@uni.edu>' });
      await courseWithStudents(stack, ['s1@uni.edu', 's2@uni.edu']);
    });
    afterAll(async () => {
      await stack?.close();
      await smtp?.close();
    });

    it('sends exactly one mail per target user, with the custom message and what was distributed', async () => {
      const started = await distribute(stack, 'Sheet 1 is out. Due Friday.');
      const task = await finishedTask(stack, started.body.task_id);
      expect(task.status).toBe('COMPLETED');
      expect(task.result).toMatchObject({ mails_sent: 3 });
      expect(smtp.mails.map((m) => m.to.join(',')).sort()).toEqual(['s1@uni.edu', 's2@uni.edu', 'ta@uni.edu']);
      for (const mail of smtp.mails) {
        expect(mail.from).toBe('course@uni.edu');
        expect(mail.text).toContain('Sheet 1 is out. Due Friday.');
        expect(mail.text).toContain('Files: /files/sheet1.md');
        expect(mail.text).toContain(started.body.task_id);
      }
      expect(smtp.mails.find((m) => m.to[0] === 'ta@uni.edu')!.subject).toBe('New material in uni/course/s1');
      const rows = await stack.catalog.db.select().from(outboxMails).where(eq(outboxMails.taskId, started.body.task_id));
      expect(rows.every((r) => r.sentAt !== null && r.attempts === 1)).toBe(true);
    });
  });

  describe('with the mail server down during the distribution', () => {
    let stack: TestStack;
    let smtp: SmtpSink | undefined;
    let port: number;
    beforeAll(async () => {
      port = await freePort();
      stack = await startTestStack('dist-mail-down', { SMTP_URL: `smtp://127.0.0.1:${port}` });
      await courseWithStudents(stack, ['s1@uni.edu', 's2@uni.edu', 's3@uni.edu']);
    });
    afterAll(async () => {
      await stack?.close();
      await smtp?.close();
    });

    it('applies every target, keeps the mails queued while SMTP is down, and delivers each once when it is back', async () => {
      const started = await distribute(stack, 'Mail will be late.');
      const taskId = started.body.task_id;
      // Wait until the content is everywhere and a delivery attempt has failed against the closed port.
      const deadline = Date.now() + 60_000;
      let running: TaskView;
      for (;;) {
        const rows = await stack.catalog.db.select().from(outboxMails).where(eq(outboxMails.taskId, taskId));
        running = (await stack.call<TaskView>('GET', `/api/v1/tasks/${taskId}`)).body;
        if (rows.length === 4 && rows.some((r) => r.lastError !== null)) break;
        if (Date.now() > deadline) throw new Error(`no failed delivery attempt seen: ${JSON.stringify(running)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(running.status).toBe('RUNNING');
      expect(running.targets!.every((t) => t.status === 'applied')).toBe(true);
      expect(running.progress).toMatchObject({ label: 'sending notifications' });

      smtp = await startSmtpSink(port);
      const task = await finishedTask(stack, taskId);
      expect(task.status).toBe('COMPLETED');
      expect(smtp.mails.map((m) => m.to.join(',')).sort()).toEqual(['s1@uni.edu', 's2@uni.edu', 's3@uni.edu', 'ta@uni.edu']);
      expect(smtp.mails.every((m) => m.text.includes('Mail will be late.'))).toBe(true);
    }, 90_000);
  });
});
