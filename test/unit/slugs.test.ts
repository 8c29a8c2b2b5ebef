import { Slug, slugify } from '../../src/domain/slugs';

const valid = (s: string) => Slug.safeParse(s).success;

describe('Slug', () => {
  it.each(['a', '0', 'intro_to_stats_2026', 'my-org', 'a-b_c-9', '9lives', 'a'.repeat(63), 'a_', 'a-'])('accepts %j', (s) => {
    expect(valid(s)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['uppercase', 'Intro'],
    ['a single uppercase letter', 'myOrg'],
    ['spaces', 'intro stats'],
    ['leading space', ' intro'],
    ['leading "-"', '-intro'],
    ['leading "_"', '_intro'],
    ['64 characters', 'a'.repeat(64)],
    ['".."', '..'],
    ['a dot', 'v1.2'],
    ['"/"', 'org/space'],
    ['a path traversal', '../etc'],
    ['a backslash', 'a\\b'],
    ['an accent', 'café'],
    ['a trailing newline', 'abc\n'],
  ])('rejects %s', (_what, s) => {
    expect(valid(s)).toBe(false);
  });

  it('explains the rule in its error message', () => {
    const result = Slug.safeParse('Bad Slug');
    expect(result.success).toBe(false);
    expect(result.error!.issues[0]!.message).toMatch(/1–63 characters/);
  });
});

describe('slugify', () => {
  it('turns a display name into a lowercase slug with underscores', () => {
    expect(slugify('Intro to Stats 2026')).toBe('intro_to_stats_2026');
  });

  it('strips accents instead of dropping the letters', () => {
    expect(slugify('Café Économie')).toBe('cafe_economie');
    expect(slugify('Übung Nr. 3')).toBe('ubung_nr_3');
    expect(slugify('Ångström')).toBe('angstrom');
  });

  it('collapses runs of other characters into one underscore', () => {
    expect(slugify('a  /  b!!c')).toBe('a_b_c');
  });

  it('keeps "-" and "_" in the middle', () => {
    expect(slugify('pre-course_notes')).toBe('pre-course_notes');
  });

  it('trims separators from both ends', () => {
    expect(slugify('  --Hello World!--  ')).toBe('hello_world');
    expect(slugify('__x__')).toBe('x');
  });

  it('returns an empty string when nothing usable is left', () => {
    expect(slugify('')).toBe('');
    expect(slugify('!!! ???')).toBe('');
    expect(slugify('日本語')).toBe('');
    expect(slugify('..')).toBe('');
  });

  it('cuts a long name to 63 characters', () => {
    const out = slugify('x'.repeat(100));
    expect(out).toBe('x'.repeat(63));
  });

  it.each([
    'Intro to Stats 2026',
    'Café Économie',
    '  --Hello World!--  ',
    '../../etc/passwd',
    'A'.repeat(62) + ' B',
    'ﬁnal ﬁle',
    'Straße',
    '-_-a-_-',
    'Ελληνικά 101',
    '2026 / Fall / Section A',
  ])('gives a valid slug or an empty string for %j', (name) => {
    const out = slugify(name);
    expect(out === '' || valid(out)).toBe(true);
  });
});
