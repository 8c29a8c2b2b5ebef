import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { createInstanceStorage } from '../../src/store/instance-storage';
import { openWarehouse, WarehouseError, withWarehouse, type Warehouse } from '../../src/store/warehouse';
import { tempDir } from '../helpers/catalog';

/** Runs SQL on a warehouse file the way the test's own code would: through the shared instance cache. */
async function sql(path: string, text: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.fromCache(path);
  const connection = await instance.connect();
  try {
    return (await connection.runAndReadAll(text)).getRowObjectsJson();
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

const rowsOf = (path: string, table: string) => sql(path, `SELECT * FROM "${table}" ORDER BY ALL`);

/** Everything a bad request could change: the tables, their DDL and every row. */
async function everything(warehouse: Warehouse): Promise<unknown> {
  const tables = await warehouse.listTables();
  const rows = await Promise.all(tables.map((t) => rowsOf(warehouse.path, t.name)));
  return { tables, ddl: await warehouse.schemaDdl(), rows };
}

async function expectRefused(work: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const err = await work.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(WarehouseError);
  expect(err).toMatchObject({ code, message: expect.stringMatching(message) });
}

describe('an instance warehouse on a real DuckDB file', () => {
  let dir: string;
  let path: string;
  let warehouse: Warehouse;
  const file = (name: string, content?: string) => {
    const target = join(dir, 'files', name);
    if (content !== undefined) writeFileSync(target, content);
    return target;
  };
  // Written as DuckDB writes it back (8.0 for a DOUBLE), so an export can be compared byte for byte.
  const SCORES_CSV = 'id,name,grade\n1,Ada,9.5\n2,"Lovelace, A.",8.0\n3,"say ""hi""",7.25\n';

  beforeEach(async () => {
    dir = tempDir('warehouse');
    path = (await createInstanceStorage(dir, randomUUID())).warehouse;
    mkdirSync(join(dir, 'files'));
    warehouse = await openWarehouse(path);
  });
  afterEach(async () => {
    await warehouse.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('imports a CSV with a header row, detecting column types, and lists, describes and prints it', async () => {
    expect(await warehouse.importFile('scores', file('scores.csv', SCORES_CSV), 'csv', { mode: 'create' })).toBe(3);
    await warehouse.importFile('Weeks', file('weeks.csv', 'week,present\n1,true\n'), 'csv', { mode: 'create' });
    // Sorted ignoring case, as names are matched: "scores" before "Weeks".
    expect(await warehouse.listTables()).toEqual([
      { name: 'scores', row_count: 3, column_count: 3 },
      { name: 'Weeks', row_count: 1, column_count: 2 },
    ]);
    expect(await warehouse.columns('scores')).toEqual([
      { name: 'id', type: 'BIGINT', nullable: true },
      { name: 'name', type: 'VARCHAR', nullable: true },
      { name: 'grade', type: 'DOUBLE', nullable: true },
    ]);
    expect(await warehouse.ddl('scores')).toBe('CREATE TABLE scores(id BIGINT, "name" VARCHAR, grade DOUBLE);');
    expect(await warehouse.schemaDdl()).toBe('CREATE TABLE scores(id BIGINT, "name" VARCHAR, grade DOUBLE);\nCREATE TABLE "Weeks"("week" BIGINT, present BOOLEAN);\n');
    expect(await rowsOf(path, 'scores')).toEqual([
      { id: '1', name: 'Ada', grade: 9.5 },
      { id: '2', name: 'Lovelace, A.', grade: 8 },
      { id: '3', name: 'say "hi"', grade: 7.25 },
    ]);
    expect([await warehouse.exists('SCORES'), await warehouse.exists('nope')]).toEqual([true, false]);
  });

  it('imports a Parquet file, keeping its column types', async () => {
    const parquet = file('typed.parquet');
    await sql(':memory:', `COPY (SELECT 1::INTEGER AS n, DATE '2026-03-01' AS due, 2.50::DECIMAL(5,2) AS fee) TO '${parquet}' (FORMAT parquet)`);
    expect(await warehouse.importFile('typed', parquet, 'parquet', { mode: 'create' })).toBe(1);
    expect((await warehouse.columns('typed')).map((c) => c.type)).toEqual(['INTEGER', 'DATE', 'DECIMAL(5,2)']);
    expect(await rowsOf(path, 'typed')).toEqual([{ n: 1, due: '2026-03-01', fee: '2.50' }]);
  });

  it('replaces a table or appends to it by column name, and reports the rows imported', async () => {
    await warehouse.importFile('scores', file('scores.csv', SCORES_CSV), 'csv', { mode: 'create' });
    expect(await warehouse.importFile('scores', file('more.csv', 'grade,id,name\n6,4,Bob\n'), 'csv', { mode: 'append' })).toBe(1);
    expect((await warehouse.listTables())[0].row_count).toBe(4);
    expect(await warehouse.importFile('scores', file('new.csv', 'x\n1\n2\n'), 'csv', { mode: 'replace' })).toBe(2);
    expect(await warehouse.columns('scores')).toEqual([{ name: 'x', type: 'BIGINT', nullable: true }]);
    expect(await warehouse.importFile('fresh', file('new.csv'), 'csv', { mode: 'replace' })).toBe(2);
  });

  it('exports CSV and Parquet files that re-import to identical rows and columns', async () => {
    await warehouse.importFile('scores', file('scores.csv', SCORES_CSV + '4,,\n'), 'csv', { mode: 'create' });
    for (const format of ['csv', 'parquet'] as const) {
      const out = file(`out.${format}`);
      expect(await warehouse.exportFile('scores', out, format)).toBe(4);
      await warehouse.importFile(`again_${format}`, out, format, { mode: 'create' });
      expect(await warehouse.columns(`again_${format}`)).toEqual(await warehouse.columns('scores'));
      expect(await rowsOf(path, `again_${format}`)).toEqual(await rowsOf(path, 'scores'));
    }
    expect(readFileSync(file('out.csv'), 'utf8')).toBe(SCORES_CSV + '4,,\n');
  });

  it('overwrites an export file in one step and leaves no temporary file behind', async () => {
    await warehouse.importFile('scores', file('scores.csv', SCORES_CSV), 'csv', { mode: 'create' });
    const out = file('export.csv', 'old content');
    await warehouse.exportFile('scores', out, 'csv');
    expect(readFileSync(out, 'utf8')).toBe(SCORES_CSV);
    await expectRefused(warehouse.exportFile('missing', out, 'csv'), 'not_found', /table "missing" not found/);
    expect(readFileSync(out, 'utf8')).toBe(SCORES_CSV);
    expect(readdirSync(join(dir, 'files')).sort()).toEqual(['export.csv', 'scores.csv']);
  });

  it('renames a table (a change of case included) and deletes one', async () => {
    await warehouse.importFile('scores', file('scores.csv', SCORES_CSV), 'csv', { mode: 'create' });
    await warehouse.rename('scores', 'grades');
    await warehouse.rename('GRADES', 'Grades');
    expect((await warehouse.listTables()).map((t) => t.name)).toEqual(['Grades']);
    await warehouse.rename('grades', 'g'.repeat(63)); // the longest valid name
    await warehouse.rename('g'.repeat(63), 'Grades');
    expect(await rowsOf(path, 'Grades')).toHaveLength(3);
    await warehouse.drop('grades');
    expect(await warehouse.listTables()).toEqual([]);
    expect(await warehouse.schemaDdl()).toBe('');
  });

  describe('bad requests get a clear error and change nothing', () => {
    let before: unknown;
    beforeEach(async () => {
      await warehouse.importFile('scores', file('scores.csv', SCORES_CSV), 'csv', { mode: 'create' });
      await warehouse.importFile('y', file('y.csv', 'v\n1\n'), 'csv', { mode: 'create' });
      await warehouse.importFile('pairs', file('pairs.csv', 'a,b\n1,2\n'), 'csv', { mode: 'create' });
      before = await everything(warehouse);
    });
    afterEach(async () => {
      expect(await everything(warehouse)).toEqual(before);
    });

    it.each([
      ['columns', (w: Warehouse) => w.columns('nope')],
      ['ddl', (w: Warehouse) => w.ddl('nope')],
      ['delete', (w: Warehouse) => w.drop('nope')],
      ['rename', (w: Warehouse) => w.rename('nope', 'other')],
    ])('reports a missing table to %s as not found', async (_op, run) => {
      await expectRefused(run(warehouse), 'not_found', /table "nope" not found/);
    });

    it('refuses to append to a missing table, or to import a missing file', async () => {
      await expectRefused(warehouse.importFile('nope', file('scores.csv'), 'csv', { mode: 'append' }), 'not_found', /into table "nope": table "nope" not found/);
      await expectRefused(warehouse.importFile('t', file('absent.csv'), 'csv', { mode: 'create' }), 'not_found', /file ".*absent.csv" not found/);
      await expectRefused(warehouse.importFile('t', file('empty.csv', ''), 'csv', { mode: 'create' }), 'invalid_input', /file ".*empty.csv" is empty/);
    });

    it('refuses to create a table that exists (in any case) or to rename onto one', async () => {
      await expectRefused(warehouse.importFile('SCORES', file('y.csv'), 'csv', { mode: 'create' }), 'conflict', /table "scores" already exists \(use mode replace or append\)/);
      await expectRefused(warehouse.rename('scores', 'Y'), 'conflict', /cannot rename table "scores" to "Y": table "y" already exists/);
      await expectRefused(warehouse.rename('scores', 'scores'), 'invalid_input', /already has that name/);
    });

    const longName = 'a'.repeat(64);
    it.each(['x; DROP TABLE y', '"quoted"', 'a-b', '../x', '', longName, '1abc', 'y"', 'é'])('rejects the table name %j everywhere', async (name) => {
      const csv = file('scores.csv');
      const message = /invalid table name .*a table name is 1–63 characters/;
      await expectRefused(warehouse.importFile(name, csv, 'csv', { mode: 'replace' }), 'invalid_input', message);
      await expectRefused(warehouse.rename('y', name), 'invalid_input', message);
      await expectRefused(warehouse.rename(name, 'z'), 'invalid_input', message);
      await expectRefused(warehouse.drop(name), 'invalid_input', message);
      await expectRefused(warehouse.columns(name), 'invalid_input', message);
      await expectRefused(warehouse.exists(name), 'invalid_input', message);
      await expectRefused(warehouse.exportFile(name, file('o.csv'), 'csv'), 'invalid_input', message);
      await expectRefused(warehouse.loadParquet(name, csv, 'replace'), 'invalid_input', message);
      expect(existsSync(file('o.csv'))).toBe(false);
    });

    it.each([
      ['a relative path', 'files/scores.csv', /is not an absolute path/],
      ['a wildcard', '/tmp/*.csv', /contains a wildcard character/],
      ['a URL', 's3://bucket/x.csv', /is not an absolute path/],
    ])('refuses a file path with %s', async (_what, path, message) => {
      await expectRefused(warehouse.importFile('t', path, 'csv', { mode: 'create' }), 'invalid_input', message);
      await expectRefused(warehouse.exportFile('scores', path, 'csv'), 'invalid_input', message);
    });

    it.each([
      ['an unclosed quote', 'a,b\n1,"oops\n2,3\n', /it is not valid CSV .*a quote is not closed or rows have different numbers of fields/],
      ['rows with different numbers of fields', 'a,b\n1,2\n3,4,5\n', /not valid CSV/],
      ['a bad row after the sniffed sample', `a,b\n${'1,2\n'.repeat(30_000)}3,4,5\n`, /CSV Error on Line: 30002; Original Line: 3,4,5; Expected Number of Columns: 2 Found: 3/],
      ['a value of another type late in the file', `a,b\n${'1,2\n'.repeat(30_000)}x,4\n`, /Could not convert string "x" to 'BIGINT'/],
      ['bytes that are not UTF-8', '\u0000\u00ff\u00fe', /not utf-8 encoded/],
    ])('rejects a CSV with %s: no new table, and a failed replace or append keeps the old rows', async (_what, content, reason) => {
      const bad = join(dir, 'files', 'bad.csv');
      writeFileSync(bad, content, content.startsWith('\u0000') ? 'latin1' : 'utf8');
      await expectRefused(warehouse.importFile('fresh', bad, 'csv', { mode: 'create' }), 'invalid_input', new RegExp(`cannot import ".*bad.csv" into table "fresh": .*${reason.source}`));
      // Same columns as the file, so an append fails only at the bad row, after inserting thousands before it.
      await expectRefused(warehouse.importFile('pairs', bad, 'csv', { mode: 'replace' }), 'invalid_input', reason);
      await expectRefused(warehouse.importFile('pairs', bad, 'csv', { mode: 'append' }), 'invalid_input', reason);
      expect(await warehouse.exists('fresh')).toBe(false);
    });

    it('rejects a file in the wrong format and an append whose columns the table lacks', async () => {
      await expectRefused(warehouse.importFile('fresh', file('scores.csv'), 'parquet', { mode: 'create' }), 'invalid_input', /not .*parquet|magic bytes/i);
      await expectRefused(warehouse.importFile('scores', file('y.csv'), 'csv', { mode: 'append' }), 'invalid_input', /does not have a column with name "v"/);
      await expectRefused(warehouse.importFile('scores', file('y.csv'), 'xlsx' as 'csv', { mode: 'create' }), 'invalid_input', /unknown table file format "xlsx"/);
    });
  });

  it('snapshots a table to Parquet and loads it into another warehouse with the same schema, DDL and rows', async () => {
    await sql(path, `CREATE TABLE typed (id INTEGER NOT NULL, big BIGINT, d DOUBLE, fee DECIMAL(10,2), s VARCHAR, ok BOOLEAN, day DATE,
      "at" TIMESTAMP, atz TIMESTAMPTZ, u UUID, raw BLOB, tags VARCHAR[], who STRUCT(first VARCHAR, "last name" VARCHAR))`);
    await sql(path, `INSERT INTO typed VALUES (1, 9007199254740993, 0.1, 12.34, 'x', true, DATE '2026-01-31', TIMESTAMP '2026-01-31 23:59:59.123456',
      TIMESTAMPTZ '2026-01-31 12:00:00+00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\x00\\xFF'::BLOB, ['a', NULL], {'first': 'Ada', 'last name': 'L'}),
      (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`);
    const blob = file('typed.parquet');
    const entry = await warehouse.exportTableToParquet('TYPED', blob);
    expect(entry).toMatchObject({ name: 'typed', row_count: 2 });
    expect(entry.schema[0]).toEqual({ name: 'id', type: 'INTEGER', nullable: false });
    expect(entry.ddl).toBe(await warehouse.ddl('typed'));

    const target = (await createInstanceStorage(dir, randomUUID())).warehouse;
    await withWarehouse(target, async (other) => {
      expect(await other.loadParquet(entry.name, blob, 'replace', { schema: entry.schema })).toEqual({ table: 'typed', loaded: true, row_count: 2 });
      expect(await other.columns('typed')).toEqual(entry.schema);
      expect(await other.ddl('typed')).toBe(entry.ddl);
      expect(await rowsOf(target, 'typed')).toEqual(await rowsOf(path, 'typed'));
      await expectRefused(other.loadParquet('typed', blob, 'replace', { schema: entry.schema.slice(1) }), 'invalid_input', /the file's columns \(id, big, .*\) differ from the snapshot's \(big, /);
      expect(await other.ddl('typed')).toBe(entry.ddl);
    });
  });

  it('loads Parquet replacing an existing table, or keeping it when asked to ignore existing ones', async () => {
    await warehouse.importFile('scores', file('scores.csv', SCORES_CSV), 'csv', { mode: 'create' });
    const blob = file('one.parquet');
    await sql(':memory:', `COPY (SELECT 42 AS answer) TO '${blob}' (FORMAT parquet)`);
    expect(await warehouse.loadParquet('scores', blob, 'ignore_existing')).toEqual({ table: 'scores', loaded: false, row_count: 3 });
    expect(await rowsOf(path, 'scores')).toHaveLength(3);
    await expectRefused(warehouse.loadParquet('scores', file('scores.csv'), 'replace'), 'invalid_input', /cannot load ".*scores.csv" into table "scores"/);
    expect(await rowsOf(path, 'scores')).toHaveLength(3);
    expect(await warehouse.loadParquet('Scores', blob, 'replace')).toEqual({ table: 'Scores', loaded: true, row_count: 1 });
    expect(await warehouse.listTables()).toEqual([{ name: 'Scores', row_count: 1, column_count: 1 }]);
    expect(await warehouse.loadParquet('extra', blob, 'ignore_existing')).toMatchObject({ loaded: true, row_count: 1 });
  });

  it('shares one database between handles on the same file; closing one leaves the other working', async () => {
    const second = await openWarehouse(path);
    await warehouse.importFile('a', file('a.csv', 'x\n1\n'), 'csv', { mode: 'create' });
    expect(await second.exists('a')).toBe(true);
    await Promise.all([
      warehouse.importFile('b', file('b.csv', 'x\n2\n'), 'csv', { mode: 'create' }),
      second.importFile('c', file('c.csv', 'x\n3\n'), 'csv', { mode: 'create' }),
    ]);
    // Two creates of one table at once: exactly one wins, the other is told why.
    const race = await Promise.allSettled([
      warehouse.importFile('d', file('a.csv'), 'csv', { mode: 'create' }),
      second.importFile('d', file('b.csv'), 'csv', { mode: 'create' }),
    ]);
    expect(race.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(race.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'conflict' } });
    await warehouse.close();
    expect((await second.listTables()).map((t) => t.name)).toEqual(['a', 'b', 'c', 'd']);
    await expect(warehouse.listTables()).rejects.toThrow(/handle .* is closed/);
    await second.close();
    warehouse = await openWarehouse(path);
    expect(await warehouse.listTables()).toHaveLength(4);
  });

  it('waits for running operations before a handle closes', async () => {
    const importing = warehouse.importFile('big', file('big.csv', `a,b\n${'1,2\n'.repeat(200_000)}`), 'csv', { mode: 'create' });
    await warehouse.close();
    expect(await importing).toBe(200_000);
    warehouse = await openWarehouse(path);
    expect(await warehouse.listTables()).toEqual([{ name: 'big', row_count: 200_000, column_count: 2 }]);
  });

  it('refuses to open a warehouse file that does not exist, without creating one', async () => {
    const missing = join(dir, 'instances', randomUUID(), 'warehouse.duckdb');
    await expectRefused(openWarehouse(missing), 'not_found', /warehouse ".*" not found/);
    expect(existsSync(missing)).toBe(false);
  });
});
