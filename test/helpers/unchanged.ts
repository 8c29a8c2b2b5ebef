import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { asc } from 'drizzle-orm';
import type { Catalog } from '../../src/store/catalog/db';
import { apiKeys, auditEvents, instances, orgs, roleGrants, spaces, tasks, users } from '../../src/store/catalog/schema';

/**
 * Everything a bad request could have changed: every catalog row and the instance directories.
 * Compare a snapshot taken before with one taken after to prove "nothing changed".
 */
export async function stateSnapshot(catalog: Catalog, dataDir: string): Promise<Record<string, unknown>> {
  const db = catalog.db;
  let instanceDirs: string[] = [];
  try {
    instanceDirs = readdirSync(join(dataDir, 'instances')).sort();
  } catch {
    instanceDirs = [];
  }
  return {
    orgs: await db.select().from(orgs).orderBy(asc(orgs.id)),
    spaces: await db.select().from(spaces).orderBy(asc(spaces.id)),
    instances: await db.select().from(instances).orderBy(asc(instances.id)),
    users: await db.select().from(users).orderBy(asc(users.id)),
    apiKeys: await db.select().from(apiKeys).orderBy(asc(apiKeys.id)),
    roleGrants: await db.select().from(roleGrants).orderBy(asc(roleGrants.id)),
    tasks: await db.select().from(tasks).orderBy(asc(tasks.id)),
    auditEvents: await db.select().from(auditEvents).orderBy(asc(auditEvents.seq)),
    instanceDirs,
  };
}
