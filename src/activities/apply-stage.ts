import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { MaterializeResult, MaterializeStrategy } from '../domain/trees';
import * as appsStore from '../store/catalog/apps';
import type { CatalogDb } from '../store/catalog/db';
import { blobStoreOf } from '../store/blobs';
import { instancePaths } from '../store/instance-storage';
import { readSnapshotObject } from '../store/snapshot-objects';
import { StatCache } from '../store/stat-cache';
import { materializeTree } from '../store/file-tree';
import { withWarehouse } from '../store/warehouse';
import type { ActivityDeps } from './deps';
import { diskFullAsFailure } from './disk-full';

/** What to take from a snapshot: null means everything of that kind. */
export interface StageSelection {
  /** Relative paths below /files ("" = all), or null for the whole tree. */
  files: string[] | null;
  tables: string[] | null;
  apps: string[] | null;
}

export interface ApplyInput {
  objectSha256: string;
  targetInstanceId: string;
  selection: StageSelection;
}

/** Writing a frozen snapshot's content into an instance's current state (restore now, distribution later). */
export function createApplyStageActivities({ catalog, dataDir }: ActivityDeps) {
  return {
    /**
     * Writes files from the snapshot's tree: each file whole (temp + rename), each folder the target
     * lacks whole (built under a temp name, then renamed); with `skipUnchanged`, not the files the
     * target's stat cache says already hold their bytes. Retry-safe: writing the same tree again gives
     * the same bytes, a file written by the failed attempt no longer matches the cache, and `mirror`
     * removes only what the tree does not have.
     */
    async applyFiles(input: ApplyInput & { strategy: MaterializeStrategy; skipUnchanged?: boolean }): Promise<MaterializeResult> {
      const ctx = Context.current();
      const blobs = await blobStoreOf(dataDir);
      const object = await readSnapshotObject(blobs, input.objectSha256);
      const paths = instancePaths(dataDir, input.targetInstanceId);
      // What the target's last capture hashed: with a restore's safety snapshot just taken, every file
      // still exactly as it was then, and holding what the tree has, is left alone.
      const known = input.skipUnchanged ? await StatCache.knownContentsAt(paths.statCache) : undefined;
      return diskFullAsFailure(() =>
        materializeTree(blobs, object.files_tree, paths.files, {
          subPaths: input.selection.files ?? undefined,
          strategy: input.strategy,
          known,
          signal: ctx.cancellationSignal,
          onProgress: (progress) => ctx.heartbeat(progress),
        }),
      );
    },

    /**
     * Loads tables from their Parquet blobs; `exact` also drops tables the snapshot does not have.
     * Retry-safe: each load replaces the table in one transaction with the same rows.
     */
    async applyTables(input: ApplyInput & { mode: 'replace' | 'ignore_existing'; exact: boolean }): Promise<{ loaded: string[]; kept: string[]; dropped: string[] }> {
      const ctx = Context.current();
      const blobs = await blobStoreOf(dataDir);
      const object = await readSnapshotObject(blobs, input.objectSha256);
      const wanted = input.selection.tables === null ? object.tables : object.tables.filter((t) => input.selection.tables!.includes(t.name));
      const outcome = { loaded: [] as string[], kept: [] as string[], dropped: [] as string[] };
      await withWarehouse(instancePaths(dataDir, input.targetInstanceId).warehouse, async (warehouse) => {
        for (const table of wanted) {
          const result = await warehouse.loadParquet(table.name, blobs.pathOf(table.blob), input.mode, { schema: table.schema });
          (result.loaded ? outcome.loaded : outcome.kept).push(table.name);
          ctx.heartbeat(outcome.loaded.length + outcome.kept.length);
        }
        if (input.exact) {
          const keep = new Set(object.tables.map((t) => t.name.toLowerCase()));
          for (const existing of await warehouse.listTables()) {
            if (keep.has(existing.name.toLowerCase())) continue;
            await warehouse.drop(existing.name);
            outcome.dropped.push(existing.name);
          }
        }
      });
      return outcome;
    },

    /**
     * Writes app configs (overwrite or keep existing); `exact` also deletes apps the snapshot does not
     * have. Retry-safe: one transaction, and upserting the same configs again changes nothing.
     */
    async applyApps(input: ApplyInput & { mode: 'overwrite' | 'ignore_existing'; exact: boolean }): Promise<{ written: string[]; kept: string[]; deleted: string[] }> {
      const blobs = await blobStoreOf(dataDir);
      const object = await readSnapshotObject(blobs, input.objectSha256);
      const wanted = input.selection.apps === null ? object.apps : object.apps.filter((a) => input.selection.apps!.includes(a.slug));
      return catalog.db.transaction(async (txRaw) => {
        const tx = txRaw as unknown as CatalogDb;
        const outcome = { written: [] as string[], kept: [] as string[], deleted: [] as string[] };
        const existing = await appsStore.listApps(tx, input.targetInstanceId);
        for (const app of wanted) {
          if (input.mode === 'ignore_existing' && existing.some((e) => e.slug === app.slug)) {
            outcome.kept.push(app.slug);
            continue;
          }
          await appsStore.upsertApp(tx, randomUUID(), input.targetInstanceId, app);
          outcome.written.push(app.slug);
        }
        if (input.exact) {
          for (const e of existing) {
            if (object.apps.some((a) => a.slug === e.slug)) continue;
            await appsStore.deleteApp(tx, input.targetInstanceId, e.slug);
            outcome.deleted.push(e.slug);
          }
        }
        return outcome;
      });
    },
  };
}
