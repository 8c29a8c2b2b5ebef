import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { CliError } from '../../src/cli/errors';
import { configPath, DEFAULT_API_URL, resolveApiKey, resolveApiUrl, writeConfigFile } from '../../src/cli/settings';

// Every test points HOME (or HANDOUT_CONFIG) at a fresh temp dir; the real home is never touched.
let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'handout-settings-'));
});
afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});

const defaultPath = () => join(home, '.handout', 'config.yaml');

function writeConfig(yaml: string, path = defaultPath()) {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, yaml);
}

describe('configPath', () => {
  it('is ~/.handout/config.yaml under HOME, or HANDOUT_CONFIG when set', () => {
    expect(configPath({ HOME: home })).toBe(defaultPath());
    expect(configPath({ HOME: home, HANDOUT_CONFIG: '/some/where.yaml' })).toBe('/some/where.yaml');
  });
});

describe('resolveApiKey', () => {
  it('takes the key from HANDOUT_API_KEY over the config file', () => {
    writeConfig('api_key: from-file\n');
    expect(resolveApiKey({ HOME: home, HANDOUT_API_KEY: 'from-env' })).toBe('from-env');
  });

  it('falls back to the config file', () => {
    writeConfig('api_key: from-file\n');
    expect(resolveApiKey({ HOME: home })).toBe('from-file');
  });

  it('reads the file named by HANDOUT_CONFIG', () => {
    const path = join(home, 'custom.yaml');
    writeConfig('api_key: custom-key\n', path);
    expect(resolveApiKey({ HOME: home, HANDOUT_CONFIG: path })).toBe('custom-key');
  });

  it('fails with a CliError naming HANDOUT_API_KEY and `handout config --api-key` when there is no key', () => {
    let caught: unknown;
    try {
      resolveApiKey({ HOME: home });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CliError);
    const message = (caught as Error).message;
    expect(message).toContain('HANDOUT_API_KEY');
    expect(message).toContain('handout config --api-key');
    expect(message).toContain(defaultPath());
  });

  it('treats an empty HANDOUT_API_KEY as unset', () => {
    expect(() => resolveApiKey({ HOME: home, HANDOUT_API_KEY: '' })).toThrow(/HANDOUT_API_KEY/);
  });

  it('reports a config file that is not valid YAML', () => {
    writeConfig('api_key: [unclosed\n');
    expect(() => resolveApiKey({ HOME: home })).toThrow(CliError);
    expect(() => resolveApiKey({ HOME: home })).toThrow(/not valid YAML/);
  });
});

describe('resolveApiUrl', () => {
  it('defaults to http://127.0.0.1:8080 without environment or config file', () => {
    expect(DEFAULT_API_URL).toBe('http://127.0.0.1:8080');
    expect(resolveApiUrl({ HOME: home })).toBe('http://127.0.0.1:8080');
  });

  it('takes HANDOUT_API_URL over the config file, without trailing slashes', () => {
    writeConfig('api_url: http://file.example:9000\n');
    expect(resolveApiUrl({ HOME: home, HANDOUT_API_URL: 'https://env.example/api//' })).toBe('https://env.example/api');
  });

  it('falls back to the config file', () => {
    writeConfig('api_url: http://file.example:9000/\n');
    expect(resolveApiUrl({ HOME: home })).toBe('http://file.example:9000');
  });
});

describe('writeConfigFile', () => {
  it('creates the file (and its folder) readable by its owner only', () => {
    const env = { HOME: home };
    const path = writeConfigFile({ api_key: 'secret-1' }, env);
    expect(path).toBe(defaultPath());
    expect(existsSync(path)).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, '.handout')).mode & 0o777).toBe(0o700);
    expect(YAML.parse(readFileSync(path, 'utf8'))).toEqual({ api_key: 'secret-1' });
    expect(resolveApiKey(env)).toBe('secret-1');
  });

  it('tightens the mode of an existing, world-readable file', () => {
    writeConfig('api_url: http://x\n');
    const path = defaultPath();
    chmodSync(path, 0o644);
    writeConfigFile({ api_key: 'k' }, { HOME: home });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(YAML.parse(readFileSync(path, 'utf8'))).toEqual({ api_url: 'http://x', api_key: 'k' });
  });

  it('merges new keys into what the file already holds', () => {
    const env = { HOME: home };
    writeConfigFile({ api_url: 'http://server:8080' }, env);
    writeConfigFile({ api_key: 'k-2' }, env);
    writeConfigFile({ context: { org_slug: 'uni', space_slug: 'stats' } }, env);
    expect(YAML.parse(readFileSync(defaultPath(), 'utf8'))).toEqual({
      api_url: 'http://server:8080',
      api_key: 'k-2',
      context: { org_slug: 'uni', space_slug: 'stats' },
    });
    expect(resolveApiUrl(env)).toBe('http://server:8080');
  });

  it('replaces a key that is written again', () => {
    const env = { HOME: home };
    writeConfigFile({ api_key: 'old' }, env);
    writeConfigFile({ api_key: 'new' }, env);
    expect(resolveApiKey(env)).toBe('new');
  });

  it('writes to HANDOUT_CONFIG when set', () => {
    const path = join(home, 'nested', 'dir', 'cfg.yaml');
    expect(writeConfigFile({ api_key: 'k' }, { HOME: home, HANDOUT_CONFIG: path })).toBe(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(existsSync(defaultPath())).toBe(false);
  });
});
