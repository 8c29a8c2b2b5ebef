import { PartialContext } from '../../src/domain/context';
import { configFileSchema, contextSchema, plainConfigFile, plainContext } from '../../src/cli/settings-check';

// The CLI accepts a plainly valid context or config file without loading zod. These checks must never
// accept what the domain's schema refuses, and must return exactly what the schema would.

const contexts: unknown[] = [
  {},
  { org_slug: 'uni' },
  { org_slug: 'uni', space_slug: 'stats101' },
  { org_slug: 'uni', space_slug: 'stats_101', instance_slug: 'master-copy' },
  { instance_slug: 'ada' },
  { org_slug: 'a'.repeat(63) },
  { org_slug: 'a'.repeat(64) },
  { org_slug: 'Uni' },
  { org_slug: '-uni' },
  { org_slug: '' },
  { org_slug: 'uni', colour: 'red' },
  { org_slug: 7 },
  { org_slug: null },
  { org_slug: ['uni'] },
  JSON.parse('{"__proto__": {"org_slug": "x"}}'),
  [],
  ['uni'],
  'uni',
  42,
  null,
  true,
];

const configs: unknown[] = [
  {},
  { api_key: 'hk_abc' },
  { api_url: 'http://127.0.0.1:8080', api_key: 'hk_abc' },
  { api_key: 'hk_abc', context: { org_slug: 'uni', space_slug: 'stats' } },
  { context: {} },
  { api_key: 'hk_abc', theme: 'dark', nested: { x: 1 } },
  { api_key: 42 },
  { api_url: null },
  { context: { org_slug: 'Bad Slug' } },
  { context: { org_slug: 'uni', extra: 1 } },
  { context: 'uni' },
  { context: null },
  ['api_key'],
  'api_key: x',
  null,
];

describe('the CLI settings checks without zod', () => {
  it('uses the domain schema of a context when it asks the schema', () => {
    expect(contextSchema()).toBe(PartialContext);
  });

  it.each(contexts.map((c) => [JSON.stringify(c), c]))('a context %s: accepted only as the schema accepts it, with the same value', (_name, value) => {
    const schema = contextSchema().safeParse(value);
    const plain = plainContext(value);
    if (plain === undefined) return; // the schema decides, and explains
    expect(schema.success).toBe(true);
    expect(plain).toEqual(schema.data);
    expect(Object.keys(plain)).toEqual(Object.keys(schema.data!));
  });

  it.each(configs.map((c) => [JSON.stringify(c), c]))('a config file %s: accepted only as the schema accepts it, with the same value', (_name, value) => {
    const schema = configFileSchema().safeParse(value);
    const plain = plainConfigFile(value);
    if (plain === undefined) return;
    expect(schema.success).toBe(true);
    expect(plain).toEqual(schema.data);
    expect(Object.keys(plain)).toEqual(Object.keys(schema.data!)); // the order the config file is written back in
  });

  it('takes the fast path for every valid example (so a usual command never loads zod)', () => {
    const valid = (values: unknown[], schema: { safeParse(v: unknown): { success: boolean } }) => values.filter((v) => schema.safeParse(v).success);
    expect(valid(contexts, contextSchema()).every((c) => plainContext(c) !== undefined)).toBe(true);
    expect(valid(configs, configFileSchema()).every((c) => plainConfigFile(c) !== undefined)).toBe(true);
  });
});
