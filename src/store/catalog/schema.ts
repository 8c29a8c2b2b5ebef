import { sql } from 'drizzle-orm';
import { bigint, boolean, index, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

// The catalog (control plane). One schema for PGlite and PostgreSQL; migrations are generated from it.

const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow();

export const orgs = pgTable('orgs', {
  id: uuid('id').primaryKey(),
  slug: text('slug').notNull().unique(),
  name: text('name').notNull(),
  createdAt: createdAt(),
});

export const spaces = pgTable(
  'spaces',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id').notNull().references(() => orgs.id),
    slug: text('slug').notNull(),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('spaces_org_slug').on(t.orgId, t.slug)],
);

export const instances = pgTable(
  'instances',
  {
    id: uuid('id').primaryKey(),
    spaceId: uuid('space_id').notNull().references(() => spaces.id),
    slug: text('slug').notNull(),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    /** `provisioning` until its storage exists; only `ready` instances take content. */
    status: text('status', { enum: ['provisioning', 'ready'] }).notNull(),
    /** `students` for a student's own instance: group distributions reach it, also when it joins late. */
    group: text('group', { enum: ['students'] }),
    /** The user whose workspace this is (a student's instance), if any. */
    ownerId: uuid('owner_id').references(() => users.id),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('instances_space_slug').on(t.spaceId, t.slug)],
);

export const users = pgTable('users', {
  id: uuid('id').primaryKey(),
  email: text('email').notNull().unique(),
  name: text('name').notNull(),
  isAdmin: boolean('is_admin').notNull().default(false),
  createdAt: createdAt(),
});

export const apiKeys = pgTable('api_keys', {
  id: uuid('id').primaryKey(),
  userId: uuid('user_id').notNull().references(() => users.id),
  label: text('label').notNull().default(''),
  /** The first characters of the key, shown in listings so a user can tell keys apart. */
  prefix: text('prefix').notNull(),
  /** sha256 of the whole key; the key itself is never stored. */
  keyHash: text('key_hash').notNull().unique(),
  createdAt: createdAt(),
  /** After this time the key no longer authenticates (null: never expires). */
  expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }),
  revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
});

export const roleGrants = pgTable(
  'role_grants',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id').notNull().references(() => users.id),
    role: text('role', { enum: ['space_admin', 'instance_editor', 'instance_viewer'] }).notNull(),
    spaceId: uuid('space_id').notNull().references(() => spaces.id),
    /** Null for space roles; set for instance roles. */
    instanceId: uuid('instance_id').references(() => instances.id),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('role_grants_unique').on(t.userId, t.role, t.spaceId, sql`coalesce(${t.instanceId}, '00000000-0000-0000-0000-000000000000'::uuid)`),
    index('role_grants_user').on(t.userId),
  ],
);

export const tasks = pgTable(
  'tasks',
  {
    /** The Temporal workflow id. */
    id: text('id').primaryKey(),
    kind: text('kind').notNull(),
    subject: text('subject').notNull(),
    spaceId: uuid('space_id').references(() => spaces.id),
    createdBy: uuid('created_by').notNull().references(() => users.id),
    createdAt: createdAt(),
  },
  (t) => [index('tasks_created_at').on(t.createdAt), index('tasks_space').on(t.spaceId)],
);

export const auditEvents = pgTable(
  'audit_events',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey(),
    /** Server time as ISO-8601 text, exactly the string that was hashed. */
    at: text('at').notNull(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    subject: text('subject').notNull(),
    details: jsonb('details').notNull(),
    contentHashes: jsonb('content_hashes').notNull(),
    taskId: text('task_id'),
    /** Makes appends idempotent: a retried activity presents the same key and gets the first event back. */
    eventKey: text('event_key').notNull().unique(),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
  },
  (t) => [index('audit_events_subject').on(t.subject), index('audit_events_actor').on(t.actor), index('audit_events_at').on(t.at)],
);

