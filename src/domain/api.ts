import { z } from 'zod';
import { Description, DisplayName, Slug } from './slugs';
import { Role } from './roles';
import { TaskStatus } from './tasks';

// Request and response contracts of the HTTP API (`/api/v1`). The CLI and the server share them.

export const OrgView = z.object({ slug: z.string(), name: z.string(), created_at: z.string() });
export type OrgView = z.infer<typeof OrgView>;
export const CreateOrg = z.object({ slug: Slug, name: DisplayName.optional() }).strict();
export type CreateOrg = z.infer<typeof CreateOrg>;

export const SpaceView = z.object({ org_slug: z.string(), slug: z.string(), name: z.string(), description: z.string(), created_at: z.string() });
export type SpaceView = z.infer<typeof SpaceView>;
export const CreateSpace = z.object({ slug: Slug, name: DisplayName.optional(), description: Description.optional() }).strict();
export type CreateSpace = z.infer<typeof CreateSpace>;

export const InstanceView = z.object({
  org_slug: z.string(),
  space_slug: z.string(),
  slug: z.string(),
  name: z.string(),
  description: z.string(),
  status: z.enum(['provisioning', 'ready']),
  /** `students` for a student's own instance (group distributions reach it), else null. */
  group: z.enum(['students']).nullable(),
  /** E-mail of the student whose instance this is, if any. */
  owner: z.string().nullable(),
  created_at: z.string(),
});
export type InstanceView = z.infer<typeof InstanceView>;
/**
 * `instances create -n NAME [--slug SLUG] [-d DESCRIPTION] [--student EMAIL]`; the slug defaults to one
 * derived from the name. `student` makes it that student's own instance, in the space's student group.
 */
export const CreateInstance = z.object({ name: DisplayName, slug: Slug.optional(), description: Description.optional(), student: z.email().optional() }).strict();
export type CreateInstance = z.infer<typeof CreateInstance>;
export const TaskStarted = z.object({ task_id: z.string(), status: TaskStatus, web_ui_url: z.string().nullable() });
export type TaskStarted = z.infer<typeof TaskStarted>;

export const UserView = z.object({ id: z.string(), email: z.string(), name: z.string(), is_admin: z.boolean(), created_at: z.string() });
export type UserView = z.infer<typeof UserView>;
export const CreateUser = z.object({ email: z.email(), name: DisplayName, is_admin: z.boolean().optional() }).strict();
export type CreateUser = z.infer<typeof CreateUser>;

export const KeyView = z.object({
  id: z.string(),
  user_email: z.string(),
  label: z.string(),
  prefix: z.string(),
  created_at: z.string(),
  expires_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
});
export type KeyView = z.infer<typeof KeyView>;
/** A key may carry an expiry (e.g. the end of a semester); at that moment it stops working and the audit log says so. */
export const CreateKey = z
  .object({ user_email: z.email(), label: z.string().max(200).optional(), expires_at: z.iso.datetime({ offset: true }).optional() })
  .strict();
export type CreateKey = z.infer<typeof CreateKey>;
/** The only time a key's secret is ever returned. */
export const CreatedKey = KeyView.extend({ api_key: z.string() });
export type CreatedKey = z.infer<typeof CreatedKey>;

export const GrantView = z.object({
  user_email: z.string(),
  role: Role,
  org_slug: z.string(),
  space_slug: z.string(),
  instance_slug: z.string().nullable(),
  created_at: z.string(),
});
export type GrantView = z.infer<typeof GrantView>;
export const GrantRequest = z
  .object({ user_email: z.email(), role: Role, org_slug: Slug, space_slug: Slug, instance_slug: Slug.optional() })
  .strict()
  .refine((g) => (g.role === 'space_admin') === (g.instance_slug === undefined), {
    message: 'space_admin is granted on a space (no instance); instance_editor and instance_viewer need an instance',
  });
export type GrantRequest = z.infer<typeof GrantRequest>;
export const GrantFilter = z.object({ user_email: z.string().optional(), org_slug: Slug.optional(), space_slug: Slug.optional() });
export type GrantFilter = z.infer<typeof GrantFilter>;

export const InfoView = z.object({
  version: z.string(),
  user: UserView,
  temporal_namespace: z.string(),
  temporal_web_ui: z.string().nullable(),
  grants: z.array(GrantView),
});
export type InfoView = z.infer<typeof InfoView>;

export const TaskListQuery = z.object({
  status: TaskStatus.optional(),
  limit: z.coerce.number().int().positive().max(1000).optional(),
});
export type TaskListQuery = z.infer<typeof TaskListQuery>;
