import { createHash } from 'node:crypto';
import type { DistributionRecord } from '../domain/distribution-run';
import type { MailToQueue } from '../store/catalog/outbox';

/** A UUID-shaped id derived from the mail's key: the same mail always gets the same id (Message-ID, .eml name). */
export function uuidFromKey(key: string): string {
  const h = createHash('sha256').update(key).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Names in a mail line, or "none". */
export const list = (items: string[]) => (items.length ? items.join(', ') : 'none');
/** An instance's audit subject (`instance:org/space/instance`) as a mail names it. */
export const where = (subject: string) => subject.replace(/^instance:/, '');

/** The notification a target user gets: who sent what from where, the custom message, and the task. */
export function notificationMail(args: { key: string; taskId: string; user: { email: string; name: string }; target: string; record: DistributionRecord }): MailToQueue {
  const { record } = args;
  const pick = record.pick;
  const what =
    pick === 'all'
      ? ['Everything in the snapshot: all files, tables and applications.']
      : [
          ...(record.kinds.files ? [`Files: ${list(pick.files.map((f) => (f === '' ? '/files' : `/files/${f}`)))}`] : []),
          ...(record.kinds.tables ? [`Tables: ${list(pick.tables)}`] : []),
          ...(record.kinds.apps ? [`Applications: ${list(pick.apps)}`] : []),
        ];
  const body = [
    `Hello ${args.user.name},`,
    '',
    `${record.actor.replace(/^user:/, '')} distributed new material to your instance ${where(args.target)}` +
      ` from ${where(record.source_subject)} (snapshot ${record.snapshot}).`,
    ...(record.message ? ['', record.message] : []),
    '',
    'What was distributed:',
    ...what.map((line) => `  ${line}`),
    '',
    `Task: ${args.taskId}`,
    '',
    '-- ',
    'Handout',
    '',
  ].join('\n');
  return {
    id: uuidFromKey(args.key),
    mailKey: args.key,
    taskId: args.taskId,
    recipient: args.user.email,
    subject: `New material in ${where(args.target)}`,
    body,
  };
}
