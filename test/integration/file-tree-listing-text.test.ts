import { listingText, type ListedEntry } from '../../src/store/tree/fs-jobs';
import { parseListing } from '../../src/store/tree/listing';

// A folder's stat-cache record is kept under a hash of its listing text (listing.ts folderKey), and
// caches are saved to disk: the text must stay byte for byte what earlier versions wrote, or every
// saved folder record misses once after an upgrade. The walk also reads the text back (parseListing).

const entries: ListedEntry[] = [
  ['a.txt', 'file', 0o644, 12, '2049', '131:12:1765000000123456789:1765000000123456789'],
  ['link', 'symlink', 0o777, 7, '2049', '132:7:1765000000000000001:1765000000000000002', '../a.txt'],
  ['empty-target', 'symlink', 0o777, 0, '2049', '133:0:1:2', ''],
  ['sub dir', 'dir', 0o750, 4096, '2049', '134:4096:3:4'],
  ['é\u{1F600}', 'changed', 0o777, 5, '2049', '135:5:5:6'],
];

describe('a listing as text', () => {
  it('is the seven fields of each entry joined by NUL, a missing link target written as empty, exactly as before', () => {
    // The text as the earlier `+=` version built it, written out field by field.
    const expected =
      'a.txt\0file\x00420\x0012\x002049\x00131:12:1765000000123456789:1765000000123456789\0\0' +
      'link\0symlink\x00511\x007\x002049\x00132:7:1765000000000000001:1765000000000000002\0../a.txt\0' +
      'empty-target\0symlink\x00511\x000\x002049\x00133:0:1:2\0\0' +
      'sub dir\0dir\x00488\x004096\x002049\x00134:4096:3:4\0\0' +
      'é\u{1F600}\0changed\x00511\x005\x002049\x00135:5:5:6\0\0';
    expect(listingText(entries)).toBe(expected);
    expect(listingText([])).toBe('');
  });

  it('reads back as the same entries: a link keeps its (even empty) target, other entries have none', () => {
    expect(parseListing(listingText(entries))).toEqual(entries);
  });
});
