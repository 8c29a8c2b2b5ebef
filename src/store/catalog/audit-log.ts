import { createHash } from 'node:crypto';
import { and, asc, desc, eq, gt, gte, lte, or, sql, type SQL } from 'drizzle-orm';
import { PgTransaction } from 'drizzle-orm/pg-core';
import { AuditAppend, type AuditEvent, type AuditFilter, type AuditVerifyResult, canonicalJson, GENESIS_HASH, hashedPart } from '../../domain/audit';
import type { CatalogDb } from './db';
import { auditEvents } from './schema';

// Serialises appenders so the chain has no forks (PostgreSQL; PGlite has one connection anyway).
const AUDIT_CHAIN_LOCK = 4_242_002;

/** sha256(prev_hash + canonical JSON of the event without its hash). */
export function hashEvent(event: Omit<AuditEvent, 'hash'>): string {
  return createHash('sha256').update(event.prev_hash + canonicalJson(hashedPart(event))).digest('hex');
}

type Row = typeof auditEvents.$inferSelect;
function toEvent(row: Row): AuditEvent {
  return {
    seq: row.seq,
    at: row.at,
    actor: row.actor,
    action: row.action,
    subject: row.subject,
    details: row.details as Record<string, unknown>,
    content_hashes: row.contentHashes as Record<string, string>,
    task_id: row.taskId,
    event_key: row.eventKey,
    prev_hash: row.prevHash,
    hash: row.hash,
  };
}

/**
 * Appends one event to the chain and returns it. Idempotent by `event_key`: a second append with the
 * same key returns the first event unchanged, so a retried activity never writes twice.
 * Pass a transaction to make the event part of the change it records.
 */
export async function appendAuditEvent(db: CatalogDb, input: AuditAppend): Promise<AuditEvent> {
  const append = AuditAppend.parse(input);
  const run = async (tx: CatalogDb) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK})`);
    const [existing] = await tx.select().from(auditEvents).where(eq(auditEvents.eventKey, append.event_key));
    if (existing) return toEvent(existing);
    const [last] = await tx.select({ seq: auditEvents.seq, hash: auditEvents.hash }).from(auditEvents).orderBy(desc(auditEvents.seq)).limit(1);
    const unhashed: Omit<AuditEvent, 'hash'> = {
      seq: (last?.seq ?? 0) + 1,
      at: new Date().toISOString(),
      actor: append.actor,
      action: append.action,
      subject: append.subject,
      details: JSON.parse(JSON.stringify(append.details)) as Record<string, unknown>,
      content_hashes: append.content_hashes,
      task_id: append.task_id,
      event_key: append.event_key,
      prev_hash: last?.hash ?? GENESIS_HASH,
    };
    const event = { ...unhashed, hash: hashEvent(unhashed) };
    await tx.insert(auditEvents).values({
      seq: event.seq,
      at: event.at,
      actor: event.actor,
      action: event.action,
      subject: event.subject,
      details: event.details,
      contentHashes: event.content_hashes,
      taskId: event.task_id,
      eventKey: event.event_key,
      prevHash: event.prev_hash,
      hash: event.hash,
    });
    return event;
  };
  // Within the caller's transaction as it is: a nested one would only add a savepoint and its release
  // (two statements), and a failure here fails that transaction anyway.
  if ((db as unknown) instanceof PgTransaction) return run(db);
  return db.transaction((tx) => run(tx as unknown as CatalogDb));
}

/** Events matching a filter, oldest first. `actor` matches `user:<email>` or the bare email. */
export async function listAuditEvents(db: CatalogDb, filter: AuditFilter): Promise<AuditEvent[]> {
  const where: SQL[] = [];
  if (filter.actor) where.push(or(eq(auditEvents.actor, filter.actor), eq(auditEvents.actor, `user:${filter.actor}`))!);
  if (filter.action) where.push(eq(auditEvents.action, filter.action));
  if (filter.subject) where.push(eq(auditEvents.subject, filter.subject));
  if (filter.since) where.push(gte(auditEvents.at, new Date(filter.since).toISOString()));
  if (filter.until) where.push(lte(auditEvents.at, new Date(filter.until).toISOString()));
  const rows = await db
    .select()
    .from(auditEvents)
    .where(where.length ? and(...where) : undefined)
    .orderBy(asc(auditEvents.seq))
    .limit(filter.limit ?? 10_000);
  return rows.map(toEvent);
}

/** Recomputes the whole chain page by page and names the first event that does not match. */
export async function verifyAuditChain(db: CatalogDb, pageSize = 2000): Promise<AuditVerifyResult> {
  let expectedPrev = GENESIS_HASH;
  let expectedSeq = 1;
  let checked = 0;
  for (;;) {
    const rows = await db.select().from(auditEvents).where(gt(auditEvents.seq, expectedSeq - 1)).orderBy(asc(auditEvents.seq)).limit(pageSize);
    for (const row of rows) {
      const event = toEvent(row);
      const bad = (reason: string): AuditVerifyResult => ({ ok: false, events_checked: checked, first_bad_seq: event.seq, reason });
      if (event.seq !== expectedSeq) return { ...bad(`sequence gap: expected event ${expectedSeq}, found ${event.seq}`), first_bad_seq: expectedSeq };
      if (event.prev_hash !== expectedPrev) return bad(`prev_hash does not match the hash of event ${expectedSeq - 1}`);
      const { hash, ...unhashed } = event;
      if (hashEvent(unhashed) !== hash) return bad('content does not match its hash (the event was altered)');
      checked += 1;
      expectedPrev = hash;
      expectedSeq += 1;
    }
    if (rows.length < pageSize) return { ok: true, events_checked: checked, first_bad_seq: null, reason: null };
  }
}
