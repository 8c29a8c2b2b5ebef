import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

/** A fresh scratch file path in `<data>/tmp` (the caller removes it); server-chosen, never user text. */
export async function scratchFile(dataDir: string, suffix: string): Promise<string> {
  const dir = join(dataDir, 'tmp');
  await mkdir(dir, { recursive: true });
  return join(dir, `${randomUUID()}${suffix}`);
}
