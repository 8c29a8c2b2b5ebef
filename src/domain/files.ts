import { z } from 'zod';

// Paths as users write them: OS paths under `/files` of an instance ("/files/data/x.csv").
// They are parsed into plain segments here, so no layer below ever sees `..`, NUL or an absolute path.

export const FILES_ROOT = '/files';
const MAX_SEGMENT_BYTES = 255;
const MAX_PATH_BYTES = 4096;

const byteLength = (s: string) => new TextEncoder().encode(s).length;

/** Why a path was refused, or the path's segments below /files ([] for /files itself). */
export function parseFilesPath(path: string): { ok: true; segments: string[] } | { ok: false; reason: string } {
  if (path.includes('\0')) return { ok: false, reason: 'contains a NUL byte' };
  if (byteLength(path) > MAX_PATH_BYTES) return { ok: false, reason: `is longer than ${MAX_PATH_BYTES} bytes` };
  if (path !== FILES_ROOT && !path.startsWith(`${FILES_ROOT}/`)) return { ok: false, reason: `is not under ${FILES_ROOT} (paths look like /files/data/report.csv)` };
  const segments = path.slice(FILES_ROOT.length).split('/').filter((s) => s !== '');
  for (const segment of segments) {
    if (segment === '..' || segment === '.') return { ok: false, reason: 'contains a "." or ".." segment' };
    if (byteLength(segment) > MAX_SEGMENT_BYTES) return { ok: false, reason: `has a name longer than ${MAX_SEGMENT_BYTES} bytes` };
  }
  return { ok: true, segments };
}

/** A valid `/files/...` path, normalised (no trailing or doubled slashes). */
export const FilesPath = z.string().transform((path, ctx) => {
  const parsed = parseFilesPath(path);
  if (!parsed.ok) {
    ctx.addIssue({ code: 'custom', message: `the path "${path.replace(/\0/g, '\\0').slice(0, 200)}" ${parsed.reason}` });
    return z.NEVER;
  }
  return [FILES_ROOT, ...parsed.segments].join('/');
});

export const FileEntry = z.object({
  path: z.string(),
  type: z.enum(['file', 'dir', 'symlink']),
  size: z.number().int().nonnegative().nullable(),
  sha256: z.string().nullable(),
  target: z.string().nullable(),
  modified_at: z.string().nullable(),
});
export type FileEntry = z.infer<typeof FileEntry>;
