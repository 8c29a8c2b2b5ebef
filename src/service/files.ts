import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { InstanceRef } from '../domain/context';
import { FilesPath, parseFilesPath, type FileEntry } from '../domain/files';
import { appendAuditEvent } from '../store/catalog/audit-log';
import * as files from '../store/instance-files';
import { actorOf, type Principal, type ServiceDeps } from './deps';
import { HandoutError, invalidInput } from './errors';
import { openInstance } from './instance-access';

// Files of an instance's current state: viewers list and read, editors write and remove.
// Snapshot contents are read through service/snapshot-contents.ts.

/** Validates a user's `/files/...` path into segments, or says what is wrong with it. */
export function filesSegments(path: string): string[] {
  const parsed = parseFilesPath(path);
  if (!parsed.ok) throw invalidInput(FilesPath.safeParse(path).error?.issues[0]?.message ?? `invalid path "${path}"`);
  return parsed.segments;
}

/** Maps the files store's refusals to API errors. */
export async function filesCall<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof files.FilesError) throw new HandoutError(err.code === 'too_large' ? 'invalid_input' : err.code, err.message);
    throw err;
  }
}

export async function listCurrentFiles(deps: ServiceDeps, p: Principal, ref: InstanceRef, path: string, recursive: boolean): Promise<FileEntry[]> {
  const segments = filesSegments(path);
  const target = await openInstance(deps, p, ref, 'viewer');
  return filesCall(() => files.listFiles(target.paths.files, segments, { recursive }));
}

export async function readCurrentFile(deps: ServiceDeps, p: Principal, ref: InstanceRef, path: string): Promise<{ stream: Readable; size: number }> {
  const segments = filesSegments(path);
  const target = await openInstance(deps, p, ref, 'viewer');
  return filesCall(() => files.openFileForRead(target.paths.files, segments));
}

/** Streams an upload into place (whole file or nothing) and audits it with its sha256. */
export async function putFile(deps: ServiceDeps, p: Principal, ref: InstanceRef, path: string, body: Readable): Promise<{ path: string; sha256: string; size: number }> {
  const segments = filesSegments(path);
  const target = await openInstance(deps, p, ref, 'editor');
  const written = await filesCall(() => files.writeFileAtomic(target.paths.files, segments, body, deps.maxUploadBytes));
  const normalised = ['/files', ...segments].join('/');
  await appendAuditEvent(deps.catalog.db, {
    event_key: `api/${randomUUID()}`,
    actor: actorOf(p),
    action: 'file.written',
    subject: target.subject,
    details: { path: normalised, size: written.size },
    content_hashes: { [normalised]: written.sha256 },
  });
  return { path: normalised, ...written };
}

export async function makeFolder(deps: ServiceDeps, p: Principal, ref: InstanceRef, path: string): Promise<{ path: string }> {
  const segments = filesSegments(path);
  const target = await openInstance(deps, p, ref, 'editor');
  await filesCall(() => files.mkdirConfined(target.paths.files, segments));
  const normalised = ['/files', ...segments].join('/');
  await appendAuditEvent(deps.catalog.db, { event_key: `api/${randomUUID()}`, actor: actorOf(p), action: 'folder.created', subject: target.subject, details: { path: normalised } });
  return { path: normalised };
}

export async function removeFile(deps: ServiceDeps, p: Principal, ref: InstanceRef, path: string): Promise<FileEntry> {
  const segments = filesSegments(path);
  const target = await openInstance(deps, p, ref, 'editor');
  const removed = await filesCall(() => files.removePath(target.paths.files, segments));
  await appendAuditEvent(deps.catalog.db, {
    event_key: `api/${randomUUID()}`,
    actor: actorOf(p),
    action: 'file.deleted',
    subject: target.subject,
    details: { path: removed.path, type: removed.type },
  });
  return removed;
}
