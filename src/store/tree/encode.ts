import { compareNames, type TreeEntry } from '../../domain/trees';

// A directory's tree object is hashed, so its bytes are fixed by domain/trees.ts encodeTree (canonical
// JSON of the entries sorted by UTF-8 name). Encoding every directory of a large tree through the
// generic canonicalJson was a tenth of a walk's main-thread time; this writes the same bytes directly
// for entries as the walk builds them (exactly the schema's keys), and a test holds it to encodeTree.

// UTF-16 order is UTF-8 byte order unless a surrogate (a character above U+FFFF) is involved.
const SURROGATE = /[\uD800-\uDFFF]/;

// A string JSON.stringify writes as is between quotes: no quote, backslash, control character or
// surrogate (a lone one would be escaped; a name with a pair simply takes the slow path). Testing for
// that is cheaper than JSON.stringify, and nearly every name passes.
const VERBATIM = /^[^"\\\u0000-\u001f\uD800-\uDFFF]*$/;
const quoted = (text: string): string => (VERBATIM.test(text) ? `"${text}"` : JSON.stringify(text));

const byUtf16 = (a: TreeEntry, b: TreeEntry): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const byUtf8 = (a: TreeEntry, b: TreeEntry): number => compareNames(a.name, b.name);

/** encodeTree(entries), byte for byte; sorts `entries` in place. Entries must hold only their schema's keys. */
export function encodeTreeEntries(entries: TreeEntry[]): string {
  // Names are looked at once for a surrogate, not at every comparison of the sort.
  entries.sort(entries.some((e) => SURROGATE.test(e.name)) ? byUtf8 : byUtf16);
  const parts = new Array<string>(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (i > 0 && entries[i - 1]!.name === e.name) throw new Error(`a tree cannot hold "${e.name}" twice`);
    // Keys in canonical (sorted) order: mode, name, sha256 | target, size, type.
    parts[i] =
      e.type === 'symlink'
        ? `{"mode":${e.mode},"name":${quoted(e.name)},"target":${quoted(e.target)},"type":"symlink"}`
        : `{"mode":${e.mode},"name":${quoted(e.name)},"sha256":${quoted(e.sha256)},"size":${e.size},"type":"${e.type}"}`;
  }
  return `{"entries":[${parts.join(',')}]}`;
}
