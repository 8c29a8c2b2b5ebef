import { createHash } from 'node:crypto';

// The stat cache's file (stat-cache.ts): its versions, its checksum, and what blobs it names.

/**
 * On disk: the hex SHA-256 of the JSON text, a newline, then the JSON text. The checksum is why a save
 * needs no fsync: a file torn by a power cut fails it and the cache starts empty (costing re-hashing,
 * never a wrong hash), and an older intact file only holds entries that were true for their stamps.
 * Each entry is [relative path, stamp, sha256, index into hashedAt]: a walk hashes most files under one
 * clock reading, so the readings are listed once.
 */
export interface CacheFileV2 {
  version: 2;
  writtenAtNs: string;
  hashedAt: string[];
  entries: Array<[string, string, string, number]>;
}

/** Version 3: as version 2, each entry with a fifth field (1 = verified), plus the folders' records. */
export interface CacheFileV3 {
  version: 3;
  writtenAtNs: string;
  hashedAt: string[];
  entries: Array<[string, string, string, number, 0 | 1]>;
  dirs: Array<[rel: string, key: string, tree: string, size: number, files: number, symlinks: number, bytes: number]>;
}

/** Version 1 (one object per entry, no checksum), still read so an upgrade does not re-hash everything. */
export interface CacheFileV1 {
  version: 1;
  writtenAtNs: string;
  entries: Record<string, { ino: string; size: string; mtimeNs: string; ctimeNs: string; sha256: string; hashedAtNs: string }>;
}

const SHA256 = /^[0-9a-f]{64}$/;
export const DIGITS = /^(0|[1-9][0-9]*)$/;
const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');
/** a < b for decimal numbers without leading zeros, without parsing them. */
export const decimalLess = (a: string, b: string) => (a.length !== b.length ? a.length < b.length : a < b);

/** The file's text for a cache's JSON: its checksum, a newline, the JSON. */
export const cacheFileText = (json: string) => `${sha256Hex(json)}\n${json}`;

/** The cache file's content if it is intact (checksum), of any version; undefined otherwise. */
export function parseCacheFile(text: string): CacheFileV1 | CacheFileV2 | CacheFileV3 | undefined {
  if (text.startsWith('{')) return JSON.parse(text) as CacheFileV1;
  const json = text.slice(65);
  if (text[64] !== '\n' || text.slice(0, 64) !== sha256Hex(json)) return undefined;
  return JSON.parse(json) as CacheFileV2 | CacheFileV3;
}

/** Every blob a cache file's text names (file contents, and folders' tree objects); none for a torn or foreign one. */
export function blobsNamedIn(text: string | undefined): { files: string[]; trees: string[] } {
  let file: ReturnType<typeof parseCacheFile>;
  try {
    file = text === undefined ? undefined : parseCacheFile(text);
  } catch {
    file = undefined; // not JSON: names nothing a walk could reuse
  }
  if (!file) return { files: [], trees: [] };
  const files = file.version === 1 ? Object.values(file.entries ?? {}).map((e) => e?.sha256) : (file.entries ?? []).map((e) => e?.[2]);
  const trees = file.version === 3 ? (file.dirs ?? []).map((d) => d?.[2]) : [];
  const valid = (ids: unknown[]) => ids.filter((id): id is string => SHA256.test(String(id)));
  return { files: valid(files), trees: valid(trees) };
}
