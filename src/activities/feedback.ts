import { ApplicationFailure, Context } from '@temporalio/activity';
import { and, eq } from 'drizzle-orm';
import type { FeedbackRelease } from '../domain/assignment-run';
import { markFeedbackReleased } from '../store/catalog/assignments';
import { appendAuditEvent } from '../store/catalog/audit-log';
import type { CatalogDb } from '../store/catalog/db';
import * as outbox from '../store/catalog/outbox';
import { feedback, instances, users } from '../store/catalog/schema';
import { blobStoreOf } from '../store/blobs';
import { wrapHandback } from '../store/feedback-tree';
import { materializeTree } from '../store/file-tree';
import { instancePaths } from '../store/instance-storage';
import type { ActivityDeps } from './deps';
import { diskFullAsFailure } from './disk-full';
import { keyedMail } from './mail-text';

export function createFeedbackActivities({ catalog, dataDir }: ActivityDeps) {
  return {
    /**
     * Writes one student's feedback read-only into `/files/handback/<assignment>/<hand-in version>/`
     * (that folder becomes exactly the feedback; nothing else in the instance is touched; a link the
     * student planted on the way is replaced, never followed), then marks it released, audits it and
     * queues the student's mail in one transaction. Retry-safe: the same tree is written again, and the
     * mark, event and mail are keyed.
     */
    async releaseFeedbackToStudent(input: FeedbackRelease & { slug: string; subject: string; actor: string; taskId: string }): Promise<{ files: number }> {
      const [row] = await catalog.db.select().from(feedback).where(eq(feedback.id, input.feedbackId));
      if (!row) throw ApplicationFailure.nonRetryable(`feedback ${input.feedbackId} is not in the catalog`, 'NotFound');
      const blobs = await blobStoreOf(dataDir);
      const root = await wrapHandback(blobs, input.slug, input.handinVersion, { sha256: row.filesTree!, size: 0 });
      const ctx = Context.current();
      const written = await diskFullAsFailure(() =>
        materializeTree(blobs, root, instancePaths(dataDir, input.instanceId).files, {
          subPaths: [`handback/${input.slug}/${input.handinVersion}`],
          strategy: 'mirror',
          signal: ctx.cancellationSignal,
          onProgress: (p) => ctx.heartbeat(p),
        }),
      );
      const [owner] = await catalog.db.select({ email: users.email, name: users.name }).from(instances).innerJoin(users, eq(users.id, instances.ownerId)).where(and(eq(instances.id, input.instanceId)));
      const key = `${input.taskId}/student/${input.instanceId}`;
      const where = `/files/handback/${input.slug}/${input.handinVersion}/`;
      await catalog.db.transaction(async (txRaw) => {
        const tx = txRaw as unknown as CatalogDb;
        await markFeedbackReleased(tx, row.id, new Date());
        await appendAuditEvent(tx, {
          event_key: `${key}/feedback.released`,
          actor: input.actor,
          action: 'feedback.released',
          subject: input.subject,
          details: { instance: input.instanceSubject.replace(/^instance:/, ''), student: owner?.email ?? null, handin_version: input.handinVersion, feedback_version: input.version, path: where },
          content_hashes: { feedback: row.filesTree! },
          task_id: input.taskId,
        });
        if (owner) {
          await outbox.queueMails(tx, [
            keyedMail({
              key: `${key}/mail`,
              taskId: input.taskId,
              recipient: owner.email,
              subject: `Feedback on ${input.subject.replace(/^assignment:/, '')}`,
              greeting: `Hello ${owner.name},`,
              lines: [`Feedback on your hand-in (version ${input.handinVersion}) is now in your instance, read-only, under ${where}`, ...(row.grade ? ['', `Grade: ${row.grade}`] : [])],
            }),
          ]);
        }
      });
      return { files: written.filesWritten };
    },
  };
}
