import YAML from 'yaml';
import { CliError } from '../../src/cli/errors';
import { render, renderRecord, type Column, type Format } from '../../src/cli/output';

interface Row {
  slug: string;
  name: string;
  count: number;
  meta: Record<string, unknown> | null;
}

const rows: Row[] = [
  { slug: 'alice', name: 'Alice Smith', count: 3, meta: { tags: ['x', 'y'] } },
  { slug: 'bob', name: 'Bob', count: 12, meta: null },
];

const columns: Column<Row>[] = [
  { header: 'slug', value: (r) => r.slug },
  { header: 'name', value: (r) => r.name },
  { header: 'count', value: (r) => r.count },
];

/** A small RFC 4180 reader, written here so the CSV output is checked by an independent parser. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      record.push(field);
      field = '';
    } else if (ch === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else field += ch;
  }
  if (quoted) throw new Error('unterminated quoted field');
  record.push(field);
  records.push(record);
  return records;
}

describe('render as json', () => {
  it('is a list even for a single row', () => {
    const parsed = JSON.parse(render([rows[0]!], 'json', columns));
    expect(Array.isArray(parsed)).toBe(true);
    expect(parsed).toEqual([rows[0]]);
  });

  it('is an empty list for no rows', () => {
    expect(JSON.parse(render([], 'json', columns))).toEqual([]);
  });

  it('contains every field, not only the tabulated columns', () => {
    expect(JSON.parse(render(rows, 'json', columns))).toEqual(rows);
  });
});

describe('render as yaml', () => {
  it('writes one document per row, each starting with ---', () => {
    const out = render(rows, 'yaml', columns);
    expect(out.split('\n').filter((l) => l === '---')).toHaveLength(2);
    expect(out.startsWith('---\n')).toBe(true);
  });

  it('parses back with parseAllDocuments to the same objects', () => {
    const tricky = [
      ...rows,
      { slug: 'c', name: 'has: colon, and "quotes"', count: -1, meta: { multi: 'line one\nline two', dashes: '---', empty: '' } },
      { slug: 'd', name: 'yes', count: 0, meta: { n: 'null', num: '42' } },
    ];
    const docs = YAML.parseAllDocuments(render(tricky, 'yaml', columns));
    expect(Array.isArray(docs)).toBe(true);
    const parsed = (docs as YAML.Document[]).map((d) => {
      expect(d.errors).toEqual([]);
      return d.toJS();
    });
    expect(parsed).toEqual(tricky);
  });

  it('writes a single row as one document', () => {
    const docs = YAML.parseAllDocuments(render([rows[1]!], 'yaml', columns)) as YAML.Document[];
    expect(docs.map((d) => d.toJS())).toEqual([rows[1]]);
  });

  it('writes nothing for no rows', () => {
    expect(render([], 'yaml', columns)).toBe('');
  });
});

describe('render as csv', () => {
  it('writes a header of the row keys and one line per row', () => {
    const out = render(
      [
        { a: 1, b: 'x' },
        { a: 2, b: 'y' },
      ],
      'csv',
      [],
    );
    expect(out).toBe('a,b\n1,x\n2,y');
  });

  it('quotes commas, quotes and newlines so the fields parse back exactly', () => {
    const data = [
      { id: 1, text: 'plain', note: 'a, b' },
      { id: 2, text: 'she said "no"', note: 'line 1\nline 2' },
      { id: 3, text: 'cr\r\nlf', note: '"' },
      { id: 4, text: '', note: ',' },
    ];
    const out = render(data, 'csv', []);
    expect(out).toContain('"a, b"');
    expect(out).toContain('"she said ""no"""');
    expect(out).toContain('""""');
    expect(parseCsv(out)).toEqual([
      ['id', 'text', 'note'],
      ['1', 'plain', 'a, b'],
      ['2', 'she said "no"', 'line 1\nline 2'],
      ['3', 'cr\r\nlf', '"'],
      ['4', '', ','],
    ]);
  });

  it('leaves fields without special characters unquoted', () => {
    expect(render([{ a: 'hello world', b: 'semi;colon' }], 'csv', [])).toBe('a,b\nhello world,semi;colon');
  });

  it('writes objects as JSON and null as an empty field', () => {
    const out = render([{ details: { k: 'v', n: [1, 2] }, task: null }], 'csv', []);
    expect(parseCsv(out)).toEqual([
      ['details', 'task'],
      ['{"k":"v","n":[1,2]}', ''],
    ]);
  });

  it('writes the same header for no rows as for some when the fields are given', () => {
    expect(render([], 'csv', columns, ['slug', 'name', 'count'])).toBe('slug,name,count');
    expect(render([{ slug: 'a', name: 'A', count: 1, meta: null }], 'csv', columns, ['slug', 'name', 'count']).split('\n')[0]).toBe('slug,name,count');
  });

  it('heads the columns with every field of any row, quoting names that need it', () => {
    expect(render([{ a: 1 }, { a: 2, 'b,c': 3 }], 'csv', [])).toBe('a,"b,c"\n1,\n2,3');
  });
});

describe('render as tabulated', () => {
  it('aligns every column under its header', () => {
    const out = render(rows, 'tabulated', columns);
    const lines = out.split('\n');
    expect(lines).toEqual([
      'slug   name         count',
      '-----  -----------  -----',
      'alice  Alice Smith  3',
      'bob    Bob          12',
    ]);
    // Each column starts at the same offset on every line.
    expect(lines[2]!.indexOf('Alice Smith')).toBe(lines[0]!.indexOf('name'));
    expect(lines[3]!.indexOf('Bob')).toBe(lines[0]!.indexOf('name'));
    expect(lines[3]!.indexOf('12')).toBe(lines[0]!.indexOf('count'));
  });

  it('shows only the given columns', () => {
    const out = render(rows, 'tabulated', [columns[0]!]);
    expect(out).toBe('slug\n-----\nalice\nbob');
  });

  it('shows (none) when there are no rows', () => {
    expect(render([], 'tabulated', columns)).toBe('(none)');
  });

  it('keeps each row on one line even when a value contains newlines', () => {
    const out = render([{ slug: 's', name: 'two\nlines', count: 1, meta: null }], 'tabulated', columns);
    expect(out.split('\n')).toHaveLength(3);
    expect(out).toContain('two lines');
  });

  it('writes empty cells for null and JSON for objects', () => {
    const cols: Column<Row>[] = [
      { header: 'slug', value: (r) => r.slug },
      { header: 'meta', value: (r) => r.meta },
    ];
    expect(render(rows, 'tabulated', cols).split('\n')).toEqual([
      'slug   meta',
      '-----  ------------------',
      'alice  {"tags":["x","y"]}',
      'bob',
    ]);
  });
});

describe('render with an unknown format', () => {
  it('throws a CliError naming the format', () => {
    expect(() => render(rows, 'xml' as Format, columns)).toThrow(CliError);
    expect(() => render(rows, 'xml' as Format, columns)).toThrow(/"xml"/);
  });
});

describe('renderRecord', () => {
  const record = { id: 'task-1', status: 'RUNNING', progress: { done: 1, total: 4 }, error: null };

  it('shows one "key  value" line per field with aligned values when tabulated', () => {
    expect(renderRecord(record, 'tabulated').split('\n')).toEqual([
      'id        task-1',
      'status    RUNNING',
      'progress  {"done":1,"total":4}',
      'error     ',
    ]);
  });

  it('is a one-element list as json', () => {
    expect(JSON.parse(renderRecord(record, 'json'))).toEqual([record]);
  });

  it('is one yaml document', () => {
    const docs = YAML.parseAllDocuments(renderRecord(record, 'yaml')) as YAML.Document[];
    expect(docs.map((d) => d.toJS())).toEqual([record]);
  });
});
