import { rm } from 'node:fs/promises';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { AppConfig } from '../domain/apps';
import type { SnapshotKind, SnapshotTable } from '../domain/snapshots';
import { appendAuditEvent } from '../store/catalog/audit-log';
import { appConfigOf, listApps } from '../store/catalog/apps';
import type { CatalogDb } from '../store/catalog/db';
import { queueMails } from '../store/catalog/outbox';
import { insertSnapshot } from '../store/catalog/snapshots';
import { blobStoreOf } from '../store/blobs';
import { instancePaths } from '../store/instance-storage';
import { scratchFile } from '../store/scratch';
import { writeSnapshotObject } from '../store/snapshot-objects';
import { StatCache } from '../store/stat-cache';
import { cachedTables, captureAndRecordTables, warehouseStamp } from '../store/tables-cache';
import { snapshotTree } from '../store/file-tree';
import { withWarehouse } from '../store/warehouse';
import { DEFAULT_QUICK_CAPTURE_MS, type ActivityDeps } from './deps';
import { diskFullAsFailure } from './disk-full';
import { snapshotReadyMail } from './snapshot-mail';

export interface CapturedFiles {
  rootTree: string;
  files: number;
  bytes: number;
  hashedFiles: number;
  reusedFiles: number;
  /** Special files left out (sockets, FIFOs, devices), at most the first 100. */
  skipped: { path: string; reason: string }[];
}

/** A quick capture that ran out of its budget, and how many files it hashed (captureFiles reuses them). */
export interface QuickCaptureUnfinished {
  unfinished: true;
  hashedFiles: number;
}

export interface SnapshotToCommit {
  snapshotId: string;
  instanceId: string;
  name: string;
  description: string;
  kind: SnapshotKind;
  /** Workflow time of the snapshot, so a retried commit writes the same object bytes. */
  createdAt: string;
  createdBy: string;
  taskId: string;
  actor: string;
  subject: string;
  files: CapturedFiles;
  tables: SnapshotTable[];
  apps: AppConfig[];
  /** `snapshots create -e`: the creator's address, mailed once the snapshot is committed. */
  notifyEmail?: string;
}

export interface CommittedSnapshot {
  snapshot_id: string;
  name: string;
  object_sha256: string;
  files: number;
  bytes: number;
  tables: number;
  apps: number;
  /** Files read and hashed this time; the others were unchanged and reused from the stat cache. */
  hashed_files: number;
  reused_files: number;
}

/** An instance's files captured into blobs and tree objects, with the stat cache. */
async function captureFilesOf(dataDir: string, instanceId: string, signal: AbortSignal, onProgress: (progress: unknown) => void): Promise<CapturedFiles> {
  const paths = instancePaths(dataDir, instanceId);
  const blobs = await blobStoreOf(dataDir);
  // snapshotTree flushes the blob store before it returns; the stat cache's last save may still be
  // under way (it only saves re-hashing). The cache is then handed back, so the instance's next
  // capture in this process need not parse it.
  const result = await StatCache.use(paths.statCache, (cache) => diskFullAsFailure(() => snapshotTree(paths.files, blobs, cache, { signal, onProgress, deferCacheSave: true })));
  return {
    rootTree: result.rootTree,
    files: result.files,
    bytes: result.bytes,
    hashedFiles: result.hashedFiles,
    reusedFiles: result.reusedFiles,
    skipped: result.skipped.slice(0, 100),
  };
}

/**
 * The files captured within the quick capture budget, or `unfinished` once it runs out, with how many
 * files were hashed (they are in the stat cache, so captureFiles picks up from there). `cancelled`
 * stops it with its AbortError.
 */
