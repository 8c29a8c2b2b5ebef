import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliError } from '../../src/cli/errors';
import { resolveContext } from '../../src/cli/settings';

// Every test passes its own env with HOME in a fresh temp dir, so the real ~/.handout is never read.
let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'handout-context-'));
});
afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});

const context = (value: object) => JSON.stringify(value);
const fullContext = context({ org_slug: 'ctx_org', space_slug: 'ctx_space', instance_slug: 'ctx_inst' });

function cliError(run: () => unknown): CliError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(CliError);
    return err as CliError;
  }
  throw new Error('expected a CliError, but nothing was thrown');
}

describe('resolveContext with flags', () => {
  it('uses -o, -s and -i as given', () => {
    expect(resolveContext('instance', { org: 'uni', space: 'stats', instance: 'alice' }, { HOME: home })).toEqual({
      org_slug: 'uni',
      space_slug: 'stats',
      instance_slug: 'alice',
    });
  });

  it('prefers full flags over the context', () => {
    const env = { HOME: home, HANDOUT_CONTEXT: fullContext };
    expect(resolveContext('instance', { org: 'uni', space: 'stats', instance: 'alice' }, env)).toEqual({
      org_slug: 'uni',
      space_slug: 'stats',
      instance_slug: 'alice',
    });
  });

  it('ignores a malformed HANDOUT_CONTEXT when all flags are given', () => {
    const env = { HOME: home, HANDOUT_CONTEXT: '{not json' };
    expect(resolveContext('instance', { org: 'uni', space: 'stats', instance: 'alice' }, env)).toEqual({
      org_slug: 'uni',
      space_slug: 'stats',
      instance_slug: 'alice',
    });
    expect(resolveContext('org', { org: 'uni' }, env)).toEqual({ org_slug: 'uni' });
  });

  it('requires -s and -i when -o is passed for an instance command', () => {
    const err = cliError(() => resolveContext('instance', { org: 'uni' }, { HOME: home, HANDOUT_CONTEXT: fullContext }));
    expect(err.message).toContain('-o/--org');
    expect(err.message).toContain('-s/--space');
    expect(err.message).toContain('-i/--instance');
  });

  it('requires -s when -o and -i are passed without it', () => {
    const err = cliError(() => resolveContext('instance', { org: 'uni', instance: 'alice' }, { HOME: home, HANDOUT_CONTEXT: fullContext }));
    expect(err.message).toContain('-s/--space');
    expect(err.message).not.toContain('-i/--instance');
  });

  it('requires only -s when -o is passed for a space command', () => {
    const err = cliError(() => resolveContext('space', { org: 'uni' }, { HOME: home, HANDOUT_CONTEXT: fullContext }));
    expect(err.message).toContain('-s/--space');
    expect(err.message).not.toContain('-i/--instance');
    expect(resolveContext('space', { org: 'uni', space: 'stats' }, { HOME: home })).toEqual({ org_slug: 'uni', space_slug: 'stats' });
  });

  it('requires -i when -s is passed alone', () => {
    const err = cliError(() => resolveContext('instance', { space: 'stats' }, { HOME: home, HANDOUT_CONTEXT: fullContext }));
    expect(err.message).toContain('-s/--space');
    expect(err.message).toContain('-i/--instance');
  });

  it('takes the org from the context when -s and -i are passed', () => {
    const env = { HOME: home, HANDOUT_CONTEXT: fullContext };
    expect(resolveContext('instance', { space: 'stats', instance: 'alice' }, env)).toEqual({
      org_slug: 'ctx_org',
      space_slug: 'stats',
      instance_slug: 'alice',
    });
  });

  it('takes the org and space from the context when -i is passed alone', () => {
    const env = { HOME: home, HANDOUT_CONTEXT: context({ org_slug: 'ctx_org', space_slug: 'ctx_space' }) };
    expect(resolveContext('instance', { instance: 'bob' }, env)).toEqual({
      org_slug: 'ctx_org',
      space_slug: 'ctx_space',
      instance_slug: 'bob',
    });
  });

  it('fails with -i alone when the context has no space', () => {
    const env = { HOME: home, HANDOUT_CONTEXT: context({ org_slug: 'ctx_org' }) };
    const err = cliError(() => resolveContext('instance', { instance: 'bob' }, env));
    expect(err.message).toMatch(/space/);
    expect(err.message).toContain('-s/--space');
  });

  it('rejects a flag that is not a valid slug', () => {
    const err = cliError(() => resolveContext('instance', { org: 'Uni', space: 'stats', instance: 'alice' }, { HOME: home }));
    expect(err.message).toContain('invalid org slug "Uni"');
  });
});

