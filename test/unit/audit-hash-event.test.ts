import { createHash } from 'node:crypto';
import { GENESIS_HASH, type AuditEvent } from '../../src/domain/audit';
import { hashEvent } from '../../src/store/catalog/audit-log';

type Unhashed = Omit<AuditEvent, 'hash'>;

function unhashed(): Unhashed {
  return {
    seq: 1,
    at: '2026-02-01T09:30:00.000Z',
    actor: 'user:teacher@example.org',
    action: 'distribution.completed',
    subject: 'space:uni/stats',
    details: { targets: ['alice', 'bob'], strategy: { files: 'overwrite', tables: 'skip' } },
    content_hashes: { '/files/sheet.pdf': '1'.repeat(64) },
    task_id: 'distribution-123',
    event_key: 'distribution.completed:distribution-123',
    prev_hash: GENESIS_HASH,
  };
}

// The canonical form written out by hand, so the test does not reuse canonicalJson to check itself.
const EXPECTED_CANONICAL =
  '{"action":"distribution.completed","actor":"user:teacher@example.org","at":"2026-02-01T09:30:00.000Z",' +
  '"content_hashes":{"/files/sheet.pdf":"' + '1'.repeat(64) + '"},' +
  '"details":{"strategy":{"files":"overwrite","tables":"skip"},"targets":["alice","bob"]},' +
  '"event_key":"distribution.completed:distribution-123","prev_hash":"' + GENESIS_HASH + '",' +
  '"seq":1,"subject":"space:uni/stats","task_id":"distribution-123"}';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

describe('hashEvent', () => {
  it('is sha256 of prev_hash followed by the canonical JSON of the event', () => {
    const event = unhashed();
    expect(hashEvent(event)).toBe(sha256(GENESIS_HASH + EXPECTED_CANONICAL));
  });

  it('returns 64 lowercase hex characters', () => {
    expect(hashEvent(unhashed())).toMatch(/^[0-9a-f]{64}$/);
  });

  it('uses the event prev_hash, so the same content after a different predecessor hashes differently', () => {
    const prev = 'a'.repeat(64);
    const event = { ...unhashed(), prev_hash: prev };
    const canonical = EXPECTED_CANONICAL.replace(GENESIS_HASH, prev);
    expect(hashEvent(event)).toBe(sha256(prev + canonical));
    expect(hashEvent(event)).not.toBe(hashEvent(unhashed()));
  });

  it('does not depend on the order of keys in the event or its details', () => {
    const event = unhashed();
    const reordered: Unhashed = {
      prev_hash: event.prev_hash,
      event_key: event.event_key,
      task_id: event.task_id,
      content_hashes: event.content_hashes,
      details: { strategy: { tables: 'skip', files: 'overwrite' }, targets: ['alice', 'bob'] },
      subject: event.subject,
      action: event.action,
      actor: event.actor,
      at: event.at,
      seq: event.seq,
    };
    expect(hashEvent(reordered)).toBe(hashEvent(event));
  });

  it('ignores a hash property already present on the event', () => {
    const event = unhashed();
    const withHash = { ...event, hash: 'b'.repeat(64) } as Unhashed;
    expect(hashEvent(withHash)).toBe(hashEvent(event));
  });

  it('is deterministic across calls', () => {
    expect(hashEvent(unhashed())).toBe(hashEvent(unhashed()));
  });

  const changes: [string, (e: Unhashed) => Unhashed][] = [
    ['seq', (e) => ({ ...e, seq: 2 })],
    ['at', (e) => ({ ...e, at: '2026-02-01T09:30:00.001Z' })],
    ['actor', (e) => ({ ...e, actor: 'user:someone@example.org' })],
    ['action', (e) => ({ ...e, action: 'distribution.failed' })],
    ['subject', (e) => ({ ...e, subject: 'space:uni/other' })],
    ['details (nested value)', (e) => ({ ...e, details: { ...e.details, strategy: { files: 'mirror', tables: 'skip' } } })],
    ['details (added key)', (e) => ({ ...e, details: { ...e.details, note: '' } })],
    ['content_hashes', (e) => ({ ...e, content_hashes: { '/files/sheet.pdf': '2'.repeat(64) } })],
    ['task_id (to null)', (e) => ({ ...e, task_id: null })],
    ['event_key', (e) => ({ ...e, event_key: 'other-key' })],
    ['prev_hash', (e) => ({ ...e, prev_hash: 'c'.repeat(64) })],
  ];

  it.each(changes)('changes when %s changes', (_field, change) => {
    const original = hashEvent(unhashed());
    expect(hashEvent(change(unhashed()))).not.toBe(original);
  });

  it('distinguishes a null task_id from a string "null"', () => {
    expect(hashEvent({ ...unhashed(), task_id: null })).not.toBe(hashEvent({ ...unhashed(), task_id: 'null' }));
  });
});
