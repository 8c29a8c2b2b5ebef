import { and, asc, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { CatalogDb } from './db';
import { outboxMails } from './schema';

// The notification outbox: a mail is queued as a row (keyed, so queuing twice keeps one row) and
// marked sent once it has been handed over; a crash between the two is the only way to send twice.

export type OutboxRow = typeof outboxMails.$inferSelect;

export interface MailToQueue {
  id: string;
  mailKey: string;
  taskId: string;
  recipient: string;
  subject: string;
  body: string;
}

/** Queues mails; a key already queued is left as it is. */
export async function queueMails(db: CatalogDb, mails: MailToQueue[]): Promise<void> {
  if (mails.length === 0) return;
  await db.insert(outboxMails).values(mails).onConflictDoNothing({ target: outboxMails.mailKey });
}

export async function unsentMails(db: CatalogDb, taskId: string): Promise<OutboxRow[]> {
  return db.select().from(outboxMails).where(and(eq(outboxMails.taskId, taskId), isNull(outboxMails.sentAt))).orderBy(asc(outboxMails.mailKey));
}

export async function mailsOf(db: CatalogDb, taskId: string): Promise<OutboxRow[]> {
  return db.select().from(outboxMails).where(eq(outboxMails.taskId, taskId)).orderBy(asc(outboxMails.mailKey));
}

/**
 * Takes an unsent mail for `leaseMs`; false if it is sent or another sender holds it. A sender that
 * died lets its lease run out, and the mail is taken again.
 */
export async function claimMail(db: CatalogDb, id: string, now: Date, leaseMs: number): Promise<boolean> {
  const claimed = await db
    .update(outboxMails)
    .set({ claimedUntil: new Date(now.getTime() + leaseMs) })
    .where(and(eq(outboxMails.id, id), isNull(outboxMails.sentAt), or(isNull(outboxMails.claimedUntil), lt(outboxMails.claimedUntil, now))))
    .returning({ id: outboxMails.id });
  return claimed.length > 0;
}

export async function markSent(db: CatalogDb, id: string, at: Date): Promise<void> {
  await db.update(outboxMails).set({ sentAt: at, attempts: sql`${outboxMails.attempts} + 1`, lastError: null }).where(eq(outboxMails.id, id));
}

export async function markFailedAttempt(db: CatalogDb, id: string, error: string): Promise<void> {
  await db.update(outboxMails).set({ attempts: sql`${outboxMails.attempts} + 1`, lastError: error.slice(0, 2000), claimedUntil: null }).where(eq(outboxMails.id, id));
}