describe('resolveContext from the context alone', () => {
  it('uses HANDOUT_CONTEXT whole when no flags are given', () => {
    expect(resolveContext('instance', {}, { HOME: home, HANDOUT_CONTEXT: fullContext })).toEqual({
      org_slug: 'ctx_org',
      space_slug: 'ctx_space',
      instance_slug: 'ctx_inst',
    });
  });

  it('returns only the levels the command needs', () => {
    const env = { HOME: home, HANDOUT_CONTEXT: fullContext };
    expect(resolveContext('org', {}, env)).toEqual({ org_slug: 'ctx_org' });
    expect(resolveContext('space', {}, env)).toEqual({ org_slug: 'ctx_org', space_slug: 'ctx_space' });
  });

  it('reports malformed HANDOUT_CONTEXT JSON as a CliError naming the variable', () => {
    const err = cliError(() => resolveContext('instance', {}, { HOME: home, HANDOUT_CONTEXT: '{"org_slug": "uni",' }));
    expect(err.message).toContain('HANDOUT_CONTEXT');
    expect(err.message).toMatch(/not valid JSON/);
  });

  it('rejects a HANDOUT_CONTEXT with an invalid slug', () => {
    const env = { HOME: home, HANDOUT_CONTEXT: context({ org_slug: 'My Org', space_slug: 'stats', instance_slug: 'alice' }) };
    const err = cliError(() => resolveContext('instance', {}, env));
    expect(err.message).toContain('HANDOUT_CONTEXT');
    expect(err.message).toContain('org_slug');
  });

  it('rejects a HANDOUT_CONTEXT with an unknown key', () => {
    const env = { HOME: home, HANDOUT_CONTEXT: context({ org: 'uni' }) };
    expect(cliError(() => resolveContext('org', {}, env)).message).toContain('HANDOUT_CONTEXT');
  });

  it('names the flags and HANDOUT_CONTEXT when there are no flags and no context', () => {
    const err = cliError(() => resolveContext('instance', {}, { HOME: home }));
    expect(err.message).toContain('-o/--org');
    expect(err.message).toContain('-s/--space');
    expect(err.message).toContain('-i/--instance');
    expect(err.message).toContain('HANDOUT_CONTEXT');
  });

  it('treats an empty HANDOUT_CONTEXT as unset', () => {
    const err = cliError(() => resolveContext('org', {}, { HOME: home, HANDOUT_CONTEXT: '   ' }));
    expect(err.message).toContain('-o/--org');
  });
});

describe('resolveContext from the config file', () => {
  function writeConfig(path: string, yaml: string) {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, yaml);
  }

  it('uses the context in ~/.handout/config.yaml when HANDOUT_CONTEXT is unset', () => {
    writeConfig(join(home, '.handout', 'config.yaml'), 'context:\n  org_slug: file_org\n  space_slug: file_space\n  instance_slug: file_inst\n');
    expect(resolveContext('instance', {}, { HOME: home })).toEqual({
      org_slug: 'file_org',
      space_slug: 'file_space',
      instance_slug: 'file_inst',
    });
  });

  it('uses the file named by HANDOUT_CONFIG', () => {
    const path = join(home, 'elsewhere', 'handout.yaml');
    writeConfig(path, 'context:\n  org_slug: cfg_org\n  space_slug: cfg_space\n');
    expect(resolveContext('instance', { instance: 'carol' }, { HOME: home, HANDOUT_CONFIG: path })).toEqual({
      org_slug: 'cfg_org',
      space_slug: 'cfg_space',
      instance_slug: 'carol',
    });
  });

  it('prefers HANDOUT_CONTEXT over the config file', () => {
    writeConfig(join(home, '.handout', 'config.yaml'), 'context:\n  org_slug: file_org\n');
    expect(resolveContext('org', {}, { HOME: home, HANDOUT_CONTEXT: context({ org_slug: 'env_org' }) })).toEqual({ org_slug: 'env_org' });
  });

  it('rejects a config file context with an invalid slug, naming the file', () => {
    const path = join(home, '.handout', 'config.yaml');
    writeConfig(path, 'context:\n  org_slug: Not A Slug\n');
    const err = cliError(() => resolveContext('org', {}, { HOME: home }));
    expect(err.message).toContain(path);
    expect(err.message).toContain('context.org_slug');
  });
});
