import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { temporalCliPath } from '../../src/runtime/binaries';
import { freePort } from './ports';

/**
 * Starts the one real Temporal dev server that integration and end-to-end tests share (in memory,
 * headless). Test files isolate themselves with their own task queues and data directories.
 */
export default async function globalSetup(): Promise<void> {
  ensureFreshBuild();
  const port = await freePort();
  const child = spawn(temporalCliPath(), ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'error'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // Kept for the error below; not echoed, so the shutdown's expected complaints do not clutter the run.
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  (globalThis as { __temporalDevServer?: typeof child }).__temporalDevServer = child;
  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      await connection.workflowService.describeNamespace({ namespace: 'default' });
      await connection.close();
      break;
    } catch (err) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the test Temporal dev server did not start: ${String(err)}\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  process.env.HANDOUT_TEST_TEMPORAL_ADDRESS = address;
}

/** End-to-end tests run the built binary and every worker the prebuilt bundle: rebuild when src/ is newer. */
function ensureFreshBuild(): void {
  const root = join(__dirname, '..', '..');
  const newest = (dir: string): number =>
    Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)));
  let built = 0;
  try {
    built = statSync(join(root, 'dist', 'workflow-bundle.js')).mtimeMs;
  } catch {
    built = 0;
  }
  if (newest(join(root, 'src')) <= built) return;
  const result = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) throw new Error('npm run build failed');
}
