import { z } from 'zod';
import { InstanceRef } from './context';
import { MAX_MESSAGE_LENGTH } from './distribution';
import { Slug } from './slugs';

// Assignments: a distribution of material to students plus a deadline, hand-ins, collection and feedback.

export const LatePolicy = z.enum(['hard', 'accept-late']);
export type LatePolicy = z.infer<typeof LatePolicy>;

const UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KIB: 1024, MIB: 1024 ** 2, GIB: 1024 ** 3 };

/** `50MB`, `1.5GB`, `200KiB`, or a number of bytes; null if it is none of those. */
export function parseSize(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!m) return null;
  const unit = UNITS[(m[2] || 'B').toUpperCase()];
  if (!unit) return null;
  const bytes = Math.round(Number(m[1]) * unit);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : null;
}

/** `--targets group` (every student of the space, now and later) or explicit student instances. */
export const AssignmentTargets = z.union([z.literal('group'), z.array(InstanceRef).min(1).max(5000)]);
export type AssignmentTargets = z.infer<typeof AssignmentTargets>;

export const CreateAssignment = z
  .object({
    name: z.string().min(1).max(200),
    slug: Slug.optional(),
    description: z.string().max(10_000).optional(),
    /** The instructors' instance the material comes from, and the snapshot (default: the current state, frozen). */
    source: InstanceRef,
    snapshot: z.string().min(1).max(200).optional(),
    files: z.array(z.string()).max(10_000).optional(),
    tables: z.array(z.string()).max(10_000).optional(),
    apps: z.array(z.string()).max(10_000).optional(),
    handin: z.array(z.string()).min(1, 'name at least one hand-in path (--handin)').max(1000),
    targets: AssignmentTargets,
    due_at: z.string().min(1),
    timezone: z.string().min(1),
    release_at: z.string().min(1).optional(),
    late_policy: LatePolicy.optional(),
    cutoff_at: z.string().min(1).optional(),
    size_limit_bytes: z.number().int().positive().optional(),
    notify: z.boolean().optional(),
    message: z.string().max(MAX_MESSAGE_LENGTH, `the message is longer than ${MAX_MESSAGE_LENGTH} characters`).optional(),
  })
  .strict();
export type CreateAssignment = z.infer<typeof CreateAssignment>;

export const UpdateAssignment = z
  .object({
    due_at: z.string().min(1).optional(),
    cutoff_at: z.string().min(1).optional(),
    description: z.string().max(10_000).optional(),
    handback_visible: z.boolean().optional(),
  })
  .strict();
export type UpdateAssignment = z.infer<typeof UpdateAssignment>;

export const ExtendRequest = z.object({ student: z.string().min(1).max(320), until: z.string().min(1) }).strict();
export type ExtendRequest = z.infer<typeof ExtendRequest>;

export const AssignmentStatus = z.enum(['scheduled', 'released', 'cancelled']);
export type AssignmentStatus = z.infer<typeof AssignmentStatus>;

export const AssignmentView = z.object({
  slug: z.string(),
  name: z.string(),
  description: z.string(),
  org_slug: z.string(),
  space_slug: z.string(),
  source: z.string(),
  snapshot: z.string(),
  handin: z.array(z.string()),
  targets: z.string(),
  status: AssignmentStatus,
  timezone: z.string(),
  /** Times in the assignment's zone, with the offset (`2027-03-28T23:59:00+02:00 Europe/Zurich`); `*_utc` as stored. */
  release_at: z.string().nullable(),
  due_at: z.string(),
  cutoff_at: z.string().nullable(),
  release_at_utc: z.string().nullable(),
  due_at_utc: z.string(),
  cutoff_at_utc: z.string().nullable(),
  late_policy: LatePolicy,
  size_limit_bytes: z.number().int().nullable(),
  handback_visible: z.boolean(),
  task_id: z.string(),
  created_by: z.string(),
  created_at: z.string(),
});
export type AssignmentView = z.infer<typeof AssignmentView>;