/** Application configs of an instance's current state (snapshots carry copies in their snapshot object). */
export const apps = pgTable(
  'apps',
  {
    id: uuid('id').primaryKey(),
    instanceId: uuid('instance_id').notNull().references(() => instances.id),
    slug: text('slug').notNull(),
    name: text('name').notNull(),
    baseImage: text('base_image').notNull(),
    packages: jsonb('packages').$type<string[]>().notNull(),
    env: jsonb('env').$type<{ name: string; value: string; license_related: boolean }[]>().notNull(),
    startupCommand: text('startup_command').notNull(),
    licensed: boolean('licensed').notNull(),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('apps_instance_slug').on(t.instanceId, t.slug)],
);

/**
 * Committed snapshots. A row is inserted only once every blob of the snapshot is stored, so a
 * half-written snapshot is never visible; the row points at the snapshot object blob.
 */
export const snapshots = pgTable(
  'snapshots',
  {
    id: uuid('id').primaryKey(),
    instanceId: uuid('instance_id').notNull().references(() => instances.id),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    kind: text('kind', { enum: ['user', 'safety', 'staging'] }).notNull(),
    objectSha256: text('object_sha256').notNull(),
    filesTree: text('files_tree').notNull(),
    fileCount: bigint('file_count', { mode: 'number' }).notNull(),
    byteCount: bigint('byte_count', { mode: 'number' }).notNull(),
    tableCount: bigint('table_count', { mode: 'number' }).notNull(),
    appCount: bigint('app_count', { mode: 'number' }).notNull(),
    taskId: text('task_id'),
    createdBy: uuid('created_by').notNull().references(() => users.id),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('snapshots_instance_name').on(t.instanceId, t.name), index('snapshots_instance').on(t.instanceId)],
);

/**
 * One row per distribution task. `stage_object_sha256` is set once the stage is built (it keeps the
 * stage's blobs alive for the garbage collector); a group distribution also reaches late joiners.
 */
export const distributions = pgTable(
  'distributions',
  {
    id: uuid('id').primaryKey(),
    taskId: text('task_id').notNull().unique(),
    sourceInstanceId: uuid('source_instance_id').notNull().references(() => instances.id),
    sourceSubject: text('source_subject').notNull(),
    /** The snapshot distributed from (`development` = the current state, frozen by a staging snapshot). */
    sourceSnapshot: text('source_snapshot').notNull(),
    /** The request as validated: selection, strategy, auto_snapshot, notify, message. */
    request: jsonb('request').notNull(),
    /** Space whose student group is a target (late joiners receive this distribution), else null. */
    groupSpaceId: uuid('group_space_id').references(() => spaces.id),
    stageObjectSha256: text('stage_object_sha256'),
    actor: text('actor').notNull(),
    createdBy: uuid('created_by').notNull().references(() => users.id),
    createdAt: createdAt(),
  },
  (t) => [index('distributions_group_space').on(t.groupSpaceId)],
);

/**
 * Notification outbox: one row per mail, keyed so a retried step never queues it twice; `sent_at` is
 * set once the mail has been handed to SMTP (or written to the outbox folder).
 */
export const outboxMails = pgTable(
  'outbox_mails',
  {
    id: uuid('id').primaryKey(),
    mailKey: text('mail_key').notNull().unique(),
    taskId: text('task_id').notNull(),
    recipient: text('recipient').notNull(),
    subject: text('subject').notNull(),
    body: text('body').notNull(),
    createdAt: createdAt(),
    sentAt: timestamp('sent_at', { withTimezone: true, mode: 'date' }),
    /** A sender holds the row until then, so two senders never hand the same mail over at once. */
    claimedUntil: timestamp('claimed_until', { withTimezone: true, mode: 'date' }),
    attempts: bigint('attempts', { mode: 'number' }).notNull().default(0),
    lastError: text('last_error'),
  },
  (t) => [index('outbox_mails_task').on(t.taskId)],
);

