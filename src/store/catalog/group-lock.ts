import { sql } from 'drizzle-orm';
import type { CatalogDb } from './db';

/** Advisory lock namespace for "the student group of a space" (second key: a hash of the space id). */
const GROUP_LOCK = 4_242_010;

/**
 * Serialises, per space, everything that reads the student group (publishing a group distribution,
 * releasing a group assignment) with a student instance joining it, inside the caller's transaction.
 */
export async function lockGroup(tx: CatalogDb, spaceId: string): Promise<void> {
  await tx.execute(sql`SELECT pg_advisory_xact_lock(${GROUP_LOCK}, hashtext(${spaceId}))`);
}
