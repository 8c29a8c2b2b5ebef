import { canonicalJson, GENESIS_HASH, hashedPart, type AuditEvent } from '../../src/domain/audit';

function sampleEvent(): AuditEvent {
  return {
    seq: 3,
    at: '2026-01-05T10:00:00.000Z',
    actor: 'user:teacher@example.org',
    action: 'instance.created',
    subject: 'instance:uni/stats/alice',
    details: { name: 'Alice', tags: ['a', 'b'] },
    content_hashes: { '/files/a.txt': 'ab'.repeat(32) },
    task_id: null,
    event_key: 'instance.created:uni/stats/alice',
    prev_hash: GENESIS_HASH,
    hash: 'f'.repeat(64),
  };
}

describe('canonicalJson', () => {
  it('sorts the keys of the top-level object', () => {
    expect(canonicalJson({ b: 1, a: 2, c: 3 })).toBe('{"a":2,"b":1,"c":3}');
  });

  it('sorts the keys at every depth, including objects inside arrays', () => {
    const value = { z: { y: 1, x: { d: 1, c: 2 } }, a: [{ q: 1, p: 2 }, 3] };
    expect(canonicalJson(value)).toBe('{"a":[{"p":2,"q":1},3],"z":{"x":{"c":2,"d":1},"y":1}}');
  });

  it('writes no whitespace between tokens but keeps whitespace inside strings', () => {
    const out = canonicalJson({ list: [1, 2, { k: 'a b\tc' }], n: null, t: true });
    expect(out).toBe('{"list":[1,2,{"k":"a b\\tc"}],"n":null,"t":true}');
    expect(out.replace(/"(?:[^"\\]|\\.)*"/g, '')).not.toMatch(/\s/);
  });

  it('gives the same bytes for objects that differ only in key order', () => {
    const one = { actor: 'x', details: { b: [1, { y: 2, x: 1 }], a: 'z' }, seq: 1 };
    const two = { seq: 1, details: { a: 'z', b: [1, { x: 1, y: 2 }] }, actor: 'x' };
    expect(canonicalJson(one)).toBe(canonicalJson(two));
  });

  it('keeps array order (arrays are not sorted)', () => {
    expect(canonicalJson([3, 1, 2])).toBe('[3,1,2]');
    expect(canonicalJson([3, 1, 2])).not.toBe(canonicalJson([1, 2, 3]));
  });

  it('drops undefined properties of objects at every depth', () => {
    expect(canonicalJson({ a: 1, b: undefined, c: { d: undefined, e: 2 } })).toBe('{"a":1,"c":{"e":2}}');
    expect(canonicalJson({ a: 1, b: undefined })).toBe(canonicalJson({ a: 1 }));
  });

  it('writes undefined array elements as null, like JSON.stringify', () => {
    expect(canonicalJson([1, undefined, 3])).toBe('[1,null,3]');
    expect(canonicalJson([1, undefined, 3])).toBe(JSON.stringify([1, undefined, 3]));
  });

  it('writes a top-level undefined or null as null', () => {
    expect(canonicalJson(undefined)).toBe('null');
    expect(canonicalJson(null)).toBe('null');
  });

  it('serialises scalars exactly as JSON does, escaping strings', () => {
    expect(canonicalJson('he said "hi"\n')).toBe('"he said \\"hi\\"\\n"');
    expect(canonicalJson(0)).toBe('0');
    expect(canonicalJson(-1.5)).toBe('-1.5');
    expect(canonicalJson(false)).toBe('false');
    expect(canonicalJson({ 'quo"te': 1 })).toBe('{"quo\\"te":1}');
  });

  it('produces JSON that parses back to the same value', () => {
    const value = { z: [1, 'two', { three: 3, four: [null, true] }], a: { nested: { deep: 'ü€' } } };
    expect(JSON.parse(canonicalJson(value))).toEqual(value);
  });

  it('sorts keys by code unit, so upper case comes before lower case', () => {
    expect(canonicalJson({ b: 1, B: 2, a: 3, _: 4, '1': 5 })).toBe('{"1":5,"B":2,"_":4,"a":3,"b":1}');
  });

  it.each([
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
  ])('throws on %s at the top level', (_name, value) => {
    expect(() => canonicalJson(value)).toThrow(TypeError);
  });

  it('throws on a non-finite number nested in an object or array', () => {
    expect(() => canonicalJson({ a: { b: NaN } })).toThrow(/non-finite/);
    expect(() => canonicalJson([1, [Infinity]])).toThrow(/non-finite/);
  });
});

describe('hashedPart', () => {
  it('returns every field of the event except the hash', () => {
    const event = sampleEvent();
    const part = hashedPart(event);
    expect(part).not.toHaveProperty('hash');
    const { hash: _hash, ...rest } = event;
    expect(part).toEqual(rest);
    expect(Object.keys(part).sort()).toEqual(
      ['action', 'actor', 'at', 'content_hashes', 'details', 'event_key', 'prev_hash', 'seq', 'subject', 'task_id'],
    );
  });

  it('drops fields that are not part of an audit event', () => {
    const event = { ...sampleEvent(), extra: 'not hashed' };
    expect(hashedPart(event)).not.toHaveProperty('extra');
    expect(canonicalJson(hashedPart(event))).toBe(canonicalJson(hashedPart(sampleEvent())));
  });

  it('keeps a null task_id (null is hashed, not dropped)', () => {
    expect(canonicalJson(hashedPart(sampleEvent()))).toContain('"task_id":null');
  });

  it('does not change the event it is given', () => {
    const event = sampleEvent();
    hashedPart(event);
    expect(event).toEqual(sampleEvent());
  });
});
