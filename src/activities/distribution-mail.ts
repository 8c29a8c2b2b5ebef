import type { DistributionRecord } from '../domain/distribution-run';
import type { MailToQueue } from '../store/catalog/outbox';
import { keyedMail, list, where } from './mail-text';

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
  return keyedMail({
    key: args.key,
    taskId: args.taskId,
    recipient: args.user.email,
    subject: `New material in ${where(args.target)}`,
    greeting: `Hello ${args.user.name},`,
    lines: [
      `${record.actor.replace(/^user:/, '')} distributed new material to your instance ${where(args.target)}` +
        ` from ${where(record.source_subject)} (snapshot ${record.snapshot}).`,
      ...(record.message ? ['', record.message] : []),
      '',
      'What was distributed:',
      ...what.map((line) => `  ${line}`),
      '',
      `Task: ${args.taskId}`,
    ],
  });
}
