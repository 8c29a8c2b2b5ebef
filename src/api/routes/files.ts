import type { Readable } from 'node:stream';
import { z } from 'zod';
import { FileEntry } from '../../domain/files';
import { CURRENT_STATE } from '../../domain/snapshots';
import type { ServiceDeps } from '../../service/deps';
import { invalidInput } from '../../service/errors';
import * as files from '../../service/files';
import * as contents from '../../service/snapshot-contents';
import type { HandoutApp } from '../server';
import { INSTANCE_PREFIX, InstanceParams, refOf, SnapshotQuery } from './instance-params';

const PathQuery = z.object({ path: z.string().default('/files') });
const ListQuery = PathQuery.merge(SnapshotQuery).extend({ recursive: z.enum(['true', 'false']).default('false') });

export function registerFileRoutes(app: HandoutApp, deps: ServiceDeps): void {
  // Uploads arrive as a raw stream: the service meters and stores it without buffering it in memory.
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  app.get(`${INSTANCE_PREFIX}/files`, { schema: { tags: ['files'], params: InstanceParams, querystring: ListQuery, response: { 200: z.array(FileEntry) } } }, (req) => {
    const recursive = req.query.recursive === 'true';
    return req.query.snapshot === CURRENT_STATE
      ? files.listCurrentFiles(deps, req.principal, refOf(req.params), req.query.path, recursive)
      : contents.listSnapshotFiles(deps, req.principal, refOf(req.params), req.query.snapshot, req.query.path, recursive);
  });
  app.get(`${INSTANCE_PREFIX}/files/content`, { schema: { tags: ['files'], params: InstanceParams, querystring: PathQuery.merge(SnapshotQuery) } }, async (req, reply) => {
    const { stream, size } =
      req.query.snapshot === CURRENT_STATE
        ? await files.readCurrentFile(deps, req.principal, refOf(req.params), req.query.path)
        : await contents.readSnapshotFile(deps, req.principal, refOf(req.params), req.query.snapshot, req.query.path);
    return reply.header('content-type', 'application/octet-stream').header('content-length', size).send(stream);
  });
  app.put(
    `${INSTANCE_PREFIX}/files/content`,
    // Strict: a write names no snapshot (snapshots are immutable), so `?snapshot=` here is an error, not ignored.
    { schema: { tags: ['files'], params: InstanceParams, querystring: PathQuery.strict(), response: { 201: z.object({ path: z.string(), sha256: z.string(), size: z.number() }) } } },
    async (req, reply) => {
      if (!req.headers['content-type']?.startsWith('application/octet-stream')) throw invalidInput('send the file as Content-Type: application/octet-stream');
      return reply.status(201).send(await files.putFile(deps, req.principal, refOf(req.params), req.query.path, req.body as Readable));
    },
  );
  app.post(`${INSTANCE_PREFIX}/files/folders`, { schema: { tags: ['files'], params: InstanceParams, body: z.object({ path: z.string() }).strict(), response: { 201: z.object({ path: z.string() }) } } }, async (req, reply) =>
    reply.status(201).send(await files.makeFolder(deps, req.principal, refOf(req.params), req.body.path)),
  );
  app.delete(`${INSTANCE_PREFIX}/files`, { schema: { tags: ['files'], params: InstanceParams, querystring: z.object({ path: z.string() }).strict(), response: { 200: FileEntry } } }, (req) =>
    files.removeFile(deps, req.principal, refOf(req.params), req.query.path),
  );
}