/** A student's place in the status grid. */
export const StudentState = z.enum(['scheduled', 'open', 'extended', 'handed in', 'late', 'auto-collected', 'missed', 'feedback stored', 'feedback released', 'cancelled']);
export type StudentState = z.infer<typeof StudentState>;

export const StudentStatusRow = z.object({
  student: z.string().nullable(),
  instance: z.string(),
  state: StudentState,
  latest_version: z.number().int().nullable(),
  handed_in_at: z.string().nullable(),
  sha256: z.string().nullable(),
  late: z.boolean(),
  auto_collected: z.boolean(),
  effective_deadline: z.string(),
  extended_until: z.string().nullable(),
  feedback: z.enum(['none', 'stored', 'released']),
});
export type StudentStatusRow = z.infer<typeof StudentStatusRow>;

export const ManifestFile = z.object({ path: z.string(), size: z.number().int().nonnegative(), sha256: z.string() });
export type ManifestFile = z.infer<typeof ManifestFile>;

/** What a student (or the collector) gets back: which version, when, and the hash that proves it. */
export const HandinReceipt = z.object({
  assignment: z.string(),
  student: z.string().nullable(),
  instance: z.string(),
  version: z.number().int().positive(),
  handed_in_at: z.string(),
  sha256: z.string(),
  files: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  late: z.boolean(),
  auto_collected: z.boolean(),
  identifier: z.string().nullable(),
});
export type HandinReceipt = z.infer<typeof HandinReceipt>;

export const HandinView = HandinReceipt.extend({ graded: z.boolean(), manifest: z.array(ManifestFile).optional() });
export type HandinView = z.infer<typeof HandinView>;

export const SubmitHandin = z.object({ identifier: z.string().max(200).optional(), instance: InstanceRef.optional() }).strict();
export type SubmitHandin = z.infer<typeof SubmitHandin>;

/** A file already uploaded for feedback (`PUT …/feedback/files`), placed at `path` in the hand-back folder. */
export const FeedbackFileRef = z.object({ path: z.string().min(1).max(4096), sha256: z.string().regex(/^[0-9a-f]{64}$/), size: z.number().int().nonnegative() }).strict();
export type FeedbackFileRef = z.infer<typeof FeedbackFileRef>;

export const PutFeedback = z
  .object({
    student: z.string().min(1).max(320),
    /** The hand-in version it is about (default: the graded one). */
    version: z.number().int().positive().optional(),
    grade: z.string().max(200).optional(),
    comment: z.string().max(MAX_MESSAGE_LENGTH).optional(),
    files: z.array(FeedbackFileRef).max(1000).optional(),
  })
  .strict();
export type PutFeedback = z.infer<typeof PutFeedback>;

export const FeedbackView = z.object({
  assignment: z.string(),
  student: z.string().nullable(),
  instance: z.string(),
  handin_version: z.number().int(),
  version: z.number().int(),
  grade: z.string().nullable(),
  comment: z.string().nullable(),
  files: z.array(z.object({ path: z.string(), size: z.number().int(), sha256: z.string() })),
  created_at: z.string(),
  released_at: z.string().nullable(),
});
export type FeedbackView = z.infer<typeof FeedbackView>;

export const ReleaseFeedback = z.object({ students: z.array(z.string().min(1).max(320)).max(5000).optional() }).strict();
export type ReleaseFeedback = z.infer<typeof ReleaseFeedback>;

export const GradeRow = z.object({
  student: z.string().nullable(),
  instance: z.string(),
  graded_version: z.number().int().nullable(),
  handed_in_at: z.string().nullable(),
  late: z.boolean(),
  auto_collected: z.boolean(),
  sha256: z.string().nullable(),
  grade: z.string().nullable(),
  comment: z.string().nullable(),
  feedback_version: z.number().int().nullable(),
  feedback_released: z.boolean(),
});
export type GradeRow = z.infer<typeof GradeRow>;
