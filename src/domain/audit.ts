import { z } from 'zod';

/** One audit event as stored and shown. `hash = sha256(prev_hash + canonicalJson(event without hash))`. */
export const AuditEvent = z.object({
  seq: z.number().int().positive(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  subject: z.string(),
  details: z.record(z.string(), z.unknown()),
  content_hashes: z.record(z.string(), z.string()),
  task_id: z.string().nullable(),
  event_key: z.string(),
  prev_hash: z.string(),
  hash: z.string(),
});
export type AuditEvent = z.infer<typeof AuditEvent>;

/** What a caller supplies to append an event; the store adds seq, time and the chain. */
export const AuditAppend = z.object({
  event_key: z.string().min(1).max(500),
  actor: z.string().min(1),
  action: z.string().min(1),
  subject: z.string().min(1),
  details: z.record(z.string(), z.unknown()).default({}),
  content_hashes: z.record(z.string(), z.string()).default({}),
  task_id: z.string().nullable().default(null),
});
export type AuditAppend = z.input<typeof AuditAppend>;

/** The hash that precedes the first event of the chain. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * Canonical JSON (sorted keys, no whitespace, no undefined): the same event always serialises
 * to the same bytes, whichever process or driver produced it.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number');
    return JSON.stringify(value ?? null);
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** The part of an event that the hash covers: everything but the hash itself. */
export function hashedPart(event: Omit<AuditEvent, 'hash'>): Omit<AuditEvent, 'hash'> {
  const { seq, at, actor, action, subject, details, content_hashes, task_id, event_key, prev_hash } = event;
  return { seq, at, actor, action, subject, details, content_hashes, task_id, event_key, prev_hash };
}

export const AuditFilter = z.object({
  actor: z.string().optional(),
  action: z.string().optional(),
  subject: z.string().optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().positive().max(100000).optional(),
});
export type AuditFilter = z.infer<typeof AuditFilter>;

export const AuditVerifyResult = z.object({
  ok: z.boolean(),
  events_checked: z.number().int(),
  first_bad_seq: z.number().int().nullable(),
  reason: z.string().nullable(),
});
export type AuditVerifyResult = z.infer<typeof AuditVerifyResult>;
