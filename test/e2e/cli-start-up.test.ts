import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runHandout } from '../helpers/cli';
import { freePort } from '../helpers/ports';

// Every command starts a fresh Node process, so what it loads is what it waits for. These check what
// the real binary loads (not how long it takes): a command of one topic loads that topic's module and
// none of the heavy ones it does not use (zod, yaml, fetch's undici, TLS, the other topics).

describe('what a handout command loads at start', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'handout-start-up-'));
    // Records, as the process exits, the modules it loaded: files, and Node's own (moduleLoadList).
    writeFileSync(
      join(dir, 'record-modules.js'),
      `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(join(dir, 'modules.json'))}, JSON.stringify([...Object.keys(require.cache), ...process.moduleLoadList])));`,
    );
    env = { HOME: dir, HANDOUT_API_KEY: 'hk_test', HANDOUT_API_URL: `http://127.0.0.1:${await freePort()}`, NODE_OPTIONS: `--require ${join(dir, 'record-modules.js')}` };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function modulesOf(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<string[]> {
    rmSync(join(dir, 'modules.json'), { force: true });
    await runHandout(args, { ...env, ...extraEnv });
    return JSON.parse(readFileSync(join(dir, 'modules.json'), 'utf8')) as string[];
  }
  const commandModules = (loaded: string[]) => loaded.filter((m) => /dist\/cli\/commands\//.test(m)).map((m) => m.replace(/.*\/commands\//, ''));
  const heavy = (loaded: string[]) => loaded.filter((m) => /node_modules\/(zod|yaml|cli-progress)\/|undici|NativeModule (tls|https)$/.test(m));

  it('a snapshots command loads the snapshots topic only, and nothing heavy', async () => {
    const loaded = await modulesOf(['snapshots', 'list', '-o', 'uni', '-s', 'stats', '-i', 'master']);
    expect(commandModules(loaded)).toEqual(['snapshots.js']);
    expect(heavy(loaded)).toEqual([]);
  });

  it('a plainly valid HANDOUT_CONTEXT is read without zod', async () => {
    const loaded = await modulesOf(['tasks', 'list'], { HANDOUT_CONTEXT: '{"org_slug":"uni","space_slug":"stats","instance_slug":"master"}' });
    expect(commandModules(loaded)).toEqual(['tasks.js']);
    expect(heavy(loaded)).toEqual([]);
  });

  it('--version loads no command at all', async () => {
    expect(commandModules(await modulesOf(['--version']))).toEqual([]);
  });

  it('--help and an unknown command load every topic (to list them all)', async () => {
    for (const args of [['--help'], ['snapshot', 'list']]) expect(commandModules(await modulesOf(args)).length).toBeGreaterThanOrEqual(12);
  });

  it('reads a config file with yaml but, when it is plainly valid, without zod', async () => {
    const config = join(dir, 'config.yaml');
    writeFileSync(config, 'api_key: hk_test\ncontext:\n  org_slug: uni\n  space_slug: stats\n  instance_slug: master\n');
    const loaded = await modulesOf(['snapshots', 'list'], { HANDOUT_CONFIG: config, HANDOUT_API_KEY: '' });
    expect(heavy(loaded).map((m) => m.replace(/.*node_modules\/([^/]+)\/.*/, '$1'))).toEqual(expect.arrayContaining(['yaml']));
    expect(heavy(loaded).filter((m) => !/node_modules\/yaml\//.test(m))).toEqual([]);
  });

  it('loads TLS for an https API', async () => {
    const loaded = await modulesOf(['snapshots', 'list', '-o', 'uni', '-s', 'stats', '-i', 'master'], { HANDOUT_API_URL: `https://127.0.0.1:${await freePort()}` });
    expect(heavy(loaded)).toEqual(expect.arrayContaining(['NativeModule https', 'NativeModule tls']));
  });
});
