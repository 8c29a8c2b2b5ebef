import { z } from 'zod';
import { Slug } from './slugs';

/** The address of an instance, as the platform's CLI writes it in `--targets` and the context variable. */
export const InstanceRef = z.object({ org_slug: Slug, space_slug: Slug, instance_slug: Slug }).strict();
export type InstanceRef = z.infer<typeof InstanceRef>;

/** A context as read from `HANDOUT_CONTEXT` or the config file: any prefix of org → space → instance. */
export const PartialContext = z
  .object({ org_slug: Slug.optional(), space_slug: Slug.optional(), instance_slug: Slug.optional() })
  .strict();
export type PartialContext = z.infer<typeof PartialContext>;
