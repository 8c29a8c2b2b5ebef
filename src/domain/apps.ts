import { z } from 'zod';
import { DisplayName, Slug } from './slugs';

/** An environment variable of an app; license-related ones are left out of exports unless asked for. */
export const AppEnvVar = z.object({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'an environment variable name is letters, digits and "_", not starting with a digit'),
  value: z.string().max(32_768),
  license_related: z.boolean().default(false),
});
export type AppEnvVar = z.infer<typeof AppEnvVar>;

const BaseImage = z.string().min(1).max(500);
const Packages = z.array(z.string().min(1).max(500)).max(2000);
const EnvVars = z.array(AppEnvVar).max(500);
const StartupCommand = z.string().max(10_000);

/** An application's configuration: what the platform lets users define and distribute. */
export const AppConfig = z.object({
  slug: Slug,
  name: DisplayName,
  base_image: BaseImage,
  packages: Packages.default([]),
  env: EnvVars.default([]),
  startup_command: StartupCommand.default(''),
  licensed: z.boolean().default(false),
});
export type AppConfig = z.infer<typeof AppConfig>;

/** A new app; without a slug, it is derived from the name, as the platform does (and `instances create`). */
export const CreateApp = AppConfig.extend({ slug: Slug.optional() }).strict();
export type CreateApp = z.input<typeof CreateApp>;
/** Only the fields given change (no defaults here: zod would fill them in and wipe what is stored). */
export const UpdateApp = z
  .object({ name: DisplayName, base_image: BaseImage, packages: Packages, env: EnvVars, startup_command: StartupCommand, licensed: z.boolean() })
  .partial()
  .strict();
export type UpdateApp = z.input<typeof UpdateApp>;

export const AppView = AppConfig.extend({ created_at: z.string(), updated_at: z.string() });
export type AppView = z.infer<typeof AppView>;
