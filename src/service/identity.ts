import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { CreateKey, CreateUser, GrantFilter, GrantRequest, type CreatedKey, type GrantView, type KeyView, type UserView } from '../domain';
import { appendAuditEvent } from '../store/catalog/audit-log';
import type { CatalogDb } from '../store/catalog/db';
import * as ids from '../store/catalog/identity';
import { adminSpaceIds, grantsOf, requireAdmin, requireSpaceAdmin } from './authz';
import { actorOf, type Principal, type ServiceDeps } from './deps';
import { resolveInstance, resolveSpace } from './directory';
import type { KeyExpiryInput } from '../workflows';
import { conflict, forbidden, HandoutError, invalidInput, isUniqueViolation, notFound } from './errors';
import { startTask } from './tasks';

// Users, API keys and role grants. Keys are 256-bit random secrets; only their sha256 is stored.

const KEY_PREFIX = 'hk_';
export const hashApiKey = (key: string) => createHash('sha256').update(key).digest('hex');

function newApiKey(): { key: string; prefix: string; hash: string } {
  const key = KEY_PREFIX + randomBytes(32).toString('base64url');
  return { key, prefix: key.slice(0, KEY_PREFIX.length + 6), hash: hashApiKey(key) };
}

const userView = (u: ids.UserRow): UserView => ({ id: u.id, email: u.email, name: u.name, is_admin: u.isAdmin, created_at: u.createdAt.toISOString() });
const keyView = ({ key, user }: { key: ids.KeyRow; user: ids.UserRow }): KeyView => ({
  id: key.id,
  user_email: user.email,
  label: key.label,
  prefix: key.prefix,
  created_at: key.createdAt.toISOString(),
  expires_at: key.expiresAt?.toISOString() ?? null,
  revoked_at: key.revokedAt?.toISOString() ?? null,
});
export const grantView = (g: ids.GrantRow): GrantView => ({
  user_email: g.userEmail,
  role: g.role,
  org_slug: g.orgSlug,
  space_slug: g.spaceSlug,
  instance_slug: g.instanceSlug,
  created_at: g.createdAt.toISOString(),
});

/** Resolves a bearer key to its user; says why when it cannot (missing, unknown, revoked). */
export async function authenticate(db: CatalogDb, authorization: string | undefined): Promise<Principal> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match) throw new HandoutError('unauthenticated', 'missing API key: send the header "Authorization: Bearer <api key>"');
  const hash = hashApiKey(match[1]!);
  const active = await ids.findActiveKey(db, hash, new Date());
  if (active) return { userId: active.user.id, email: active.user.email, isAdmin: active.user.isAdmin };
  const known = await ids.findKeyByHash(db, hash);
  if (known?.revokedAt) throw new HandoutError('unauthenticated', `this API key was revoked at ${known.revokedAt.toISOString()}; ask an admin for a new one`);
  if (known?.expiresAt) throw new HandoutError('unauthenticated', `this API key expired at ${known.expiresAt.toISOString()}; ask an admin for a new one`);
  throw new HandoutError('unauthenticated', 'the API key is not valid');
}

/**
 * On the very first start (no users yet), creates the admin user and its key. Returns the key once;
 * afterwards returns null. `saveKey` runs inside the transaction, before the commit: if the key
 * cannot be saved nothing is committed, and if the process dies after saving, the next start finds
 * no users and bootstraps again, overwriting the saved key. So the admin key is never lost.
 */
export async function bootstrapAdmin(db: CatalogDb, saveKey: (apiKey: string) => void = () => undefined): Promise<{ email: string; apiKey: string } | null> {
  return db.transaction(async (txRaw) => {
    const tx = txRaw as unknown as CatalogDb;
    if ((await ids.countUsers(tx)) > 0) return null;
    const user = await ids.insertUser(tx, { id: randomUUID(), email: 'admin@handout.local', name: 'Administrator', isAdmin: true });
    const { key, prefix, hash } = newApiKey();
    saveKey(key);
    const row = await ids.insertKey(tx, { id: randomUUID(), userId: user.id, label: 'bootstrap', prefix, keyHash: hash });
    await appendAuditEvent(tx, { event_key: 'bootstrap/admin', actor: 'system', action: 'user.created', subject: `user:${user.email}`, details: { is_admin: true, key_id: row.id } });
    return { email: user.email, apiKey: key };
  });
}

