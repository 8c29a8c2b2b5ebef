import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { asc } from 'drizzle-orm';
import type { Catalog } from '../../src/store/catalog/db';
import { apiKeys, apps, auditEvents, distributions, instances, orgs, outboxMails, roleGrants, snapshots, spaces, tasks, users } from '../../src/store/catalog/schema';

/** Every file, folder and link below `dir`, with the sha256 of each file's bytes. */
export function treeListing(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (abs: string, rel: string) => {
    let names: string[];
    try {
      names = readdirSync(abs).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const childAbs = join(abs, name);
      const childRel = rel ? `${rel}/${name}` : name;
      const info = lstatSync(childAbs);
      if (info.isSymbolicLink()) out[childRel] = `link → ${readlinkSync(childAbs)}`;
      else if (info.isDirectory()) {
        out[childRel] = 'dir';
        walk(childAbs, childRel);
      } else out[childRel] = createHash('sha256').update(readFileSync(childAbs)).digest('hex');
    }
  };
  walk(dir, '');
  return out;
}

/**
 * Everything a bad request could have changed: every catalog row and every instance's state on disk
 * (files trees and warehouse bytes), distributions, queued mails and the mail outbox folder. Compare a snapshot taken before with one taken after.
 */
export async function stateSnapshot(catalog: Catalog, dataDir: string): Promise<Record<string, unknown>> {
  const db = catalog.db;
  return {
    orgs: await db.select().from(orgs).orderBy(asc(orgs.id)),
    spaces: await db.select().from(spaces).orderBy(asc(spaces.id)),
    instances: await db.select().from(instances).orderBy(asc(instances.id)),
    users: await db.select().from(users).orderBy(asc(users.id)),
    apiKeys: await db.select().from(apiKeys).orderBy(asc(apiKeys.id)),
    roleGrants: await db.select().from(roleGrants).orderBy(asc(roleGrants.id)),
    tasks: await db.select().from(tasks).orderBy(asc(tasks.id)),
    auditEvents: await db.select().from(auditEvents).orderBy(asc(auditEvents.seq)),
    apps: await db.select().from(apps).orderBy(asc(apps.id)),
    snapshots: await db.select().from(snapshots).orderBy(asc(snapshots.id)),
    distributions: await db.select().from(distributions).orderBy(asc(distributions.id)),
    outboxMails: await db.select().from(outboxMails).orderBy(asc(outboxMails.id)),
    // The stat cache beside each tree is a cache (rewritten by any capture), not state a user sees.
    instanceStates: Object.fromEntries(Object.entries(treeListing(join(dataDir, 'instances'))).filter(([path]) => !/\/stat-cache\.json[^/]*$/.test(path))),
    mailOutbox: treeListing(join(dataDir, 'outbox')),
  };
}

/** Runs `work` and asserts that it changed nothing a request could have changed; returns its result. */
export async function expectUnchanged<T>(stack: { catalog: Catalog; dataDir: string }, work: () => Promise<T>): Promise<T> {
  const before = await stateSnapshot(stack.catalog, stack.dataDir);
  const result = await work();
  expect(await stateSnapshot(stack.catalog, stack.dataDir)).toEqual(before);
  return result;
}

/**
 * Runs `work` and asserts that it changed nothing but the audit log, where it appended exactly events
 * with these actions (a refusal is itself audited).
 */
export async function expectOnlyAudited<T>(stack: { catalog: Catalog; dataDir: string }, actions: string[], work: () => Promise<T>): Promise<T> {
  const { auditEvents: before, ...rest } = await stateSnapshot(stack.catalog, stack.dataDir);
  const result = await work();
  const { auditEvents: after, ...restAfter } = await stateSnapshot(stack.catalog, stack.dataDir);
  expect(restAfter).toEqual(rest);
  const added = (after as { action: string }[]).slice((before as unknown[]).length);
  expect(added.map((e) => e.action)).toEqual(actions);
  return result;
}
