import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { catalogSchema } from './schema';
import { applyMigrations } from './migrate';

/** The catalog database, whichever driver is underneath (PGlite embedded or PostgreSQL). */
export type CatalogDb = PgDatabase<PgQueryResultHKT, typeof catalogSchema>;

export interface Catalog {
  db: CatalogDb;
  /** `pglite` (embedded, one owning process) or `postgres`. */
  driver: 'pglite' | 'postgres';
  close(): Promise<void>;
}

/** Where the catalog lives: a PGlite data directory, or a PostgreSQL URL. */
export type CatalogLocation = { pgliteDir: string } | { databaseUrl: string };

/** Opens the catalog and applies every pending migration before returning it. */
export async function openCatalog(location: CatalogLocation): Promise<Catalog> {
  const catalog = 'databaseUrl' in location ? await openPostgres(location.databaseUrl) : await openPglite(location.pgliteDir);
  try {
    await applyMigrations(catalog.db);
  } catch (err) {
    await catalog.close();
    throw err;
  }
  return catalog;
}

/**
 * A PGlite data directory with every migration applied, made by `npm run build`. Creating a
 * database from scratch runs initdb inside WebAssembly (seconds); unpacking this takes a fraction.
 */
export const CATALOG_TEMPLATE_PATH = join(__dirname, '..', '..', '..', 'dist', 'catalog-template.tar.gz');

async function openPglite(dir: string): Promise<Catalog> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const fresh = !existsSync(join(dir, 'PG_VERSION'));
  const template = fresh && existsSync(CATALOG_TEMPLATE_PATH) ? new Blob([readFileSync(CATALOG_TEMPLATE_PATH)]) : undefined;
  const client = await PGlite.create(dir, template ? { loadDataDir: template } : {});
  yieldBeforeEachStatement(client);
  const db = drizzle(client, { schema: catalogSchema }) as unknown as CatalogDb;
  return { db, driver: 'pglite', close: () => client.close() };
}

/**
 * PGlite runs SQL synchronously, in WebAssembly, on this thread, and hands queued statements on as
 * microtasks: under load (hundreds of hand-ins in the last seconds before a deadline) the chain of
 * statements never ends and starves the event loop, so the API does not even read new requests for
 * seconds — and a hand-in counts from when the API read it. Each statement (or transaction: its own
 * statements run back to back, keeping it short) therefore first yields to the event loop once.
 */
function yieldBeforeEachStatement(client: { query: unknown; exec: unknown; transaction: unknown }): void {
  const target = client as unknown as Record<'query' | 'exec' | 'transaction', (...args: unknown[]) => Promise<unknown>>;
  for (const method of ['query', 'exec', 'transaction'] as const) {
    const direct = target[method].bind(client);
    target[method] = async (...args: unknown[]) => {
      await new Promise<void>((resolve) => setImmediate(resolve));
      return direct(...args);
    };
  }
}

async function openPostgres(url: string): Promise<Catalog> {
  const { Pool } = await import('pg');
  const { drizzle } = await import('drizzle-orm/node-postgres');
  const pool = new Pool({ connectionString: url, max: 10 });
  // Fail fast with a clear message instead of on the first query.
  const probe = await pool.connect().catch((err: Error) => {
    throw new Error(`cannot connect to PostgreSQL at DATABASE_URL: ${err.message}`, { cause: err });
  });
  probe.release();
  const db = drizzle(pool, { schema: catalogSchema }) as unknown as CatalogDb;
  return { db, driver: 'postgres', close: () => pool.end() };
}

/** Builds the template: a fresh in-memory PGlite, migrated, dumped as a gzipped tarball. */
export async function buildCatalogTemplate(): Promise<Buffer> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const client = await PGlite.create();
  try {
    await applyMigrations(drizzle(client, { schema: catalogSchema }) as unknown as CatalogDb);
    return Buffer.from(await (await client.dumpDataDir('gzip')).arrayBuffer());
  } finally {
    await client.close();
  }
}
