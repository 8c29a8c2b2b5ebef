import { createReadStream, createWriteStream } from 'node:fs';
import { rename } from 'node:fs/promises';
import { extname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Command, Option } from 'commander';
import type { ColumnInfo, TableInfo } from '../../domain/tables';
import { ApiClient, enc, instanceApiPath } from '../client';
import { CliError } from '../errors';
import { formatOption, snapshotOption, withContext, type CommonOpts } from '../options';
import { print, render } from '../output';
import { resolveContext } from '../settings';
import { STDIO_PATH, streamToStdout } from '../stdio';

/** csv or parquet: from --file-format, else from the file's extension (standard input or output has none). */
function fileFormat(file: string, given?: string): 'csv' | 'parquet' {
  if (given) return given as 'csv' | 'parquet';
  if (file === STDIO_PATH) throw new CliError('cannot tell the format of standard input or output (-): pass --file-format csv or --file-format parquet');
  const ext = extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.parquet' || ext === '.pq') return 'parquet';
  throw new CliError(`cannot tell the format of "${file}" from its extension: pass --file-format csv or --file-format parquet`);
}
/** A local file opened for streaming; a clear error, before any request, when it cannot be read. */
async function openForReading(file: string): Promise<NodeJS.ReadableStream> {
  const stream = createReadStream(file);
  await new Promise<void>((resolve, reject) => stream.once('open', () => resolve()).once('error', (e) => reject(new CliError(`cannot read ${file}: ${e.message}`))));
  return stream;
}
const fileFormatOption = () => new Option('--file-format <format>', 'csv or parquet (default: from the file extension)').choices(['csv', 'parquet']);

export function tablesCommand(): Command {
  const tables = new Command('tables').description('tables of an instance (its warehouse)');
  const base = (o: CommonOpts) => instanceApiPath(resolveContext('instance', o));
  withContext(tables.command('list'), 'instance')
    .addOption(snapshotOption())
    .addOption(formatOption())
    .action(async (o: CommonOpts & { snapshot: string }) => {
      const rows = await ApiClient.fromEnvironment().get<TableInfo[]>(`${base(o)}/tables`, { snapshot: o.snapshot });
      print(render(rows, o.format, [
        { header: 'name', value: (t) => t.name },
        { header: 'rows', value: (t) => t.row_count },
        { header: 'columns', value: (t) => t.column_count },
      ]));
    });
  withContext(tables.command('columns').argument('<table>'), 'instance')
    .addOption(snapshotOption())
    .addOption(formatOption())
    .action(async (table: string, o: CommonOpts & { snapshot: string }) => {
      const rows = await ApiClient.fromEnvironment().get<ColumnInfo[]>(`${base(o)}/tables/${enc(table)}/columns`, { snapshot: o.snapshot });
      print(render(rows, o.format, [
        { header: 'name', value: (c) => c.name },
        { header: 'type', value: (c) => c.type },
        { header: 'nullable', value: (c) => (c.nullable ? 'yes' : 'no') },
      ]));
    });
  withContext(tables.command('ddl').argument('<table>'), 'instance')
    .addOption(snapshotOption())
    .action(async (table: string, o: CommonOpts & { snapshot: string }) => {
      print((await ApiClient.fromEnvironment().get<{ ddl: string }>(`${base(o)}/tables/${enc(table)}/ddl`, { snapshot: o.snapshot })).ddl);
    });
  withContext(tables.command('schema-ddl'), 'instance')
    .addOption(snapshotOption())
    .action(async (o: CommonOpts & { snapshot: string }) => {
      print((await ApiClient.fromEnvironment().get<{ ddl: string }>(`${base(o)}/schema-ddl`, { snapshot: o.snapshot })).ddl || '-- no tables');
    });
  withContext(tables.command('import').description('import a CSV (with a header row) or Parquet file (- reads standard input)').argument('<table>').argument('<file>'), 'instance')
    .addOption(new Option('--mode <mode>', 'create (fails if the table exists), replace, or append').choices(['create', 'replace', 'append']).default('create'))
    .addOption(fileFormatOption())
    .addOption(formatOption())
    .action(async (table: string, file: string, o: CommonOpts & { mode: string; fileFormat?: string }) => {
      const format = fileFormat(file, o.fileFormat);
      const client = ApiClient.fromEnvironment();
      const stream = file === STDIO_PATH ? process.stdin : await openForReading(file);
      const response = await client.send('PUT', `${base(o)}/tables/${enc(table)}/import`, { query: { format, mode: o.mode }, stream });
      const result = (await response.json()) as { table: string; rows: number; sha256: string };
      print(render([result], o.format, [
        { header: 'table', value: (r) => r.table },
        { header: 'rows', value: (r) => r.rows },
        { header: 'sha256', value: (r) => r.sha256 },
      ]));
    });
  withContext(tables.command('export').description('export a table to a CSV or Parquet file (- writes standard output)').argument('<table>').argument('<file>'), 'instance')
    .addOption(snapshotOption())
    .addOption(fileFormatOption())
    .action(async (table: string, file: string, o: CommonOpts & { snapshot: string; fileFormat?: string }) => {
      const format = fileFormat(file, o.fileFormat);
      const response = await ApiClient.fromEnvironment().send('GET', `${base(o)}/tables/${enc(table)}/export`, { query: { format, snapshot: o.snapshot } });
      if (file === STDIO_PATH) return streamToStdout(response.body);
      const partial = `${file}.handout-partial`;
      await pipeline(response.body, createWriteStream(partial));
      await rename(partial, file);
    });
  withContext(tables.command('rename').argument('<table>'), 'instance')
    .option('--new-name <name>', 'the new table name')
    // The platform's tables have a slug beside a display name; a Handout table has one name, which
    // either spelling sets.
    .option('--new-slug <slug>', 'the same as --new-name (the platform\'s spelling)')
    .action(async (table: string, o: CommonOpts & { newName?: string; newSlug?: string }) => {
      if (o.newName === undefined && o.newSlug === undefined) throw new CliError('give the new table name with --new-name (or --new-slug)');
      if (o.newName !== undefined && o.newSlug !== undefined && o.newName !== o.newSlug) {
        throw new CliError(`a table has one name here: --new-name "${o.newName}" and --new-slug "${o.newSlug}" disagree; give one of them`);
      }
      const newName = (o.newName ?? o.newSlug)!;
      await ApiClient.fromEnvironment().post(`${base(o)}/tables/${enc(table)}/rename`, { new_name: newName });
      process.stderr.write(`renamed table ${table} to ${newName}\n`);
    });
  withContext(tables.command('delete').argument('<table>'), 'instance').action(async (table: string, o: CommonOpts) => {
    await ApiClient.fromEnvironment().delete(`${base(o)}/tables/${enc(table)}`);
    process.stderr.write(`deleted table ${table}\n`);
  });
  return tables;
}
