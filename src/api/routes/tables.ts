import type { Readable } from 'node:stream';
import { z } from 'zod';
import { CURRENT_STATE } from '../../domain/snapshots';
import { ColumnInfo, TableFormat, TableImportMode, TableInfo } from '../../domain/tables';
import type { ServiceDeps } from '../../service/deps';
import { invalidInput } from '../../service/errors';
import * as contents from '../../service/snapshot-contents';
import * as tables from '../../service/tables';
import type { HandoutApp } from '../server';
import { INSTANCE_PREFIX, InstanceParams, refOf, SnapshotQuery } from './instance-params';

const TableParams = InstanceParams.extend({ table: z.string() });

export function registerTableRoutes(app: HandoutApp, deps: ServiceDeps): void {
  app.get(`${INSTANCE_PREFIX}/tables`, { schema: { tags: ['tables'], params: InstanceParams, querystring: SnapshotQuery, response: { 200: z.array(TableInfo) } } }, (req) => {
    return req.query.snapshot === CURRENT_STATE
      ? tables.listTables(deps, req.principal, refOf(req.params))
      : contents.listSnapshotTables(deps, req.principal, refOf(req.params), req.query.snapshot);
  });
  app.get(`${INSTANCE_PREFIX}/tables/:table/columns`, { schema: { tags: ['tables'], params: TableParams, querystring: SnapshotQuery, response: { 200: z.array(ColumnInfo) } } }, async (req) =>
    req.query.snapshot === CURRENT_STATE
      ? tables.tableColumns(deps, req.principal, refOf(req.params), req.params.table)
      : (await contents.snapshotTable(deps, req.principal, refOf(req.params), req.query.snapshot, req.params.table)).schema,
  );
  app.get(`${INSTANCE_PREFIX}/tables/:table/ddl`, { schema: { tags: ['tables'], params: TableParams, querystring: SnapshotQuery, response: { 200: z.object({ ddl: z.string() }) } } }, async (req) => ({
    ddl:
      req.query.snapshot === CURRENT_STATE
        ? await tables.tableDdl(deps, req.principal, refOf(req.params), req.params.table)
        : (await contents.snapshotTable(deps, req.principal, refOf(req.params), req.query.snapshot, req.params.table)).ddl,
  }));
  app.get(`${INSTANCE_PREFIX}/schema-ddl`, { schema: { tags: ['tables'], params: InstanceParams, querystring: SnapshotQuery, response: { 200: z.object({ ddl: z.string() }) } } }, async (req) => ({
    ddl:
      req.query.snapshot === CURRENT_STATE
        ? await tables.tableDdl(deps, req.principal, refOf(req.params))
        : await contents.snapshotSchemaDdl(deps, req.principal, refOf(req.params), req.query.snapshot),
  }));
  app.put(
    `${INSTANCE_PREFIX}/tables/:table/import`,
    {
      schema: {
        tags: ['tables'],
        params: TableParams,
        querystring: z.object({ format: TableFormat, mode: TableImportMode.default('create') }).strict(),
        response: { 201: z.object({ table: z.string(), rows: z.number(), sha256: z.string() }) },
      },
    },
    async (req, reply) => {
      if (!req.headers['content-type']?.startsWith('application/octet-stream')) throw invalidInput('send the file as Content-Type: application/octet-stream');
      return reply.status(201).send(await tables.importTable(deps, req.principal, refOf(req.params), req.params.table, req.query.format, req.query.mode, req.body as Readable));
    },
  );
  app.get(
    `${INSTANCE_PREFIX}/tables/:table/export`,
    { schema: { tags: ['tables'], params: TableParams, querystring: SnapshotQuery.extend({ format: TableFormat }) } },
    async (req, reply) => {
      const exported =
        req.query.snapshot === CURRENT_STATE
          ? await tables.exportCurrentTable(deps, req.principal, refOf(req.params), req.params.table, req.query.format)
          : await contents.exportSnapshotTable(deps, req.principal, refOf(req.params), req.query.snapshot, req.params.table, req.query.format);
      exported.stream.once('close', () => void exported.done());
      return reply.header('content-type', 'application/octet-stream').header('content-length', exported.size).send(exported.stream);
    },
  );
  app.post(`${INSTANCE_PREFIX}/tables/:table/rename`, { schema: { tags: ['tables'], params: TableParams, body: z.object({ new_name: z.string() }).strict(), response: { 200: z.object({ table: z.string() }) } } }, (req) =>
    tables.renameTable(deps, req.principal, refOf(req.params), req.params.table, req.body.new_name),
  );
  app.delete(`${INSTANCE_PREFIX}/tables/:table`, { schema: { tags: ['tables'], params: TableParams, response: { 200: z.object({ deleted: z.string() }) } } }, (req) =>
    tables.deleteTable(deps, req.principal, refOf(req.params), req.params.table),
  );
}
