import { z } from 'zod';
import { InstanceRef } from './context';
import { Slug } from './slugs';

// Distribution: pushing a stage (selected files, tables, apps of one frozen source state) into the
// current state of many target instances, with a strategy per object kind.

export const OBJECT_KINDS = ['files', 'tables', 'apps'] as const;
export type ObjectKind = (typeof OBJECT_KINDS)[number];

/** Per kind, as the platform names them: replace existing, keep existing, clear the kind first, or leave the kind out. */
export const DistributionStrategy = z.enum(['overwrite', 'ignore_existing', 'mirror', 'skip']);
export type DistributionStrategy = z.infer<typeof DistributionStrategy>;

export const Strategies = z.object({ files: DistributionStrategy, tables: DistributionStrategy, apps: DistributionStrategy }).strict();
export type Strategies = z.infer<typeof Strategies>;

export const DEFAULT_STRATEGIES: Strategies = { files: 'overwrite', tables: 'overwrite', apps: 'overwrite' };

/**
 * Parses `files=overwrite,tables=ignore_existing,apps=skip`; kinds not named keep `overwrite`.
 * Throws an Error whose message names the bad part.
 */
export function parseStrategies(text: string): Strategies {
  const out: Strategies = { ...DEFAULT_STRATEGIES };
  const seen = new Set<string>();
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [kind, value, ...rest] = part.split('=').map((s) => s.trim());
    if (!kind || value === undefined || rest.length) throw new Error(`"${part}" is not KIND=STRATEGY (e.g. files=mirror)`);
    if (!(OBJECT_KINDS as readonly string[]).includes(kind)) throw new Error(`unknown kind "${kind}" in --strategy: use ${OBJECT_KINDS.join(', ')}`);
    if (seen.has(kind)) throw new Error(`--strategy names "${kind}" twice`);
    const strategy = DistributionStrategy.safeParse(value);
    if (!strategy.success) throw new Error(`unknown strategy "${value}" for ${kind}: use ${DistributionStrategy.options.join(', ')}`);
    seen.add(kind);
    out[kind as ObjectKind] = strategy.data;
  }
  return out;
}

/** The student group of a space: every student instance now and every one added later. */
export const GroupTarget = z.object({ org_slug: Slug, space_slug: Slug, group: z.literal('students') }).strict();
export type GroupTarget = z.infer<typeof GroupTarget>;

export const DistributionTarget = z.union([InstanceRef, GroupTarget], {
  error: 'each target is {"org_slug", "space_slug", "instance_slug"} or {"org_slug", "space_slug", "group": "students"}, with valid slugs and no other fields',
});
export type DistributionTarget = z.infer<typeof DistributionTarget>;

export const isGroupTarget = (t: DistributionTarget): t is GroupTarget => 'group' in t;

/** Longest custom message a notification carries (about a page of text). */
export const MAX_MESSAGE_LENGTH = 10_000;
/** Most explicit targets one request may name (a group counts once, however many students it has). */
export const MAX_TARGETS = 5_000;

export const DistributeRequest = z
  .object({
    source: InstanceRef,
    /** `development` (default) distributes the current state, frozen by a staging snapshot first. */
    snapshot: z.string().min(1).max(200).optional(),
    targets: z.array(DistributionTarget).min(1, 'name at least one target').max(MAX_TARGETS),
    files: z.array(z.string()).max(10_000).optional(),
    tables: z.array(z.string()).max(10_000).optional(),
    apps: z.array(z.string()).max(10_000).optional(),
    /** The whole snapshot: every file, table and app. */
    all: z.boolean().optional(),
    strategy: Strategies.partial().optional(),
    auto_snapshot: z.boolean().optional(),
    notify: z.boolean().optional(),
    message: z.string().max(MAX_MESSAGE_LENGTH, `the message is longer than ${MAX_MESSAGE_LENGTH} characters`).optional(),
  })
  .strict();
export type DistributeRequest = z.infer<typeof DistributeRequest>;

/** How one target came out of a distribution. */
export const TargetOutcome = z.object({
  target: z.string(),
  status: z.enum(['pending', 'applied', 'skipped', 'failed', 'cancelled']),
  reason: z.string().nullable(),
  auto_snapshot: z.string().nullable(),
  files_written: z.number().int(),
  files_removed: z.number().int(),
  tables: z.array(z.string()),
  apps: z.array(z.string()),
  mails: z.number().int(),
});
export type TargetOutcome = z.infer<typeof TargetOutcome>;

export const DistributionResult = z.object({
  source: z.string(),
  snapshot: z.string(),
  stage_sha256: z.string(),
  targets_total: z.number().int(),
  applied: z.number().int(),
  skipped: z.number().int(),
  failed: z.number().int(),
  mails_sent: z.number().int(),
  targets: z.array(TargetOutcome),
});
export type DistributionResult = z.infer<typeof DistributionResult>;
