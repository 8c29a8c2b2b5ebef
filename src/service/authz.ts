import type { CatalogDb } from '../store/catalog/db';
import { grantsInSpace, listGrants, type GrantRow, type GrantScope } from '../store/catalog/identity';
import type { InstanceAccess } from '../domain/roles';
import { forbidden } from './errors';
import type { Principal } from './deps';

// Role checks, all on the server. A global admin may do anything; a space admin manages their space;
// instance editors and viewers act only on their instances.

export async function grantsOf(db: CatalogDb, p: Principal): Promise<GrantRow[]> {
  return listGrants(db, { userId: p.userId });
}

/**
 * The grants a role check in one space needs: none for an admin, who may do anything anyway; else
 * the principal's grants in that space.
 */
export async function grantsForSpace(db: CatalogDb, p: Principal, spaceId: string): Promise<GrantScope[]> {
  return p.isAdmin ? [] : grantsInSpace(db, p.userId, spaceId);
}

export function requireAdmin(p: Principal, action: string): void {
  if (!p.isAdmin) throw forbidden(`${action} needs the admin role; ${p.email} is not an admin`);
}

/** Space ids this principal administers. */
export function adminSpaceIds(grants: GrantScope[]): string[] {
  return grants.filter((g) => g.role === 'space_admin').map((g) => g.spaceId);
}

export function isSpaceAdmin(p: Principal, grants: GrantScope[], spaceId: string): boolean {
  return p.isAdmin || grants.some((g) => g.role === 'space_admin' && g.spaceId === spaceId);
}

export function requireSpaceAdmin(p: Principal, grants: GrantScope[], spaceId: string, action: string, where: string): void {
  if (!isSpaceAdmin(p, grants, spaceId)) throw forbidden(`${action} needs the space_admin role on ${where}; ${p.email} does not have it`);
}

/** The strongest access a principal has to an instance, or null. */
export function instanceAccess(p: Principal, grants: GrantScope[], spaceId: string, instanceId: string): InstanceAccess | null {
  if (isSpaceAdmin(p, grants, spaceId)) return 'editor';
  const mine = grants.filter((g) => g.instanceId === instanceId);
  if (mine.some((g) => g.role === 'instance_editor')) return 'editor';
  if (mine.some((g) => g.role === 'instance_viewer')) return 'viewer';
  return null;
}

export function requireInstanceAccess(p: Principal, grants: GrantScope[], spaceId: string, instanceId: string, need: InstanceAccess, where: string): void {
  const has = instanceAccess(p, grants, spaceId, instanceId);
  if (has === 'editor' || has === need) return;
  throw forbidden(`this needs the instance_${need} role (or more) on ${where}; ${p.email} has ${has ? `only instance_${has}` : 'no role there'}`);
}
