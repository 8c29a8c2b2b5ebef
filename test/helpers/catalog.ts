import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCatalog, type Catalog } from '../../src/store/catalog/db';

/** A fresh PGlite catalog in its own temporary directory, migrated; `cleanup` closes and removes it. */
export async function freshCatalog(): Promise<{ catalog: Catalog; dir: string; cleanup(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'handout-catalog-'));
  const catalog = await openCatalog({ pgliteDir: join(dir, 'catalog') });
  return {
    catalog,
    dir,
    async cleanup() {
      await catalog.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `handout-${prefix}-`));
}
