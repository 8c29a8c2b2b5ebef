import { randomUUID } from 'node:crypto';
import { CURRENT_STATE } from '../domain/snapshots';
import { DEFAULT_STRATEGIES, DistributeRequest, isGroupTarget, OBJECT_KINDS, type Strategies } from '../domain/distribution';
import type { DistributionInput, DistributionRecord, SelectedKinds, TargetRef } from '../domain/distribution-run';
import type { TaskStarted } from '../domain/api';
import * as appsStore from '../store/catalog/apps';
import { insertDistribution } from '../store/catalog/distributions';
import * as files from '../store/instance-files';
import { withWarehouse } from '../store/warehouse';
import { grantsOf, instanceAccess, isSpaceAdmin } from './authz';
import { actorOf, type Principal, type ServiceDeps } from './deps';
import { resolveInstance, resolveSpace } from './directory';
import { forbidden, HandoutError, invalidInput, notFound } from './errors';
import { filesSegments } from './files';
import { openInstance, type OpenedInstance } from './instance-access';
import { resolveSnapshot } from './snapshot-lookup';
import { validateSelection } from './snapshot-contents';
import { startTask } from './tasks';

// `distribution distribute`: everything is checked here, before anything runs — the request, the
// selection against the source, every target and the caller's role on each — so a bad request
// distributes nothing.

const display = (rel: string) => (rel === '' ? '/files' : `/files/${rel}`);
const refName = (t: { org_slug: string; space_slug: string; instance_slug?: string; group?: string }) =>
  t.instance_slug ? `${t.org_slug}/${t.space_slug}/${t.instance_slug}` : `${t.org_slug}/${t.space_slug} (group ${t.group})`;

