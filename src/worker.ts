import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel } from '@temporalio/worker';
import { createActivities, withStartDelay, type ActivityDeps } from './activities';

/** The prebuilt workflow bundle (`npm run build`); built once so a start never waits for webpack. */
export const WORKFLOW_BUNDLE_PATH = join(__dirname, '..', 'dist', 'workflow-bundle.js');

let runtimeInstalled = false;
/** Installs the SDK runtime's logger once per process (the SDK allows only one install). */
export function installTemporalRuntime(level: string): void {
  if (runtimeInstalled) return;
  const sdkLevel = (['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'].includes(level.toUpperCase()) ? level.toUpperCase() : 'WARN') as LogLevel;
  // shutdownSignals: []: `handout up` owns SIGINT/SIGTERM and stops the parts in order; the SDK's own
  // handlers would shut the worker down behind its back (and keep a failed start from exiting).
  Runtime.install({ logger: new DefaultLogger(sdkLevel), telemetryOptions: { logging: { filter: 'ERROR', forward: {} } }, shutdownSignals: [] });
  runtimeInstalled = true;
}

export interface WorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** Test hook: delays every activity (see withStartDelay). */
  activityDelayMs?: number;
}

/** Creates the worker that runs Handout's workflows and activities on one task queue. */
export async function createHandoutWorker(opts: WorkerOptions): Promise<Worker> {
  const workflowBundle = existsSync(WORKFLOW_BUNDLE_PATH)
    ? { workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH } }
    : { workflowsPath: require.resolve('./workflows') };
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...workflowBundle,
    activities: withStartDelay(createActivities(opts.deps), opts.activityDelayMs ?? 0),
    // On SIGTERM, running activities get this long to finish before they are cancelled and retried elsewhere.
    shutdownGraceTime: '5 seconds',
  });
}
