import { and, asc, eq } from 'drizzle-orm';
import type { AppConfig } from '../../domain/apps';
import type { CatalogDb } from './db';
import { apps } from './schema';

// Application configs of instances' current states.

export type AppRow = typeof apps.$inferSelect;

export function appConfigOf(row: AppRow): AppConfig {
  return {
    slug: row.slug,
    name: row.name,
    base_image: row.baseImage,
    packages: row.packages,
    env: row.env,
    startup_command: row.startupCommand,
    licensed: row.licensed,
  };
}

const columnsOf = (config: AppConfig) => ({
  slug: config.slug,
  name: config.name,
  baseImage: config.base_image,
  packages: config.packages,
  env: config.env,
  startupCommand: config.startup_command,
  licensed: config.licensed,
});

export async function listApps(db: CatalogDb, instanceId: string): Promise<AppRow[]> {
  return db.select().from(apps).where(eq(apps.instanceId, instanceId)).orderBy(asc(apps.slug));
}

export async function findApp(db: CatalogDb, instanceId: string, slug: string): Promise<AppRow | undefined> {
  const [row] = await db.select().from(apps).where(and(eq(apps.instanceId, instanceId), eq(apps.slug, slug)));
  return row;
}

/** Inserts a new app; returns undefined when the slug is taken. */
export async function insertApp(db: CatalogDb, id: string, instanceId: string, config: AppConfig): Promise<AppRow | undefined> {
  const [row] = await db.insert(apps).values({ id, instanceId, ...columnsOf(config) }).onConflictDoNothing().returning();
  return row;
}

/** Creates or replaces an app by slug (restore and distribution with overwrite). */
export async function upsertApp(db: CatalogDb, id: string, instanceId: string, config: AppConfig): Promise<void> {
  await db
    .insert(apps)
    .values({ id, instanceId, ...columnsOf(config) })
    .onConflictDoUpdate({ target: [apps.instanceId, apps.slug], set: { ...columnsOf(config), updatedAt: new Date() } });
}

export async function replaceApp(db: CatalogDb, instanceId: string, config: AppConfig): Promise<AppRow | undefined> {
  const [row] = await db
    .update(apps)
    .set({ ...columnsOf(config), updatedAt: new Date() })
    .where(and(eq(apps.instanceId, instanceId), eq(apps.slug, config.slug)))
    .returning();
  return row;
}

export async function deleteApp(db: CatalogDb, instanceId: string, slug: string): Promise<boolean> {
  const deleted = await db.delete(apps).where(and(eq(apps.instanceId, instanceId), eq(apps.slug, slug))).returning({ id: apps.id });
  return deleted.length > 0;
}