export async function listUsers(deps: ServiceDeps, p: Principal): Promise<UserView[]> {
  requireAdmin(p, 'listing users');
  return (await ids.listUsers(deps.catalog.db)).map(userView);
}

export async function createUser(deps: ServiceDeps, p: Principal, body: CreateUser): Promise<UserView> {
  requireAdmin(p, 'creating a user');
  const input = CreateUser.parse(body);
  try {
    return await deps.catalog.db.transaction(async (txRaw) => {
      const tx = txRaw as unknown as CatalogDb;
      const user = await ids.insertUser(tx, { id: randomUUID(), email: input.email, name: input.name, isAdmin: input.is_admin ?? false });
      await appendAuditEvent(tx, { event_key: `api/${randomUUID()}`, actor: actorOf(p), action: 'user.created', subject: `user:${user.email}`, details: { name: user.name, is_admin: user.isAdmin } });
      return userView(user);
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict(`a user with the e-mail "${input.email.toLowerCase()}" already exists`);
    throw err;
  }
}

async function resolveUser(db: CatalogDb, email: string): Promise<ids.UserRow> {
  const user = await ids.findUserByEmail(db, email);
  if (!user) throw notFound(`user "${email}"`);
  return user;
}

/** Admins list every key; others their own. Secrets are never listed. */
export async function listKeys(deps: ServiceDeps, p: Principal): Promise<KeyView[]> {
  return (await ids.listKeys(deps.catalog.db, p.isAdmin ? undefined : p.userId)).map(keyView);
}

/** Admins create keys for anyone; a user may create keys for themselves. The secret is returned only here. */
export async function createKey(deps: ServiceDeps, p: Principal, body: CreateKey): Promise<CreatedKey> {
  const input = CreateKey.parse(body);
  const db = deps.catalog.db;
  const user = await resolveUser(db, input.user_email);
  if (!p.isAdmin && user.id !== p.userId) throw forbidden(`creating a key for another user needs the admin role; ${p.email} is not an admin`);
  const expiresAt = input.expires_at ? new Date(input.expires_at) : null;
  if (expiresAt && expiresAt.getTime() <= Date.now()) throw invalidInput(`expires_at ${input.expires_at} is not in the future`);
  const { key, prefix, hash } = newApiKey();
  const created = await db.transaction(async (txRaw) => {
    const tx = txRaw as unknown as CatalogDb;
    const row = await ids.insertKey(tx, { id: randomUUID(), userId: user.id, label: input.label ?? '', prefix, keyHash: hash, expiresAt });
    await appendAuditEvent(tx, {
      event_key: `api/${randomUUID()}`,
      actor: actorOf(p),
      action: 'key.created',
      subject: `key:${row.id}`,
      details: { user: user.email, label: row.label, prefix, expires_at: expiresAt?.toISOString() ?? null },
    });
    return { ...keyView({ key: row, user }), api_key: key };
  });
  if (expiresAt) {
    // The key stops working at expires_at whatever happens (authenticate checks it); this task records the moment in the audit log.
    const input: KeyExpiryInput = { keyId: created.id, userEmail: user.email, expiresAt: expiresAt.toISOString() };
    await startTask(deps, p, { kind: 'key.expiry', taskId: `key-expiry-${created.id}`, subject: `key:${created.id}`, spaceId: null, workflowType: 'keyExpiryWorkflow', args: [input] });
  }
  return created;
}

/** Admins revoke any key; users their own. Revoking twice is a conflict, not a silent success. */
export async function revokeKey(deps: ServiceDeps, p: Principal, keyId: string): Promise<KeyView> {
  const db = deps.catalog.db;
  const found = /^[0-9a-f-]{36}$/.test(keyId) ? await ids.findKey(db, keyId) : undefined;
  if (!found) throw notFound(`API key "${keyId}"`);
  if (!p.isAdmin && found.user.id !== p.userId) throw forbidden(`revoking another user's key needs the admin role; ${p.email} is not an admin`);
  if (found.key.revokedAt) throw conflict(`API key "${keyId}" was already revoked at ${found.key.revokedAt.toISOString()}`);
  return db.transaction(async (txRaw) => {
    const tx = txRaw as unknown as CatalogDb;
    await ids.revokeKey(tx, keyId, new Date());
    await appendAuditEvent(tx, { event_key: `api/${randomUUID()}`, actor: actorOf(p), action: 'key.revoked', subject: `key:${keyId}`, details: { user: found.user.email } });
    return keyView((await ids.findKey(tx, keyId))!);
  });
}

/** Admins see every grant; space admins those in their spaces; everyone sees their own. */
export async function listGrants(deps: ServiceDeps, p: Principal, filter: GrantFilter): Promise<GrantView[]> {
  const db = deps.catalog.db;
  let rows: ids.GrantRow[];
  if (p.isAdmin) rows = await ids.listGrants(db);
  else {
    const mine = await grantsOf(db, p);
    const spaces = adminSpaceIds(mine);
    const theirs = spaces.length ? await ids.listGrants(db, { spaceIds: spaces }) : [];
    rows = [...new Map([...mine, ...theirs].map((g) => [g.id, g])).values()];
  }
  return rows
    .filter((g) => !filter.user_email || g.userEmail === filter.user_email.toLowerCase())
    .filter((g) => !filter.org_slug || g.orgSlug === filter.org_slug)
    .filter((g) => !filter.space_slug || g.spaceSlug === filter.space_slug)
    .map(grantView);
}

async function resolveGrant(deps: ServiceDeps, p: Principal, body: GrantRequest, action: string) {
  const input = GrantRequest.parse(body);
  const db = deps.catalog.db;
  const user = await resolveUser(db, input.user_email);
  const target = input.instance_slug
    ? await resolveInstance(db, { org_slug: input.org_slug, space_slug: input.space_slug, instance_slug: input.instance_slug })
    : { ...(await resolveSpace(db, input.org_slug, input.space_slug)), instance: undefined };
  requireSpaceAdmin(p, await grantsOf(db, p), target.space.id, action, `space "${input.org_slug}/${input.space_slug}"`);
  const where = input.instance_slug ? `instance:${input.org_slug}/${input.space_slug}/${input.instance_slug}` : `space:${input.org_slug}/${input.space_slug}`;
  return { input, user, spaceId: target.space.id, instanceId: target.instance?.id ?? null, where };
}

export async function grantRole(deps: ServiceDeps, p: Principal, body: GrantRequest): Promise<GrantView> {
  const g = await resolveGrant(deps, p, body, 'granting a role');
  return deps.catalog.db.transaction(async (txRaw) => {
    const tx = txRaw as unknown as CatalogDb;
    const fresh = await ids.insertGrant(tx, { id: randomUUID(), userId: g.user.id, role: g.input.role, spaceId: g.spaceId, instanceId: g.instanceId });
    if (!fresh) throw conflict(`${g.user.email} already has ${g.input.role} on ${g.where}`);
    await appendAuditEvent(tx, { event_key: `api/${randomUUID()}`, actor: actorOf(p), action: 'role.granted', subject: g.where, details: { user: g.user.email, role: g.input.role } });
    const [row] = (await ids.listGrants(tx, { userId: g.user.id, spaceIds: [g.spaceId] })).filter((r) => r.role === g.input.role && r.instanceId === g.instanceId);
    return grantView(row!);
  });
}

export async function revokeRole(deps: ServiceDeps, p: Principal, body: GrantRequest): Promise<{ revoked: true }> {
  const g = await resolveGrant(deps, p, body, 'revoking a role');
  return deps.catalog.db.transaction(async (txRaw) => {
    const tx = txRaw as unknown as CatalogDb;
    const existed = await ids.deleteGrant(tx, { userId: g.user.id, role: g.input.role, spaceId: g.spaceId, instanceId: g.instanceId });
    if (!existed) throw notFound(`grant of ${g.input.role} on ${g.where} to ${g.user.email}`);
    await appendAuditEvent(tx, { event_key: `api/${randomUUID()}`, actor: actorOf(p), action: 'role.revoked', subject: g.where, details: { user: g.user.email, role: g.input.role } });
    return { revoked: true as const };
  });
}
