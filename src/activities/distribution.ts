import { ApplicationFailure, Context } from '@temporalio/activity';
import { eq } from 'drizzle-orm';
import { FAILURE_TYPES } from '../domain/errors';
import type { DistributionRecord, StageSummary, TargetRef } from '../domain/distribution-run';
import { appendAuditEvent } from '../store/catalog/audit-log';
import type { CatalogDb } from '../store/catalog/db';
import * as distStore from '../store/catalog/distributions';
import * as outbox from '../store/catalog/outbox';
import { instances } from '../store/catalog/schema';
import { blobStoreOf } from '../store/blobs';
import { FileTreeError } from '../store/file-tree';
import { readSnapshotObject } from '../store/snapshot-objects';
import { buildStage, type StagePick } from '../store/stage';
import { createApplyStageActivities } from './apply-stage';
import type { ActivityDeps } from './deps';
import { diskFullAsFailure } from './disk-full';
import { notificationMail } from './distribution-mail';

/** What applying the stage did to one target (the workflow adds the target's name and auto-snapshot). */
export interface TargetApplied {
  changed: boolean;
  files_written: number;
  files_removed: number;
  tables: string[];
  apps: string[];
  mails: number;
}

const MAIL_LEASE_MS = 60_000;

/** Distribution: build the stage once, apply it to each target, hand the notifications over. */
export function createDistributionActivities(deps: ActivityDeps) {
  const { catalog, dataDir, mailer } = deps;
  const apply = createApplyStageActivities(deps);

  // A distribution's request never changes once it is stored: each of its targets reads it from here
  // instead of the catalog (a 500-target fan-out would otherwise read it 500 times).
  const records = new Map<string, DistributionRecord>();
  async function recordOf(distributionId: string): Promise<DistributionRecord> {
    const known = records.get(distributionId);
    if (known) return known;
    const row = await distStore.findDistribution(catalog.db, distributionId);
    if (!row) throw ApplicationFailure.nonRetryable(`distribution ${distributionId} is not in the catalog`, FAILURE_TYPES.notFound);
    if (records.size >= 64) records.clear();
    records.set(distributionId, row.request as DistributionRecord);
    return row.request as DistributionRecord;
  }

  return {
    /**
     * Writes the stage (a pruned snapshot object) from the frozen source. Retry-safe: the same source
     * and selection give the same blobs, and blobs are write-once.
     */
    async buildStage(input: { sourceObjectSha256: string; pick: StagePick | 'all'; name: string }): Promise<{ stageSha256: string; summary: StageSummary }> {
      const blobs = await blobStoreOf(dataDir);
      const source = await readSnapshotObject(blobs, input.sourceObjectSha256);
      const pick: StagePick = input.pick === 'all' ? { files: [''], tables: source.tables.map((t) => t.name), apps: source.apps.map((a) => a.slug) } : input.pick;
      const missingTable = pick.tables.find((t) => !source.tables.some((s) => s.name.toLowerCase() === t.toLowerCase()));
      if (missingTable) throw ApplicationFailure.nonRetryable(`table "${missingTable}" is not in the source`, FAILURE_TYPES.invalid);
      const missingApp = pick.apps.find((a) => !source.apps.some((s) => s.slug === a));
      if (missingApp) throw ApplicationFailure.nonRetryable(`app "${missingApp}" is not in the source`, FAILURE_TYPES.invalid);
      try {
        const stage = await diskFullAsFailure(() => buildStage(blobs, source, pick, input.name));
        const object = await readSnapshotObject(blobs, stage.objectSha256);
        return {
          stageSha256: stage.objectSha256,
          summary: { files: pick.files.map((f) => (f === '' ? '/files' : `/files/${f}`)), tables: object.tables.map((t) => t.name), apps: object.apps.map((a) => a.slug) },
        };
      } catch (err) {
        if (err instanceof FileTreeError && err.code === 'not_found') throw ApplicationFailure.nonRetryable(err.message, FAILURE_TYPES.invalid);
        throw err;
      }
    },

    /**
     * Records the stage on the distribution and returns the student group's members at this moment.
     * Retry-safe: the stage is deterministic, and a member list read later only adds late joiners.
     */
    async publishStage(input: { distributionId: string; stageSha256: string }): Promise<TargetRef[]> {
      const members = await distStore.publishStage(catalog.db, input.distributionId, input.stageSha256);
      const row = await distStore.findDistribution(catalog.db, input.distributionId);
      const prefix = (row!.request as DistributionRecord).group_prefix;
      return members.map((m) => ({ instanceId: m.id, subject: `${prefix}/${m.slug}` }));
    },

    /**
     * Applies the stage to one target with the distribution's strategies, then records the audit event
     * and queues the notifications in one transaction. Retry-safe: each file is written whole and the
     * same stage gives the same result; the event and the mails are keyed per target.
     */
    async applyStageToTarget(input: { distributionId: string; taskId: string; stageSha256: string; target: TargetRef; autoSnapshot: string | null }): Promise<TargetApplied> {
      const record = await recordOf(input.distributionId);
      const [instance] = await catalog.db.select().from(instances).where(eq(instances.id, input.target.instanceId));
      if (!instance || instance.status !== 'ready') throw ApplicationFailure.nonRetryable(`${input.target.subject} no longer exists`, FAILURE_TYPES.notFound);
      const { strategies, kinds } = record;
      const stage = { objectSha256: input.stageSha256, targetInstanceId: input.target.instanceId, selection: { files: null, tables: null, apps: null } };
      const files = kinds.files && strategies.files !== 'skip' ? await apply.applyFiles({ ...stage, strategy: strategies.files }) : null;
      const tables =
        kinds.tables && strategies.tables !== 'skip'
          ? await apply.applyTables({ ...stage, mode: strategies.tables === 'ignore_existing' ? 'ignore_existing' : 'replace', exact: strategies.tables === 'mirror' })
          : null;
      const apps =
        kinds.apps && strategies.apps !== 'skip'
          ? await apply.applyApps({ ...stage, mode: strategies.apps === 'ignore_existing' ? 'ignore_existing' : 'overwrite', exact: strategies.apps === 'mirror' })
          : null;
      const applied: TargetApplied = {
        changed: Boolean((files && files.filesWritten + files.symlinksWritten + files.removed + files.dirsCreated > 0) || tables?.loaded.length || tables?.dropped.length || apps?.written.length || apps?.deleted.length),
        files_written: files?.filesWritten ?? 0,
        files_removed: files?.removed ?? 0,
        tables: tables?.loaded ?? [],
        apps: apps?.written ?? [],
        mails: 0,
      };
      const key = `${input.taskId}/target/${input.target.instanceId}`;
      const recipients = record.notify ? await distStore.recipientsOf(catalog.db, input.target.instanceId) : [];
      await catalog.db.transaction(async (txRaw) => {
        const tx = txRaw as unknown as CatalogDb;
        await appendAuditEvent(tx, {
          event_key: `${key}/applied`,
          actor: record.actor,
          action: 'distribution.applied',
          subject: input.target.subject,
          details: {
            distribution: input.taskId,
            from: record.source_subject,
            snapshot: record.snapshot,
            strategies,
            auto_snapshot: input.autoSnapshot,
            files_written: applied.files_written,
            files_removed: applied.files_removed,
            tables: applied.tables,
            tables_kept: tables?.kept ?? [],
            tables_dropped: tables?.dropped ?? [],
            apps: applied.apps,
            apps_kept: apps?.kept ?? [],
            apps_deleted: apps?.deleted ?? [],
          },
          content_hashes: { stage: input.stageSha256 },
          task_id: input.taskId,
        });
        await outbox.queueMails(
          tx,
          recipients.map((user) => notificationMail({ key: `${key}/mail/${user.email}`, taskId: input.taskId, user, target: input.target.subject, record })),
        );
      });
      applied.mails = recipients.length;
      return applied;
    },

    /**
     * Hands every queued mail of the task to SMTP (or the outbox folder) and marks it sent. Retry-safe:
     * sent mails are skipped, and a lease keeps two senders off the same mail; only a crash between the
     * hand-over and the mark could repeat one. Throws (and is retried) while the mail server is down.
     */
    async deliverMails(taskId: string): Promise<{ sent: number; total: number }> {
      const ctx = Context.current();
      let sent = 0;
      let lastError: Error | undefined;
      for (const mail of await outbox.unsentMails(catalog.db, taskId)) {
        if (!(await outbox.claimMail(catalog.db, mail.id, new Date(), MAIL_LEASE_MS))) continue;
        try {
          await mailer.send({ id: mail.id, to: mail.recipient, subject: mail.subject, text: mail.body });
          await outbox.markSent(catalog.db, mail.id, new Date());
          sent++;
        } catch (err) {
          lastError = err as Error;
          await outbox.markFailedAttempt(catalog.db, mail.id, lastError.message);
          // A mail server that is down refuses every mail alike: stop here, the retry goes on later.
          if (isConnectionError(err)) break;
        }
        ctx.heartbeat(sent);
      }
      const all = await outbox.mailsOf(catalog.db, taskId);
      const unsent = all.filter((m) => !m.sentAt).length;
      if (unsent > 0) throw new Error(`${unsent} of ${all.length} notification mails are not sent yet (${mailer.destination}): ${lastError?.message ?? 'another sender holds them'}`);
      return { sent, total: all.length };
    },
  };
}

function isConnectionError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ECONNECTION' || code === 'ECONNREFUSED' || code === 'ETIMEDOUT' || code === 'ESOCKET' || code === 'EDNS';
}
