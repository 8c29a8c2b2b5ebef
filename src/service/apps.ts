import { createHash, randomUUID } from 'node:crypto';
import { AppConfig, CreateApp, UpdateApp, type AppView } from '../domain/apps';
import { canonicalJson } from '../domain/audit';
import type { InstanceRef } from '../domain/context';
import * as store from '../store/catalog/apps';
import { appendAuditEvent } from '../store/catalog/audit-log';
import type { CatalogDb } from '../store/catalog/db';
import { actorOf, type Principal, type ServiceDeps } from './deps';
import { conflict, notFound } from './errors';
import { slugOrDerived } from './slugs';
import { openInstance } from './instance-access';

// Application configs of an instance's current state: viewers list them, editors change them.

const view = (row: store.AppRow): AppView => ({ ...store.appConfigOf(row), created_at: row.createdAt.toISOString(), updated_at: row.updatedAt.toISOString() });
/** The content hash the audit log records for an app config. */
export const appConfigHash = (config: AppConfig) => createHash('sha256').update(canonicalJson(config)).digest('hex');

export async function listApps(deps: ServiceDeps, p: Principal, ref: InstanceRef): Promise<AppView[]> {
  const target = await openInstance(deps, p, ref, 'viewer');
  return (await store.listApps(deps.catalog.db, target.instance.id)).map(view);
}

export async function createApp(deps: ServiceDeps, p: Principal, ref: InstanceRef, body: CreateApp): Promise<AppView> {
  const input = CreateApp.parse(body);
  const slug = slugOrDerived(input.slug, input.name);
  const config = AppConfig.parse({ ...input, slug });
  const target = await openInstance(deps, p, ref, 'editor');
  return deps.catalog.db.transaction(async (txRaw) => {
    const tx = txRaw as unknown as CatalogDb;
    const row = await store.insertApp(tx, randomUUID(), target.instance.id, config);
    if (!row) throw conflict(`an app with the slug "${config.slug}" already exists in ${target.subject.replace('instance:', 'instance ')}`);
    await appendAuditEvent(tx, {
      event_key: `api/${randomUUID()}`,
      actor: actorOf(p),
      action: 'app.created',
      subject: target.subject,
      details: { app: config.slug, name: config.name, base_image: config.base_image },
      content_hashes: { [`app:${config.slug}`]: appConfigHash(config) },
    });
    return view(row);
  });
}

export async function updateApp(deps: ServiceDeps, p: Principal, ref: InstanceRef, slug: string, body: UpdateApp): Promise<AppView> {
  const changes = UpdateApp.parse(body);
  const target = await openInstance(deps, p, ref, 'editor');
  return deps.catalog.db.transaction(async (txRaw) => {
    const tx = txRaw as unknown as CatalogDb;
    const current = await store.findApp(tx, target.instance.id, slug);
    if (!current) throw notFound(`app "${slug}" in ${target.subject.replace('instance:', 'instance ')}`);
    const config = AppConfig.parse({ ...store.appConfigOf(current), ...changes, slug });
    const row = (await store.replaceApp(tx, target.instance.id, config))!;
    await appendAuditEvent(tx, {
      event_key: `api/${randomUUID()}`,
      actor: actorOf(p),
      action: 'app.updated',
      subject: target.subject,
      details: { app: slug, changed: Object.keys(changes).sort() },
      content_hashes: { [`app:${slug}`]: appConfigHash(config) },
    });
    return view(row);
  });
}

export async function deleteApp(deps: ServiceDeps, p: Principal, ref: InstanceRef, slug: string): Promise<{ deleted: string }> {
  const target = await openInstance(deps, p, ref, 'editor');
  return deps.catalog.db.transaction(async (txRaw) => {
    const tx = txRaw as unknown as CatalogDb;
    const current = await store.findApp(tx, target.instance.id, slug);
    if (!current) throw notFound(`app "${slug}" in ${target.subject.replace('instance:', 'instance ')}`);
    await store.deleteApp(tx, target.instance.id, slug);
    await appendAuditEvent(tx, {
      event_key: `api/${randomUUID()}`,
      actor: actorOf(p),
      action: 'app.deleted',
      subject: target.subject,
      details: { app: slug },
      content_hashes: { [`app:${slug}`]: appConfigHash(store.appConfigOf(current)) },
    });
    return { deleted: slug };
  });
}
