import { encodeTree, type TreeEntry } from '../../src/domain/trees';
import { encodeTreeEntries } from '../../src/store/tree/encode';

// Tree ids are hashes of tree objects' bytes, so the walk's own encoder must write exactly what the
// domain's encodeTree writes, for every name a file system can hold (and lone surrogates, which no
// UTF-8 name decodes to, but which JSON escapes).

const names = ['a', 'B', 'é', 'Z.txt', 'a b', '"quoted"', 'back\\slash', 'tab\there', 'new\nline', '\u0001ctl', '\uFF5E.txt', '\u{1F600}.txt', '\u{1F600}\uFF5E', 'ü-ß', '日本語', '\u2028sep', '-', '.hidden', '~', '\u007f', 'x\u001f', 'lone\uD800', '\uDFFFlone'];

function entryFor(name: string, i: number): TreeEntry {
  const sha256 = (i * 2654435761).toString(16).padStart(8, '0').repeat(8).slice(0, 64);
  if (i % 3 === 0) return { name, type: 'file', mode: [0o644, 0o755, 0o600, 0][i % 4]!, size: i * 1000003, sha256 };
  if (i % 3 === 1) return { name, type: 'dir', mode: 0o750, size: i, sha256 };
  // Targets both plain (written as they are) and with characters JSON must escape.
  return { name, type: 'symlink', mode: 0o777, target: i % 2 ? `../plain/target-${i}` : `../${name}/\u{1F600}"x"` };
}

describe('the walk encodes tree objects exactly as encodeTree', () => {
  it.each([
    ['of every kind of character', names],
    // Without a character above U+FFFF the walk sorts by plain string comparison: the same order still.
    ['without a character beyond U+FFFF', names.filter((name) => !/[\uD800-\uDFFF]/.test(name))],
  ])('for names in any order, %s', (_kind, set) => {
    for (let shift = 0; shift < set.length; shift++) {
      const rotated = [...set.slice(shift), ...set.slice(0, shift)];
      const entries = rotated.map((name, i) => entryFor(name, i + shift));
      expect(encodeTreeEntries([...entries])).toBe(encodeTree(entries));
    }
    expect(encodeTreeEntries([])).toBe(encodeTree([]));
  });

  it('refuses a name twice, as encodeTree does', () => {
    const twice = [entryFor('same', 0), entryFor('other', 1), entryFor('same', 2)];
    expect(() => encodeTree(twice)).toThrow(/twice/);
    expect(() => encodeTreeEntries(twice)).toThrow(/twice/);
  });
});
