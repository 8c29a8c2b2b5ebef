import { z } from 'zod';
import { AppConfig } from './apps';
import { TableSnapshotEntry } from './tables';

/** `development` is the current state, never a stored snapshot. */
export const CURRENT_STATE = 'development';

/** A snapshot's name, unique per instance; usable as `-p NAME`. */
export const SnapshotName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'a snapshot name is 1–63 characters of a-z, 0-9, "_", "-" and ".", starting with a letter or digit')
  .refine((n) => n !== CURRENT_STATE, `"${CURRENT_STATE}" is the current state and cannot name a snapshot`);

export const SnapshotKind = z.enum(['user', 'safety', 'staging']);
export type SnapshotKind = z.infer<typeof SnapshotKind>;

/** One table inside a snapshot: its Parquet blob, schema, DDL and row count. */
export const SnapshotTable = TableSnapshotEntry.extend({ blob: z.string() });
export type SnapshotTable = z.infer<typeof SnapshotTable>;

/** The snapshot object (a blob): everything needed to restore the state, nothing mutable. */
export const SnapshotObject = z.object({
  version: z.literal(1),
  instance_id: z.string(),
  name: z.string(),
  created_at: z.string(),
  files_tree: z.string(),
  tables: z.array(SnapshotTable),
  apps: z.array(AppConfig),
});
export type SnapshotObject = z.infer<typeof SnapshotObject>;

export const SnapshotView = z.object({
  name: z.string(),
  description: z.string(),
  kind: SnapshotKind,
  org_slug: z.string(),
  space_slug: z.string(),
  instance_slug: z.string(),
  created_at: z.string(),
  created_by: z.string(),
  files: z.number().int(),
  bytes: z.number().int(),
  tables: z.number().int(),
  apps: z.number().int(),
  object_sha256: z.string(),
});
export type SnapshotView = z.infer<typeof SnapshotView>;

export const CreateSnapshot = z
  .object({
    name: SnapshotName,
    description: z.string().max(2000).optional(),
    /** Mail the creator when the snapshot is complete, or has failed (the platform's `-e/--email`). */
    email: z.boolean().optional(),
  })
  .strict();
export type CreateSnapshot = z.infer<typeof CreateSnapshot>;
