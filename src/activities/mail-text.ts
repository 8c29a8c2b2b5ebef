import { createHash } from 'node:crypto';
import type { MailToQueue } from '../store/catalog/outbox';

// What every notification mail shares: an id derived from its key, and the same greeting and signature.

/** A UUID-shaped id derived from the mail's key: the same mail always gets the same id (Message-ID, .eml name). */
export function uuidFromKey(key: string): string {
  const h = createHash('sha256').update(key).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Names in a mail line, or "none". */
export const list = (items: string[]) => (items.length ? items.join(', ') : 'none');
/** An instance's audit subject (`instance:org/space/instance`) as a mail names it. */
export const where = (subject: string) => subject.replace(/^instance:/, '');

/**
 * A mail for the outbox, keyed so that a retried activity queues it once: `greeting`, a blank line,
 * `lines`, then the signature.
 */
export function keyedMail(args: { key: string; taskId: string; recipient: string; subject: string; greeting: string; lines: string[] }): MailToQueue {
  return {
    id: uuidFromKey(args.key),
    mailKey: args.key,
    taskId: args.taskId,
    recipient: args.recipient,
    subject: args.subject,
    body: [args.greeting, '', ...args.lines, '', '-- ', 'Handout', ''].join('\n'),
  };
}
