import type { PartialContext } from '../domain/context';

// The domain's zod schemas are the contract for a context (HANDOUT_CONTEXT, the config file) and the
// config file, but loading zod costs every command ~40 ms. So a value that is plainly valid (the usual
// case) is accepted here without zod, and anything else goes to the schema, which decides and explains.
// Each plain check accepts only what its schema accepts and returns what the schema would return;
// test/unit/cli-settings-check.test.ts holds them side by side.

/** A slug, as `domain/slugs.ts` defines it. */
export const SLUG_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

const CONTEXT_KEYS = ['org_slug', 'space_slug', 'instance_slug'] as const;

/** What `~/.handout/config.yaml` may hold. */
export interface ConfigFile {
  api_key?: string;
  api_url?: string;
  context?: PartialContext;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;

/** The context if it is plainly valid (nothing but slug fields, each a valid slug); undefined: ask the schema. */
export function plainContext(value: unknown): PartialContext | undefined {
  if (!isPlainObject(value) || !Object.keys(value).every((k) => (CONTEXT_KEYS as readonly string[]).includes(k))) return undefined;
  const context: PartialContext = {};
  for (const key of CONTEXT_KEYS) {
    if (!(key in value)) continue;
    const slug = value[key];
    if (typeof slug !== 'string' || !SLUG_PATTERN.test(slug)) return undefined;
    context[key] = slug;
  }
  return context;
}

/** The config file's settings if they are plainly valid (unknown fields dropped, as the schema drops them); undefined: ask the schema. */
export function plainConfigFile(value: unknown): ConfigFile | undefined {
  if (!isPlainObject(value)) return undefined;
  const config: ConfigFile = {};
  for (const key of ['api_key', 'api_url'] as const) {
    if (!(key in value)) continue;
    const text = value[key];
    if (typeof text !== 'string') return undefined;
    config[key] = text;
  }
  if ('context' in value) {
    const context = plainContext(value.context);
    if (!context) return undefined;
    config.context = context;
  }
  return config;
}

/** The zod schema of a context (loads zod). */
export function contextSchema(): typeof import('../domain/context').PartialContext {
  return (require('../domain/context') as typeof import('../domain/context')).PartialContext;
}

/** The zod schema of the config file (loads zod). */
export function configFileSchema() {
  const { z } = require('zod') as typeof import('zod');
  return z.object({ api_key: z.string().optional(), api_url: z.string().optional(), context: contextSchema().optional() });
}
