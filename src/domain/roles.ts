import { z } from 'zod';

/** Roles a user can hold. A space admin manages everything in the space; editors change an instance; viewers read it. */
export const Role = z.enum(['space_admin', 'instance_editor', 'instance_viewer']);
export type Role = z.infer<typeof Role>;

/** What an action needs on an instance, weakest first. */
export const InstanceAccess = z.enum(['viewer', 'editor']);
export type InstanceAccess = z.infer<typeof InstanceAccess>;

