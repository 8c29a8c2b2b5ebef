import { z } from 'zod';
import type { InstanceRef } from '../../domain/context';

/** Path parameters of every instance-scoped endpoint: /orgs/:org/spaces/:space/instances/:instance/… */
export const InstanceParams = z.object({ org: z.string(), space: z.string(), instance: z.string() });
export type InstanceParams = z.infer<typeof InstanceParams>;

export const refOf = (p: InstanceParams): InstanceRef => ({ org_slug: p.org, space_slug: p.space, instance_slug: p.instance });

export const INSTANCE_PREFIX = '/orgs/:org/spaces/:space/instances/:instance';

/** `?snapshot=NAME`, where `development` (the default) is the current state. */
export const SnapshotQuery = z.object({ snapshot: z.string().default('development') });
