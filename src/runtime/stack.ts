import { chmodSync, writeFileSync } from 'node:fs';
import { createMailer } from '../store/mailer';
import { join } from 'node:path';
import type { Worker } from '@temporalio/worker';
import { buildApi, type HandoutApp } from '../api/server';
import type { ServiceDeps } from '../service/deps';
import { bootstrapAdmin } from '../service/identity';
import { openCatalog, type Catalog } from '../store/catalog/db';
import { CaptureHeadStarts } from '../activities/capture-head-starts';
import { createQuickCapture } from '../activities/snapshots';
import { createHandoutWorker, installTemporalRuntime } from '../worker';
import { temporalCliPath } from './binaries';
import type { ServerConfig } from './config';
import { lockDataDir } from './data-dir-lock';
import { createLogger } from './logger';
import { startEmbeddedTemporal, type EmbeddedTemporal } from './temporal-server';
import { connectTemporal, type TemporalConnections } from './temporal-connection';
import { HANDOUT_VERSION } from './version';

/** A running Handout: API, worker, catalog and (embedded mode) the Temporal dev server it owns. */
export interface Stack {
  apiUrl: string;
  temporalAddress: string;
  temporalUiUrl: string | null;
  /** Set on the very first start only: the bootstrap admin's key (also in `<data>/admin-api-key`). */
  bootstrapKey: string | null;
  bootstrapKeyFile: string;
  /** Resolves when the worker stops for any reason (e.g. Temporal went away). */
  workerStopped: Promise<void>;
  /** The parts, for in-process tests and embedding. */
  catalog: Catalog;
  api: HandoutApp;
  deps: ServiceDeps;
  stop(): Promise<void>;
}

/**
 * Brings up everything `handout up` runs, in one process. Independent parts start in parallel
 * (Temporal and the catalog), and each part started is stopped again if a later one fails.
 */
export async function startStack(config: ServerConfig): Promise<Stack> {
  const logger = createLogger(config.logLevel);
  const lock = lockDataDir(config.dataDir);
  // What to undo, in the order things were started; stopping runs it backwards.
  const undo: { part: string; stop: () => Promise<void> }[] = [{ part: 'data-dir lock', stop: async () => lock.release() }];
  const stopAll = async () => {
    for (const { part, stop } of undo.splice(0).reverse()) {
      logger.debug({ part }, 'stopping');
      await stop().catch((err) => logger.error({ err, part }, 'error while stopping'));
    }
  };
  try {
    installTemporalRuntime(config.logLevel);
    const temporalPromise: Promise<EmbeddedTemporal | null> = config.temporalAddress
      ? Promise.resolve(null)
      : startEmbeddedTemporal({
          cliPath: temporalCliPath(),
          dataDir: config.dataDir,
          host: config.host === '0.0.0.0' ? '127.0.0.1' : config.host,
          port: config.temporalPort,
          uiPort: config.temporalUiPort,
          namespace: config.temporalNamespace,
          logger,
        });
    const catalogPromise = openCatalog(config.databaseUrl ? { databaseUrl: config.databaseUrl } : { pgliteDir: join(config.dataDir, 'catalog') });
    const [temporalResult, catalogResult] = await Promise.allSettled([temporalPromise, catalogPromise]);
    if (temporalResult.status === 'fulfilled' && temporalResult.value) undo.push({ part: 'embedded Temporal', stop: temporalResult.value.stop });
    if (catalogResult.status === 'fulfilled') undo.push({ part: 'catalog', stop: () => catalogResult.value.close() });
    if (temporalResult.status === 'rejected') throw temporalResult.reason;
    if (catalogResult.status === 'rejected') throw catalogResult.reason;
    const embedded = temporalResult.value;
    const catalog: Catalog = catalogResult.value;
    const temporalAddress = embedded?.address ?? config.temporalAddress!;
    const temporalUiUrl = embedded?.uiUrl ?? config.temporalUiUrl ?? null;

    const connections: TemporalConnections = await connectTemporal(config, temporalAddress);
    undo.push({ part: 'Temporal connections', stop: () => connections.close() });

    const bootstrapKeyFile = join(config.dataDir, 'admin-api-key');
    const bootstrap = await bootstrapAdmin(catalog.db, (key) => {
      writeFileSync(bootstrapKeyFile, `${key}\n`, { mode: 0o600 });
      chmodSync(bootstrapKeyFile, 0o600); // also when an earlier, uncommitted bootstrap left the file
    });

    const mailer = createMailer({ smtpUrl: config.smtpUrl, from: config.mailFrom, outboxDir: join(config.dataDir, 'outbox') });
    undo.push({ part: 'mailer', stop: async () => mailer.close() });
    // The API and the worker share this process: a snapshot's request begins its capture, which the
    // workflow's first step takes over.
    const headStarts = new CaptureHeadStarts(createQuickCapture({ dataDir: config.dataDir, quickCaptureMs: config.quickCaptureMs }));
    const worker: Worker = await createHandoutWorker({
      connection: connections.native,
      namespace: config.temporalNamespace,
      taskQueue: config.taskQueue,
      deps: { catalog, dataDir: config.dataDir, mailer, quickCaptureMs: config.quickCaptureMs, headStarts },
      activityDelayMs: config.testActivityDelayMs,
    });
    const workerRun = worker.run();
    const workerStopped = workerRun.then(
      () => undefined,
      (err) => logger.error({ err }, 'the worker stopped'),
    );
    undo.push({
      part: 'worker',
      stop: async () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await workerStopped;
      },
    });

    const deps: ServiceDeps = {
      catalog,
      temporal: connections.client,
      eagerStarter: connections.starter,
      taskQueue: config.taskQueue,
      temporalUiUrl,
      version: HANDOUT_VERSION,
      dataDir: config.dataDir,
      maxUploadBytes: config.maxUploadBytes,
      blobGcGraceMs: config.blobGcGraceSeconds * 1000,
      distributionConcurrency: config.distributionConcurrency,
      captureHeadStart: headStarts,
    };
    const api: HandoutApp = await buildApi(deps, { logger });
    await api.listen({ host: config.host, port: config.port });
    undo.push({ part: 'API', stop: () => api.close() });
    // Then no request begins a capture any more; those not taken over yet are stopped.
    undo.push({ part: 'capture head starts', stop: async () => headStarts.abandonAll() });
    const address = api.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;

    return {
      apiUrl: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
      temporalAddress,
      temporalUiUrl,
      bootstrapKey: bootstrap?.apiKey ?? null,
      bootstrapKeyFile,
      workerStopped,
      catalog,
      api,
      deps,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
