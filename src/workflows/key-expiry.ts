import { proxyActivities, sleep } from '@temporalio/workflow';
import type { Activities } from '../activities';

export interface KeyExpiryInput {
  keyId: string;
  userEmail: string;
  /** ISO-8601 time at which the key stops authenticating. */
  expiresAt: string;
}

const act = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry: { initialInterval: '1 second', maximumInterval: '1 minute' } });

/**
 * Sleeps until a key's expiry (weeks or months: a durable timer survives every restart), then
 * records `key.expired` in the audit log unless the key was revoked before.
 */
export async function keyExpiryWorkflow(input: KeyExpiryInput): Promise<{ recorded: boolean }> {
  const wait = Date.parse(input.expiresAt) - Date.now();
  if (wait > 0) await sleep(wait);
  return { recorded: await act.recordKeyExpiry(input) };
}
