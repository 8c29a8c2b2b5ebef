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

async function openPglite(dir: string): Promise<Catalog> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const client = await PGlite.create(dir);
  const db = drizzle(client, { schema: catalogSchema }) as unknown as CatalogDb;
  return { db, driver: 'pglite', close: () => client.close() };
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
