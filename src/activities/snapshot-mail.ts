import { queueMails, type MailToQueue } from '../store/catalog/outbox';
import type { ActivityDeps } from './deps';
import { keyedMail, list, where } from './mail-text';

// `snapshots create -e`: the creator hears by e-mail when the snapshot is complete, or has failed.
// Both mails go through the outbox like every other notification (queued as a keyed row, then handed
// to SMTP or the outbox folder by deliverMails), so a retry never queues one twice and a mail server
// that is down only delays them.

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

/** What a snapshot's mails say about it. */
export interface SnapshotMailFacts {
  taskId: string;
  /** `instance:org/space/instance`. */
  subject: string;
  name: string;
  recipient: string;
}

function mail(facts: SnapshotMailFacts, outcome: 'ready' | 'failed', subjectLine: string, lines: string[]): MailToQueue {
  return keyedMail({ key: `${facts.taskId}/mail/snapshot-${outcome}`, taskId: facts.taskId, recipient: facts.recipient, subject: subjectLine, greeting: 'Hello,', lines: [...lines, '', `Task: ${facts.taskId}`] });
}

/** The mail of a committed snapshot: its name, where, and what it holds. */
export function snapshotReadyMail(facts: SnapshotMailFacts & { files: number; bytes: number; tables: string[]; apps: string[] }): MailToQueue {
  const instance = where(facts.subject);
  return mail(facts, 'ready', `Snapshot "${facts.name}" of ${instance} is ready`, [
    `The snapshot "${facts.name}" of ${instance} is complete.`,
    '',
    `Files: ${plural(facts.files, 'file')}, ${facts.bytes} bytes`,
    `Tables: ${list(facts.tables)}`,
    `Applications: ${list(facts.apps)}`,
    '',
    `Read it with -p "${facts.name}" (files list, files get, tables export) or restore it with`,
    `handout snapshots restore -p "${facts.name}".`,
  ]);
}

/** The mail of a snapshot that failed: why, and that nothing of it was kept. */
export function snapshotFailedMail(facts: SnapshotMailFacts & { reason: string }): MailToQueue {
  const instance = where(facts.subject);
  return mail(facts, 'failed', `Snapshot "${facts.name}" of ${instance} failed`, [
    `The snapshot "${facts.name}" of ${instance} could not be taken: ${facts.reason}`,
    '',
    'Nothing of it was kept; the instance is as it was. Take it again once the cause is fixed.',
  ]);
}

export function createSnapshotMailActivities({ catalog }: ActivityDeps) {
  return {
    /** Queues the mail of a failed snapshot. Retry-safe: the mail is keyed by the task. */
    async queueSnapshotFailedMail(facts: SnapshotMailFacts & { reason: string }): Promise<void> {
      await queueMails(catalog.db, [snapshotFailedMail(facts)]);
    },
  };
}
