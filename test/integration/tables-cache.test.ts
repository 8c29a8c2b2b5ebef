import { readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SnapshotTable } from '../../src/domain/snapshots';
import { randomUUID } from 'node:crypto';
import { createInstanceStorage } from '../../src/store/instance-storage';
import { cachedTables, captureAndRecordTables, warehouseStamp } from '../../src/store/tables-cache';
import { tempDir } from '../helpers/catalog';
import { fsClockPast } from '../helpers/fs-clock';

// The record of a warehouse's tables (tables-cache.ts) on the real file system; the capture itself is
// the caller's (a DuckDB export in captureTables), so here it is a function that may touch the files.

const marks: SnapshotTable[] = [{ name: 'marks', row_count: 2, schema: [{ name: 'id', type: 'INTEGER', nullable: true }], ddl: 'CREATE TABLE marks(id INTEGER);', blob: 'a'.repeat(64) }];

describe('tables cache: a capture is recorded only under stamps that cannot hide a change', () => {
  let dir: string;
  let warehouse: string;
  let cache: string;
  beforeEach(async () => {
    dir = tempDir('tables-cache');
    warehouse = join(dir, 'warehouse.duckdb');
    cache = join(dir, 'tables-cache.json');
    writeFileSync(warehouse, 'database');
    // An mtime well in the past: the racy rule below is about files changed in the clock's last tick.
    utimesSync(warehouse, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    await fsClockPast(warehouse); // utimes sets the ctime to now
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const stamp = async () => (await warehouseStamp(warehouse)).text;

  it('records a capture of an unchanged warehouse and gives it back for the same stamps only', async () => {
    expect(await captureAndRecordTables(cache, warehouse, async () => marks)).toEqual(marks);
    expect(await cachedTables(cache, await stamp())).toEqual(marks);

    writeFileSync(`${warehouse}.wal`, 'a committed write'); // DuckDB's log appears: another stamp
    expect(await cachedTables(cache, await stamp())).toBeUndefined();
    // Recorded again with the log, and the log's change is seen too.
    await fsClockPast(warehouse, `${warehouse}.wal`);
    await captureAndRecordTables(cache, warehouse, async () => marks);
    expect(await cachedTables(cache, await stamp())).toEqual(marks);
    writeFileSync(`${warehouse}.wal`, 'a committed write, then one more');
    expect(await cachedTables(cache, await stamp())).toBeUndefined();
  });

  it('records nothing when the warehouse changed while it was captured', async () => {
    await captureAndRecordTables(cache, warehouse, async () => {
      writeFileSync(`${warehouse}.wal`, 'written during the export');
      return marks;
    });
    expect(() => readFileSync(cache)).toThrow(/ENOENT/);
    expect(await cachedTables(cache, await stamp())).toBeUndefined();
  });

  it('records nothing for a file changed at or after the clock reading (a change in the same tick could keep its stamp)', async () => {
    // An mtime at or after the clock reading stands for a change in its tick, deterministically.
    const future = new Date(Date.now() + 60_000);
    utimesSync(warehouse, future, future);
    await captureAndRecordTables(cache, warehouse, async () => marks);
    expect(await cachedTables(cache, await stamp())).toBeUndefined();
  });

  it('ignores a torn or foreign cache file', async () => {
    await captureAndRecordTables(cache, warehouse, async () => marks);
    const text = readFileSync(cache, 'utf8');
    writeFileSync(cache, text.slice(0, text.length / 2));
    expect(await cachedTables(cache, await stamp())).toBeUndefined();
    writeFileSync(cache, JSON.stringify({ version: 1, stamp: await stamp(), tables: [{ name: 1 }] }));
    expect(await cachedTables(cache, await stamp())).toBeUndefined();
  });
});

describe('a new instance', () => {
  it('has its new, empty warehouse recorded as holding no tables, so its first snapshot need not open DuckDB', async () => {
    const dir = tempDir('tables-cache-new');
    try {
      const paths = await createInstanceStorage(dir, randomUUID());
      expect(await cachedTables(paths.tablesCache, (await warehouseStamp(paths.warehouse)).text)).toEqual([]);
      // Provisioning again (a retried step) keeps the warehouse and its record as they are.
      const before = readFileSync(paths.tablesCache, 'utf8');
      await createInstanceStorage(dir, paths.root.slice(paths.root.lastIndexOf('/') + 1));
      expect(readFileSync(paths.tablesCache, 'utf8')).toBe(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