export function createQuickCapture({ dataDir, quickCaptureMs = DEFAULT_QUICK_CAPTURE_MS }: Pick<ActivityDeps, 'dataDir' | 'quickCaptureMs'>) {
  return async (instanceId: string, cancelled: AbortSignal): Promise<CapturedFiles | QuickCaptureUnfinished> => {
    const stop = new AbortController();
    const abort = () => stop.abort();
    const budget = setTimeout(abort, quickCaptureMs);
    if (cancelled.aborted) abort();
    cancelled.addEventListener('abort', abort, { once: true });
    let hashedFiles = 0;
    try {
      return await captureFilesOf(dataDir, instanceId, stop.signal, (progress) => (hashedFiles = (progress as { hashed: number }).hashed));
    } catch (err) {
      if (stop.signal.aborted && !cancelled.aborted) return { unfinished: true, hashedFiles }; // out of budget
      throw err;
    } finally {
      clearTimeout(budget);
      cancelled.removeEventListener('abort', abort);
    }
  };
}

/** Capturing an instance's state into blobs, and committing it as a visible snapshot. */
export function createSnapshotActivities({ catalog, dataDir, quickCaptureMs, headStarts }: ActivityDeps) {
  const quickCapture = createQuickCapture({ dataDir, quickCaptureMs });

  /** The tables of the last capture when the warehouse has not changed since and their blobs are kept; else null. */
  async function unchangedTables(instanceId: string): Promise<SnapshotTable[] | null> {
    const paths = instancePaths(dataDir, instanceId);
    const tables = await cachedTables(paths.tablesCache, (await warehouseStamp(paths.warehouse)).text);
    if (!tables) return null;
    const blobs = await blobStoreOf(dataDir);
    return (await blobs.keepAlive(tables.map((t) => ({ sha256: t.blob, size: -1 })))).size === 0 ? tables : null;
  }

  return {
    /**
     * Stores the files tree as blobs and tree objects. Retry-safe: blobs are write-once, and the stat
     * cache (saved as it goes) lets a retry after a killed worker skip every file already hashed.
     */
    async captureFiles(instanceId: string): Promise<CapturedFiles> {
      const ctx = Context.current();
      return captureFilesOf(dataDir, instanceId, ctx.cancellationSignal, (progress) => ctx.heartbeat(progress));
    },

    /**
     * captureFiles as a local activity, in the snapshot's first workflow task: done within the quick
     * capture budget, or `unfinished` once the budget runs out (a local activity cannot heartbeat, so
     * a long walk belongs in captureFiles), with how many files it hashed. Those are in the stat
     * cache, so captureFiles picks up from there. Its first attempt takes over the capture the request
     * began in this process, if any (capture-head-starts.ts). Retry-safe as captureFiles.
     */
    async captureFilesQuickly(instanceId: string): Promise<CapturedFiles | QuickCaptureUnfinished> {
      const { cancellationSignal: cancelled, info } = Context.current();
      const taskId = info.workflowExecution?.workflowId;
      const head = info.attempt === 1 && taskId ? headStarts?.claim(taskId, instanceId) : undefined;
      if (!head) return quickCapture(instanceId, cancelled);
      const cancel = () => head.cancel();
      cancelled.addEventListener('abort', cancel, { once: true });
      try {
        return await head.result;
      } finally {
        cancelled.removeEventListener('abort', cancel);
      }
    },

    /**
     * Stores each table as a Parquet blob with its schema and row count. Retry-safe: same table, same
     * blob. A warehouse whose files kept the stamps of the last capture gives that capture's tables
     * again without opening DuckDB (tables-cache.ts), once their blobs are known to be kept.
     */
    async captureTables(instanceId: string): Promise<SnapshotTable[]> {
      const ctx = Context.current();
      const paths = instancePaths(dataDir, instanceId);
      const blobs = await blobStoreOf(dataDir);
      const unchanged = await unchangedTables(instanceId);
      if (unchanged) return unchanged;
      return diskFullAsFailure(() =>
        captureAndRecordTables(paths.tablesCache, paths.warehouse, () =>
          withWarehouse(paths.warehouse, async (warehouse) => {
            const captured: SnapshotTable[] = [];
            for (const table of await warehouse.listTables()) {
              const file = await scratchFile(dataDir, '.parquet');
              try {
                const entry = await warehouse.exportTableToParquet(table.name, file);
                const blob = await blobs.putFile(file);
                captured.push({ ...entry, blob: blob.sha256 });
              } finally {
                await rm(file, { force: true });
              }
              ctx.heartbeat({ tables: captured.length });
            }
            await blobs.flush();
            return captured;
          }),
        ),
      );
    },

    /** The tables of an unchanged warehouse (see captureTables), or null: a local activity's quick look. Retry-safe: only reads and refreshes blob times. */
    async tablesIfUnchanged(instanceId: string): Promise<SnapshotTable[] | null> {
      return unchangedTables(instanceId);
    },

    /** The app configs of the current state. Retry-safe: only reads. */
    async captureApps(instanceId: string): Promise<AppConfig[]> {
      return (await listApps(catalog.db, instanceId)).map(appConfigOf);
    },

    /**
     * Writes the snapshot object and inserts the catalog row with its audit event in one transaction:
     * before this, nothing of the snapshot is visible. Retry-safe: the row is keyed by the task's
     * snapshot id and the object bytes are deterministic; a name taken by another snapshot fails for good.
     */
    async commitSnapshot(input: SnapshotToCommit): Promise<CommittedSnapshot> {
      const blobs = await blobStoreOf(dataDir);
      const objectSha = await diskFullAsFailure(() =>
        writeSnapshotObject(blobs, {
          version: 1,
          instance_id: input.instanceId,
          name: input.name,
          created_at: input.createdAt,
          files_tree: input.files.rootTree,
          tables: input.tables,
          apps: input.apps,
        }),
      );
      await blobs.flush();
      const row = await catalog.db.transaction(async (txRaw) => {
        const tx = txRaw as unknown as CatalogDb;
        const inserted = await insertSnapshot(tx, {
          id: input.snapshotId,
          instanceId: input.instanceId,
          name: input.name,
          description: input.description,
          kind: input.kind,
          objectSha256: objectSha,
          filesTree: input.files.rootTree,
          fileCount: input.files.files,
          byteCount: input.files.bytes,
          tableCount: input.tables.length,
          appCount: input.apps.length,
          taskId: input.taskId,
          createdBy: input.createdBy,
          createdAt: new Date(input.createdAt),
        });
        if (!inserted) throw ApplicationFailure.nonRetryable(`a snapshot named "${input.name}" already exists in this instance`, 'Conflict');
        await appendAuditEvent(tx, {
          event_key: `${input.taskId}/snapshot.created/${input.snapshotId}`,
          actor: input.actor,
          action: 'snapshot.created',
          subject: input.subject,
          details: { snapshot: input.name, kind: input.kind, files: input.files.files, bytes: input.files.bytes, tables: input.tables.map((t) => t.name), apps: input.apps.map((a) => a.slug) },
          content_hashes: { snapshot: objectSha, files_tree: input.files.rootTree, ...Object.fromEntries(input.tables.map((t) => [`table:${t.name}`, t.blob])) },
          task_id: input.taskId,
        });
        // Queued with the row it announces: the mail exists exactly when the snapshot does.
        if (input.notifyEmail) {
          const facts = { taskId: input.taskId, subject: input.subject, name: input.name, recipient: input.notifyEmail };
          await queueMails(tx, [snapshotReadyMail({ ...facts, files: input.files.files, bytes: input.files.bytes, tables: input.tables.map((t) => t.name), apps: input.apps.map((a) => a.slug) })]);
        }
        return inserted;
      });
      return {
        snapshot_id: row.id,
        name: row.name,
        object_sha256: row.objectSha256,
        files: row.fileCount,
        bytes: row.byteCount,
        tables: row.tableCount,
        apps: row.appCount,
        hashed_files: input.files.hashedFiles,
        reused_files: input.files.reusedFiles,
      };
    },
  };
}
