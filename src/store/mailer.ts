import { link, mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createTransport, type Transporter } from 'nodemailer';

// Outgoing mail. With SMTP_URL, mails go to that server; without it, each mail is written as an
// `.eml` file into the data directory's outbox folder, so a machine with no mail server still keeps
// every notification (and a test or an operator can read them).

export interface Mail {
  /** Stable per mail (the outbox row id): the Message-ID header, and the outbox file's name. */
  id: string;
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  /** `smtp://…` (secrets removed) or the outbox folder. */
  readonly destination: string;
  send(mail: Mail): Promise<void>;
  close(): void;
}

export interface MailerSettings {
  smtpUrl?: string;
  from: string;
  outboxDir: string;
}

export function createMailer(settings: MailerSettings): Mailer {
  return settings.smtpUrl ? smtpMailer(settings.smtpUrl, settings.from) : folderMailer(settings.outboxDir, settings.from);
}

const messageId = (id: string) => `<${id}@handout>`;

function smtpMailer(url: string, from: string): Mailer {
  const transport: Transporter = createTransport(url);
  return {
    destination: url.replace(/\/\/[^@/]*@/, '//'),
    async send(mail) {
      await transport.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text, messageId: messageId(mail.id) });
    },
    close: () => transport.close(),
  };
}

function folderMailer(dir: string, from: string): Mailer {
  const compose = createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    destination: dir,
    async send(mail) {
      const info = await compose.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text, messageId: messageId(mail.id) });
      await mkdir(dir, { recursive: true });
      // Written whole under a temp name, then linked into place: a file named for this mail exists
      // at most once, complete, however often the send is retried.
      const final = join(dir, `${mail.id}.eml`);
      const temp = join(dir, `.${mail.id}.${process.pid}.tmp`);
      const handle = await open(temp, 'w', 0o600);
      try {
        await handle.writeFile(info.message as Buffer);
        await handle.sync();
      } finally {
        await handle.close();
      }
      try {
        await link(temp, final);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      } finally {
        await unlink(temp);
      }
    },
    close: () => compose.close(),
  };
}