export async function startDistribution(deps: ServiceDeps, p: Principal, body: DistributeRequest): Promise<TaskStarted & { targets: number }> {
  const parsed = DistributeRequest.safeParse(body);
  if (!parsed.success) throw invalidInput(parsed.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; '));
  const req = parsed.data;
  const strategies: Strategies = { ...DEFAULT_STRATEGIES, ...req.strategy };
  const { pick, kinds } = selectionOf(req);
  const snapshot = req.snapshot ?? CURRENT_STATE;

  const source = await openInstance(deps, p, req.source, 'viewer');
  const sourceObjectSha256 = await checkSelectionInSource(deps, p, source, snapshot, pick);
  const { targets, groupSpaceId, groupPrefix } = await resolveTargets(deps, p, req);
  if (targets.some((t) => t.instanceId === source.instance.id) && OBJECT_KINDS.some((k) => kinds[k] && strategies[k] === 'mirror')) {
    throw invalidInput(`the source ${refName(req.source)} is among the targets and a strategy is "mirror": it would clear the very content it distributes`);
  }

  const distributionId = randomUUID();
  const taskId = `distribution-${distributionId}`;
  const record: DistributionRecord = {
    source_subject: source.subject,
    snapshot,
    group_prefix: groupPrefix,
    strategies,
    kinds,
    auto_snapshot: req.auto_snapshot ?? false,
    notify: req.notify ?? false,
    message: req.message ?? '',
    actor: actorOf(p),
    pick,
  };
  await insertDistribution(deps.catalog.db, {
    id: distributionId,
    taskId,
    sourceInstanceId: source.instance.id,
    sourceSubject: source.subject,
    sourceSnapshot: snapshot,
    request: record,
    groupSpaceId,
    actor: actorOf(p),
    createdBy: p.userId,
  });
  const input: DistributionInput = {
    distributionId,
    sourceInstanceId: source.instance.id,
    sourceSubject: source.subject,
    sourceObjectSha256,
    snapshot,
    pick,
    autoSnapshot: record.auto_snapshot,
    notify: record.notify,
    targets,
    concurrency: deps.distributionConcurrency,
    actor: actorOf(p),
    createdBy: p.userId,
  };
  const started = await startTask(deps, p, { kind: 'distribution', taskId, subject: source.subject, spaceId: source.space.id, workflowType: 'distributionWorkflow', args: [input] });
  return { ...started, targets: targets.length };
}

/** The selection in the stage's terms; `all` is the whole snapshot. An empty selection is refused. */
export function selectionOf(req: Pick<DistributeRequest, 'files' | 'tables' | 'apps' | 'all'>): { pick: DistributionRecord['pick']; kinds: SelectedKinds } {
  const named = { files: req.files ?? [], tables: req.tables ?? [], apps: req.apps ?? [] };
  if (req.all) {
    if (named.files.length || named.tables.length || named.apps.length) throw invalidInput('--all distributes the whole snapshot; leave out --files, --tables and --apps');
    return { pick: 'all', kinds: { files: true, tables: true, apps: true } };
  }
  if (!named.files.length && !named.tables.length && !named.apps.length) {
    throw invalidInput('nothing to distribute: name --files, --tables or --apps (or --all for the whole snapshot)');
  }
  for (const kind of OBJECT_KINDS) {
    const seen = new Set<string>();
    for (const item of named[kind]) {
      const key = kind === 'tables' ? item.toLowerCase() : item;
      if (seen.has(key)) throw invalidInput(`--${kind} names "${item}" twice`);
      seen.add(key);
    }
  }
  const pick = { files: named.files.map((f) => filesSegments(f).join('/')), tables: named.tables, apps: named.apps };
  return { pick, kinds: { files: pick.files.length > 0, tables: pick.tables.length > 0, apps: pick.apps.length > 0 } };
}

/** Checks every selected item exists in the source; returns the snapshot object (null = the current state, frozen later). */
export async function checkSelectionInSource(deps: ServiceDeps, p: Principal, source: OpenedInstance, snapshot: string, pick: DistributionRecord['pick']): Promise<string | null> {
  const where = `${refName({ org_slug: source.org.slug, space_slug: source.space.slug, instance_slug: source.instance.slug })}`;
  if (snapshot !== CURRENT_STATE) {
    const { row } = await resolveSnapshot(deps, p, { org_slug: source.org.slug, space_slug: source.space.slug, instance_slug: source.instance.slug }, snapshot);
    if (pick !== 'all') await validateSelection(deps, row.objectSha256, snapshot, { files: pick.files.map(display), tables: pick.tables, apps: pick.apps });
    return row.objectSha256;
  }
  if (pick === 'all') return null;
  for (const rel of pick.files) {
    try {
      await files.listFiles(source.paths.files, rel === '' ? [] : rel.split('/'));
    } catch (err) {
      if (err instanceof files.FilesError && err.code === 'not_found') throw invalidInput(`${display(rel)} is not in ${where} (${CURRENT_STATE})`);
      if (err instanceof files.FilesError) throw new HandoutError(err.code === 'too_large' ? 'invalid_input' : err.code, err.message);
      throw err;
    }
  }
  if (pick.tables.length) {
    const existing = await withWarehouse(source.paths.warehouse, (w) => w.listTables());
    for (const t of pick.tables) {
      if (!existing.some((e) => e.name.toLowerCase() === t.toLowerCase())) throw invalidInput(`table "${t}" is not in ${where} (${CURRENT_STATE})`);
    }
  }
  const apps = await appsStore.listApps(deps.catalog.db, source.instance.id);
  for (const slug of pick.apps) if (!apps.some((a) => a.slug === slug)) throw invalidInput(`app "${slug}" is not in ${where} (${CURRENT_STATE})`);
  return null;
}

/**
 * Resolves every target and checks the caller may write it: editor on each instance, space admin for
 * a group (it reaches students who join later). All problems of one kind are named at once.
 */
async function resolveTargets(deps: ServiceDeps, p: Principal, req: DistributeRequest): Promise<{ targets: TargetRef[]; groupSpaceId: string | null; groupPrefix: string | null }> {
  const db = deps.catalog.db;
  const seen = new Set<string>();
  for (const t of req.targets) {
    const name = refName(t);
    if (seen.has(name)) throw invalidInput(`the target ${name} is listed twice`);
    seen.add(name);
  }
  const groups = req.targets.filter(isGroupTarget);
  if (groups.length > 1) throw invalidInput('name at most one group target per distribution');
  const grants = p.isAdmin ? [] : await grantsOf(db, p);
  const unknown: string[] = [];
  const denied: string[] = [];
  const targets: TargetRef[] = [];
  let groupSpaceId: string | null = null;
  let groupPrefix: string | null = null;
  for (const t of req.targets) {
    if (isGroupTarget(t)) {
      const space = await resolveSpace(db, t.org_slug, t.space_slug).catch((err) => (err instanceof HandoutError && err.code === 'not_found' ? null : Promise.reject(err)));
      if (!space) {
        unknown.push(refName(t));
        continue;
      }
      if (!isSpaceAdmin(p, grants, space.space.id)) denied.push(`${refName(t)} needs space_admin`);
      groupSpaceId = space.space.id;
      groupPrefix = `instance:${t.org_slug}/${t.space_slug}`;
      continue;
    }
    const found = await resolveInstance(db, t).catch((err) => (err instanceof HandoutError && err.code === 'not_found' ? null : Promise.reject(err)));
    if (!found || found.instance.status !== 'ready') {
      unknown.push(refName(t));
      continue;
    }
    if (instanceAccess(p, grants, found.space.id, found.instance.id) !== 'editor') denied.push(refName(t));
    targets.push({ instanceId: found.instance.id, subject: `instance:${refName(t)}` });
  }
  if (unknown.length) throw notFound(`target${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`);
  if (denied.length) throw forbidden(`distributing needs the instance_editor role (or more) on every target; ${p.email} lacks it on ${denied.join(', ')}`);
  return { targets, groupSpaceId, groupPrefix };
}
