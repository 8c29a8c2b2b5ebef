import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { InstanceRef, PartialContext } from '../domain/context';
import { CliError } from './errors';
import { configFileSchema, contextSchema, plainConfigFile, plainContext, SLUG_PATTERN, type ConfigFile } from './settings-check';

// Where the CLI finds its API URL, API key and context: flags, then environment, then ~/.handout/config.yaml.

export const DEFAULT_API_URL = 'http://127.0.0.1:8080';

/** yaml costs ~30 ms to load: only a command that finds a config file (or writes one) pays for it. */
const yaml = () => require('yaml') as typeof import('yaml');

export function configPath(env = process.env): string {
  return env.HANDOUT_CONFIG || join(env.HOME || homedir(), '.handout', 'config.yaml');
}

export function readConfigFile(env = process.env): ConfigFile {
  const path = configPath(env);
  if (!existsSync(path)) return {};
  let raw: unknown;
  try {
    raw = yaml().parse(readFileSync(path, 'utf8')) ?? {};
  } catch (err) {
    throw new CliError(`the config file ${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const plain = plainConfigFile(raw);
  if (plain) return plain;
  const parsed = configFileSchema().safeParse(raw);
  if (!parsed.success) throw new CliError(`the config file ${path} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** Merges settings into the config file, which holds a secret and so is readable by its owner only. */
export function writeConfigFile(update: Partial<ConfigFile>, env = process.env): string {
  const path = configPath(env);
  const merged = { ...readConfigFile(env), ...update };
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, yaml().stringify(merged), { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

export function resolveApiUrl(env = process.env): string {
  return (env.HANDOUT_API_URL || readConfigFile(env).api_url || DEFAULT_API_URL).replace(/\/+$/, '');
}

export function resolveApiKey(env = process.env): string {
  const key = env.HANDOUT_API_KEY || readConfigFile(env).api_key;
  if (!key) {
    throw new CliError(`no API key: set the HANDOUT_API_KEY environment variable, or run "handout config --api-key KEY" to store it in ${configPath(env)}`);
  }
  return key;
}

/** The context from HANDOUT_CONTEXT (JSON) or else the config file. */
function ambientContext(env = process.env): PartialContext {
  const raw = env.HANDOUT_CONTEXT;
  if (raw !== undefined && raw.trim() !== '') {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (err) {
      throw new CliError(`HANDOUT_CONTEXT is not valid JSON (${(err as Error).message}); expected e.g. {"org_slug":"my_org","space_slug":"my_space","instance_slug":"my_instance"}`);
    }
    const plain = plainContext(json);
    if (plain) return plain;
    const parsed = contextSchema().safeParse(json);
    if (!parsed.success) {
      throw new CliError(`HANDOUT_CONTEXT is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; ')}`);
    }
    return parsed.data;
  }
  return readConfigFile(env).context ?? {};
}

export interface ContextFlags {
  org?: string;
  space?: string;
  instance?: string;
}

type Level = 'org' | 'space' | 'instance';
type Resolved<L extends Level> = L extends 'org' ? { org_slug: string } : L extends 'space' ? { org_slug: string; space_slug: string } : InstanceRef;

/**
 * The platform's rules: passing --org makes --space and --instance required (as far as the command
 * goes down); passing --space makes --instance required; without flags the context is used whole.
 */
export function resolveContext<L extends Level>(level: L, flags: ContextFlags, env = process.env): Resolved<L> {
  const need: Level[] = level === 'org' ? ['org'] : level === 'space' ? ['org', 'space'] : ['org', 'space', 'instance'];
  const flagName = { org: '-o/--org', space: '-s/--space', instance: '-i/--instance' };
  const given = need.filter((k) => flags[k] !== undefined);
  const first = need.findIndex((k) => flags[k] !== undefined);
  if (first >= 0) {
    const missing = need.slice(first).filter((k) => flags[k] === undefined);
    if (missing.length > 0) {
      throw new CliError(`${flagName[need[first]!]} also needs ${missing.map((k) => flagName[k]).join(' and ')}`);
    }
  }
  // Levels above the first flag given come from the context; the flag and everything below it from flags.
  const ambient = first === 0 ? {} : ambientContext(env);
  const fromAmbient = { org: ambient.org_slug, space: ambient.space_slug, instance: ambient.instance_slug };
  const value: Partial<Record<Level, string>> = {};
  need.forEach((k, i) => {
    value[k] = first >= 0 && i >= first ? flags[k] : fromAmbient[k];
  });
  const missing = need.filter((k) => value[k] === undefined);
  if (missing.length > 0) {
    const hint = given.length === 0 ? ', or set HANDOUT_CONTEXT to {"org_slug":…,"space_slug":…,"instance_slug":…}' : '';
    throw new CliError(`no ${missing.join('/')} given: pass ${missing.map((k) => flagName[k]).join(', ')}${hint}`);
  }
  for (const k of need) {
    if (!SLUG_PATTERN.test(value[k]!)) throw new CliError(`invalid ${k} slug "${value[k]}": use 1–63 characters of a-z, 0-9, "_" and "-"`);
  }
  const out: Record<string, string> = { org_slug: value.org! };
  if (need.includes('space')) out.space_slug = value.space!;
  if (need.includes('instance')) out.instance_slug = value.instance!;
  return out as Resolved<L>;
}
