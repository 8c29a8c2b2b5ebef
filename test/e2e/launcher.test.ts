import { spawn } from 'node:child_process';
import { readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/catalog';
import { json, startFakeApi, TEST_TLS_CERT, type FakeApi } from '../helpers/fake-api';

// `bin/handout`, the command npm links, starts a client command's Node without NODE_EXTRA_CA_CERTS
// (Node 20 parses every bundled certificate at start when it is set) and lets the CLI trust that
// file itself. Node warns at start about an unreadable NODE_EXTRA_CA_CERTS: that warning shows
// whether the variable reached Node's start.
const BIN_DIR = join(__dirname, '..', '..', 'bin');
const NODE_START_WARNING = /Warning: Ignoring extra certs from `[^`]*missing\.pem`, load failed/;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { PATH: process.env.PATH, HOME: env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the handout launcher (bin/handout)', () => {
  let dir: string;
  let linked: string;
  let api: FakeApi;
  let missing: string;
  let caFile: string;
  const version = (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;

  beforeAll(async () => {
    dir = tempDir('launcher');
    // As npm links a package's bin: a symlink elsewhere, which the launcher resolves to find handout.js.
    linked = join(dir, 'handout');
    symlinkSync(join(BIN_DIR, 'handout'), linked);
    missing = join(dir, 'missing.pem');
    caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, TEST_TLS_CERT);
    api = await startFakeApi({ tls: true });
    api.answer((req, res) => json(res, 200, [{ id: 'u1', email: 'ada@example.org', name: 'Ada', is_admin: true, path: req.url }]));
  });
  afterAll(async () => {
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts a client command without NODE_EXTRA_CA_CERTS, where node bin/handout.js reads it at start', async () => {
    const env = { HOME: dir, NODE_EXTRA_CA_CERTS: missing };
    const direct = await run(process.execPath, [join(BIN_DIR, 'handout.js'), '--version'], env);
    expect(direct).toMatchObject({ code: 0, stdout: `${version}\n` });
    expect(direct.stderr).toMatch(NODE_START_WARNING);

    // Run where it lies, and through a symlink as npm links it.
    for (const command of [join(BIN_DIR, 'handout'), linked]) {
      const launched = await run(command, ['--version'], env);
      expect(launched).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    }
  });

  it('starts `handout up` with NODE_EXTRA_CA_CERTS as set, since the server takes its TLS defaults from it', async () => {
    const launched = await run(linked, ['up', '--help'], { HOME: dir, NODE_EXTRA_CA_CERTS: missing });
    expect(launched.code).toBe(0);
    expect(launched.stdout).toMatch(/^Usage: handout up/);
    expect(launched.stderr).toMatch(NODE_START_WARNING);
  });

  it('reaches an https API whose certificate only NODE_EXTRA_CA_CERTS trusts, and refuses it without', async () => {
    const env = { HOME: dir, HANDOUT_API_URL: api.url, HANDOUT_API_KEY: 'hk_launcher', HANDOUT_CONFIG: join(dir, 'cli.yaml') };
    const trusted = await run(linked, ['users', 'list', '-f', 'json'], { ...env, NODE_EXTRA_CA_CERTS: caFile });
    expect(trusted.stderr).toBe('');
    expect(trusted.code).toBe(0);
    expect(JSON.parse(trusted.stdout)).toEqual([{ id: 'u1', email: 'ada@example.org', name: 'Ada', is_admin: true, path: '/api/v1/users' }]);

    const untrusted = await run(linked, ['users', 'list', '-f', 'json'], env);
    expect(untrusted.code).toBe(1);
    expect(untrusted.stdout).toBe('');
    expect(untrusted.stderr).toMatch(/^Error: cannot reach the Handout API at https:\/\/127\.0\.0\.1:\d+ \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)\)/);
  });
});