/** Assignments: material distributed to students, a deadline in a time zone, hand-in paths, a late policy. */
export const assignments = pgTable(
  'assignments',
  {
    id: uuid('id').primaryKey(),
    spaceId: uuid('space_id').notNull().references(() => spaces.id),
    slug: text('slug').notNull(),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    sourceInstanceId: uuid('source_instance_id').notNull().references(() => instances.id),
    sourceSnapshot: text('source_snapshot').notNull(),
    /** The material: { files, tables, apps } as the distribution takes them. */
    material: jsonb('material').notNull(),
    handinPaths: jsonb('handin_paths').$type<string[]>().notNull(),
    /** true: the space's student group (late joiners included); false: the explicit instances in assignment_students. */
    groupTarget: boolean('group_target').notNull(),
    timezone: text('timezone').notNull(),
    releaseAt: timestamp('release_at', { withTimezone: true, mode: 'date' }),
    dueAt: timestamp('due_at', { withTimezone: true, mode: 'date' }).notNull(),
    latePolicy: text('late_policy', { enum: ['hard', 'accept-late'] }).notNull(),
    cutoffAt: timestamp('cutoff_at', { withTimezone: true, mode: 'date' }),
    sizeLimitBytes: bigint('size_limit_bytes', { mode: 'number' }),
    notify: boolean('notify').notNull(),
    message: text('message').notNull().default(''),
    handbackVisible: boolean('handback_visible').notNull().default(false),
    status: text('status', { enum: ['scheduled', 'released', 'cancelled'] }).notNull(),
    taskId: text('task_id').notNull(),
    actor: text('actor').notNull(),
    createdBy: uuid('created_by').notNull().references(() => users.id),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('assignments_space_slug').on(t.spaceId, t.slug)],
);

/** The students of an assignment (one row per student instance) and their extensions. */
export const assignmentStudents = pgTable(
  'assignment_students',
  {
    assignmentId: uuid('assignment_id').notNull().references(() => assignments.id),
    instanceId: uuid('instance_id').notNull().references(() => instances.id),
    extendedUntil: timestamp('extended_until', { withTimezone: true, mode: 'date' }),
    joinedAt: createdAt(),
  },
  (t) => [uniqueIndex('assignment_students_pk').on(t.assignmentId, t.instanceId)],
);

/** Hand-ins: write-once, versioned per student; the tree and manifest are blobs. */
export const handins = pgTable(
  'handins',
  {
    id: uuid('id').primaryKey(),
    assignmentId: uuid('assignment_id').notNull().references(() => assignments.id),
    instanceId: uuid('instance_id').notNull().references(() => instances.id),
    version: bigint('version', { mode: 'number' }).notNull(),
    handedInAt: timestamp('handed_in_at', { withTimezone: true, mode: 'date' }).notNull(),
    treeSha256: text('tree_sha256').notNull(),
    manifestSha256: text('manifest_sha256').notNull(),
    fileCount: bigint('file_count', { mode: 'number' }).notNull(),
    byteCount: bigint('byte_count', { mode: 'number' }).notNull(),
    late: boolean('late').notNull(),
    autoCollected: boolean('auto_collected').notNull(),
    identifier: text('identifier'),
    actor: text('actor').notNull(),
  },
  (t) => [uniqueIndex('handins_version').on(t.assignmentId, t.instanceId, t.version)],
);

/** Feedback on a hand-in: versioned, hidden from the student until released. */
export const feedback = pgTable(
  'feedback',
  {
    id: uuid('id').primaryKey(),
    assignmentId: uuid('assignment_id').notNull().references(() => assignments.id),
    instanceId: uuid('instance_id').notNull().references(() => instances.id),
    handinVersion: bigint('handin_version', { mode: 'number' }).notNull(),
    version: bigint('version', { mode: 'number' }).notNull(),
    grade: text('grade'),
    comment: text('comment'),
    /** Tree object of the feedback files (null: none). */
    filesTree: text('files_tree'),
    createdBy: uuid('created_by').notNull().references(() => users.id),
    createdAt: createdAt(),
    releasedAt: timestamp('released_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [uniqueIndex('feedback_version').on(t.assignmentId, t.instanceId, t.version)],
);

export const catalogSchema = {
  orgs,
  spaces,
  instances,
  users,
  apiKeys,
  roleGrants,
  tasks,
  auditEvents,
  apps,
  snapshots,
  distributions,
  outboxMails,
  assignments,
  assignmentStudents,
  handins,
  feedback,
};
