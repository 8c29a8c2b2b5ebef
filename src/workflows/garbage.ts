import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

const act = proxyActivities<Activities>({ startToCloseTimeout: '2 hours', retry: { initialInterval: '5 seconds', maximumInterval: '1 minute' } });

/** Frees blobs no snapshot references any more (after `snapshots delete`). */
export async function blobGarbageWorkflow(input: { graceMs: number }): Promise<{ deleted: number; kept: number; bytes_freed: number }> {
  const swept = await act.collectGarbage(input.graceMs);
  return { deleted: swept.deleted, kept: swept.kept, bytes_freed: swept.bytesFreed };
}
