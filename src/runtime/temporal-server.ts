import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import type { Logger } from './logger';

/** A Temporal dev server this process started and owns. */
export interface EmbeddedTemporal {
  address: string;
  uiUrl: string;
  stop(): Promise<void>;
}

export interface EmbeddedTemporalOptions {
  cliPath: string;
  dataDir: string;
  host: string;
  port: number;
  uiPort: number;
  namespace: string;
  logger: Logger;
  startTimeoutMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function processCmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
}

/**
 * A dev server left running by a `handout up` that was killed outright still holds our database file
 * and ports. We hold the data-dir lock, so any server on our database file is such an orphan: stop it.
 */
async function stopOrphan(pidFile: string, dbFile: string, logger: Logger): Promise<void> {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  const cmdline = Number.isInteger(pid) ? processCmdline(pid) : undefined;
  if (cmdline?.includes(dbFile)) {
    logger.warn({ pid }, 'stopping a Temporal dev server orphaned by an earlier run');
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && processCmdline(pid); i++) await sleep(100);
    if (processCmdline(pid)) process.kill(pid, 'SIGKILL');
  }
  unlinkSync(pidFile);
}

/** True once something accepts TCP connections on the port: costs a millisecond when nothing does. */
function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolvePort(true);
    });
    socket.once('error', () => resolvePort(false));
  });
}

/** Waits until the server answers and the namespace exists. */
async function waitUntilServing(address: string, namespace: string, child: ChildProcess, deadline: number): Promise<void> {
  let lastError: unknown;
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the Temporal dev server exited with code ${child.exitCode} while starting`);
    // A gRPC connect to a closed port backs off for about a second; a plain TCP probe does not.
    if (!(await portOpen(host, port))) {
      await sleep(20);
      continue;
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      lastError = err;
      await sleep(50);
    }
  }
  throw new Error(`the Temporal dev server did not become ready at ${address}: ${String(lastError)}`);
}

/**
 * Starts `temporal server start-dev` with its SQLite database in the data directory, so every
 * workflow survives a restart of the whole stack, and the Web UI on.
 */
export async function startEmbeddedTemporal(opts: EmbeddedTemporalOptions): Promise<EmbeddedTemporal> {
  const dbFile = join(opts.dataDir, 'temporal.db');
  const pidFile = join(opts.dataDir, 'temporal.pid');
  await stopOrphan(pidFile, dbFile, opts.logger);
  const args = [
    'server', 'start-dev',
    '--db-filename', dbFile,
    '--ip', opts.host,
    '--port', String(opts.port),
    '--ui-port', String(opts.uiPort),
    '--namespace', opts.namespace,
    '--log-level', 'error',
    // Write-ahead logging: a commit appends to one log and syncs it once, where the default rollback
    // journal creates, syncs and deletes a journal file as well. As durable (synchronous stays FULL);
    // measured on the snapshot path: 39 against 53 ms of the server's CPU per snapshot workflow.
    '--sqlite-pragma', 'journal_mode=wal',
  ];
  const child = spawn(opts.cliPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderrTail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString()).slice(-4000);
  });
  await new Promise<void>((resolveSpawn, rejectSpawn) => {
    child.once('spawn', () => resolveSpawn());
    child.once('error', (err) => rejectSpawn(new Error(`cannot run the Temporal CLI at ${opts.cliPath}: ${err.message}`)));
  });
  writeFileSync(pidFile, String(child.pid));
  const address = `${opts.host}:${opts.port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    if (existsSync(pidFile)) unlinkSync(pidFile);
  };
  try {
    await waitUntilServing(address, opts.namespace, child, Date.now() + (opts.startTimeoutMs ?? 60_000));
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}${stderrTail ? `\n${stderrTail.trim()}` : ''}`);
  }
  return { address, uiUrl: `http://${opts.host}:${opts.uiPort}`, stop };
}
