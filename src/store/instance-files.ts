import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, readdir, readlink, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { FileEntry } from '../domain/files';
import { TooLargeError, writeStreamToFile } from './streams';

// The files tree of an instance's current state. Every path arrives as validated segments (see
// domain/files.ts) and is joined under the instance's own root; no symbolic link is ever followed,
// so nothing outside the instance can be read or written through a link a user planted.

/** A refusal a user can act on (maps to 400/404/409). */
export class FilesError extends Error {
  constructor(
    readonly code: 'not_found' | 'invalid_input' | 'conflict' | 'too_large',
    message: string,
  ) {
    super(message);
  }
}

const display = (segments: string[]) => ['/files', ...segments].join('/');

/** Checks that no existing component of the path is a symbolic link; returns the absolute path. */
export async function confinedPath(filesRoot: string, segments: string[]): Promise<string> {
  let current = filesRoot;
  for (let i = 0; i < segments.length; i++) {
    current = join(current, segments[i]!);
    const info = await lstat(current).catch(() => undefined);
    if (!info) return join(filesRoot, ...segments);
    if (info.isSymbolicLink() && i < segments.length - 1) {
      throw new FilesError('invalid_input', `${display(segments.slice(0, i + 1))} is a symbolic link; Handout never follows links inside a path`);
    }
  }
  return current;
}

async function entryOf(abs: string, path: string): Promise<FileEntry> {
  const info = await lstat(abs);
  if (info.isSymbolicLink()) return { path, type: 'symlink', size: null, sha256: null, target: await readlink(abs), modified_at: info.mtime.toISOString() };
  if (info.isDirectory()) return { path, type: 'dir', size: null, sha256: null, target: null, modified_at: info.mtime.toISOString() };
  return { path, type: 'file', size: info.size, sha256: null, target: null, modified_at: info.mtime.toISOString() };
}

/** The entry at a path, or its children when it is a directory (optionally the whole subtree). */
export async function listFiles(filesRoot: string, segments: string[], opts: { recursive?: boolean } = {}): Promise<FileEntry[]> {
  const abs = await confinedPath(filesRoot, segments);
  const top = await entryOf(abs, display(segments)).catch(() => undefined);
  if (!top) throw new FilesError('not_found', `${display(segments)} does not exist`);
  if (top.type !== 'dir') return [top];
  const out: FileEntry[] = [];
  const walk = async (dirAbs: string, dirSegments: string[]) => {
    const names = (await readdir(dirAbs)).sort();
    for (const name of names) {
      const entry = await entryOf(join(dirAbs, name), display([...dirSegments, name]));
      out.push(entry);
      if (opts.recursive && entry.type === 'dir') await walk(join(dirAbs, name), [...dirSegments, name]);
    }
  };
  await walk(abs, segments);
  return out;
}

/** Opens a regular file for reading; refuses directories and links. */
export async function openFileForRead(filesRoot: string, segments: string[]): Promise<{ stream: Readable; size: number }> {
  const abs = await confinedPath(filesRoot, segments);
  const info = await lstat(abs).catch(() => undefined);
  if (!info) throw new FilesError('not_found', `${display(segments)} does not exist`);
  if (info.isSymbolicLink()) throw new FilesError('invalid_input', `${display(segments)} is a symbolic link; Handout does not follow links`);
  if (!info.isFile()) throw new FilesError('invalid_input', `${display(segments)} is a folder; list it, or get it as a folder with the CLI`);
  return { stream: createReadStream(abs), size: info.size };
}

/**
 * Writes a file whole: into a temporary sibling, then renamed over the target, so readers and
 * crashes never see a torn file. Aborts (and leaves nothing) past `maxBytes`. Returns its sha256.
 */
export async function writeFileAtomic(filesRoot: string, segments: string[], body: Readable, maxBytes: number): Promise<{ sha256: string; size: number }> {
  if (segments.length === 0) throw new FilesError('invalid_input', '/files itself is a folder; name a file below it');
  const target = await confinedPath(filesRoot, segments);
  const existing = await lstat(target).catch(() => undefined);
  if (existing?.isDirectory()) throw new FilesError('conflict', `${display(segments)} is a folder; remove it first or choose another name`);
  await mkdirConfined(filesRoot, segments.slice(0, -1));
  const tmp = join(dirname(target), `.handout-tmp-${randomBytes(8).toString('hex')}`);
  try {
    const written = await writeStreamToFile(body, tmp, maxBytes, `${display(segments)} is larger than the upload limit of ${maxBytes} bytes (HANDOUT_MAX_UPLOAD_BYTES)`);
    await rename(tmp, target);
    return written;
  } catch (err) {
    await rm(tmp, { force: true });
    if (err instanceof TooLargeError) throw new FilesError('too_large', err.message);
    throw err;
  }
}

/** Creates the folders of a path below /files, refusing to go through a link or a file. */
export async function mkdirConfined(filesRoot: string, segments: string[]): Promise<void> {
  let current = filesRoot;
  for (let i = 0; i < segments.length; i++) {
    current = join(current, segments[i]!);
    const info = await lstat(current).catch(() => undefined);
    if (!info) {
      await mkdir(current).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
      continue;
    }
    if (info.isSymbolicLink()) throw new FilesError('invalid_input', `${display(segments.slice(0, i + 1))} is a symbolic link; Handout never follows links inside a path`);
    if (!info.isDirectory()) throw new FilesError('conflict', `${display(segments.slice(0, i + 1))} is a file, not a folder`);
  }
}

/** Removes a file, link or whole folder (never what a link points to). Refuses /files itself. */
export async function removePath(filesRoot: string, segments: string[]): Promise<FileEntry> {
  if (segments.length === 0) throw new FilesError('invalid_input', 'refusing to remove /files itself; remove what is inside it');
  const abs = await confinedPath(filesRoot, segments);
  const entry = await entryOf(abs, display(segments)).catch(() => undefined);
  if (!entry) throw new FilesError('not_found', `${display(segments)} does not exist`);
  await rm(abs, { recursive: true, force: true });
  return entry;
}
