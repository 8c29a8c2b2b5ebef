import { rmSync } from 'node:fs';
import { loadServerConfig } from '../../src/runtime/config';
import { startStack, type Stack } from '../../src/runtime/stack';
import { tempDir } from './catalog';
import { testTemporalAddress, uniqueTaskQueue } from './temporal';

export interface TestStack extends Stack {
  dataDir: string;
  adminKey: string;
  /** Calls the API in-process (fastify inject) as the holder of `key`. */
  call<T = unknown>(method: 'GET' | 'POST' | 'DELETE', url: string, opts?: { key?: string | null; body?: unknown }): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

/**
 * The real stack in this process — PGlite catalog, worker and API — on the shared dev server with a
 * task queue of its own and a temporary data directory.
 */
export async function startTestStack(name: string, env: NodeJS.ProcessEnv = {}): Promise<TestStack> {
  const dataDir = tempDir(name);
  const config = loadServerConfig({
    HANDOUT_DATA_DIR: dataDir,
    HANDOUT_PORT: '0',
    TEMPORAL_ADDRESS: testTemporalAddress(),
    HANDOUT_TASK_QUEUE: uniqueTaskQueue(name),
    TEMPORAL_UI_URL: 'http://127.0.0.1:8233',
    HANDOUT_LOG_LEVEL: 'error',
    ...env,
  });
  const stack = await startStack(config);
  if (!stack.bootstrapKey) throw new Error('a fresh test stack must print a bootstrap key');
  const adminKey = stack.bootstrapKey;
  return {
    ...stack,
    dataDir,
    adminKey,
    async call<T>(method: 'GET' | 'POST' | 'DELETE', url: string, opts: { key?: string | null; body?: unknown } = {}) {
      const key = opts.key === undefined ? adminKey : opts.key;
      const response = await stack.api.inject({
        method,
        url,
        headers: key === null ? {} : { authorization: `Bearer ${key}` },
        ...(opts.body === undefined ? {} : { payload: opts.body as object }),
      });
      return { status: response.statusCode, body: (response.body ? response.json() : undefined) as T };
    },
    async close() {
      await stack.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
