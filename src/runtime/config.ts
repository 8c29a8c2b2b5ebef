import { resolve } from 'node:path';
import { z } from 'zod';
import { DEFAULT_QUICK_CAPTURE_MS } from '../activities/deps';

/** Every setting of the server side (`handout up`, `handout worker`), read from the environment. */
export const ServerConfig = z.object({
  dataDir: z.string(),
  host: z.string(),
  port: z.number().int().min(0).max(65535),
  /** Set: connect to this Temporal server and start none. Unset: start the embedded dev server. */
  temporalAddress: z.string().optional(),
  temporalNamespace: z.string(),
  temporalTls: z.boolean(),
  temporalTlsCertPath: z.string().optional(),
  temporalTlsKeyPath: z.string().optional(),
  /** A private CA for the server's certificate, and the name to check it against. */
  temporalTlsCaPath: z.string().optional(),
  temporalTlsServerName: z.string().optional(),
  temporalApiKey: z.string().optional(),
  /** Embedded server ports (gRPC and Web UI). */
  temporalPort: z.number().int().min(1).max(65535),
  temporalUiPort: z.number().int().min(1).max(65535),
  /** Base URL of the Temporal Web UI, used for task links; derived for the embedded server. */
  temporalUiUrl: z.string().optional(),
  taskQueue: z.string().min(1),
  databaseUrl: z.string().optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  /** Largest single file `files put` accepts, in bytes. */
  maxUploadBytes: z.number().int().positive(),
  /**
   * Blobs no snapshot references are freed only once they are this old: a snapshot still being written
   * (up to its 6-hour capture limit) has blobs no catalog row points at yet. Default one day.
   */
  blobGcGraceSeconds: z.number().int().nonnegative(),
  quickCaptureMs: z.number().int().nonnegative(),
  /** SMTP server for notifications (`smtp://user:pass@host:port`, `smtps://…`); unset: `.eml` files in `<data>/outbox`. */
  smtpUrl: z.string().optional(),
  /** The From: of every notification. */
  mailFrom: z.string().min(3),
  /** Targets a distribution writes at once. */
  distributionConcurrency: z.number().int().min(1).max(256),
  /** Test hook only: every activity first waits this long (heartbeating), so tests can stop the stack mid-task. */
  testActivityDelayMs: z.number().int().nonnegative(),
});
export type ServerConfig = z.infer<typeof ServerConfig>;

/** Environment variables and their defaults, documented in the README's configuration table. */
export function loadServerConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const int = (name: string, fallback: number, max = Number.MAX_SAFE_INTEGER) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) > max) throw new Error(`${name} must be a whole number from 0 to ${max}, got "${raw}"`);
    return Number(raw);
  };
  const databaseUrl = env.DATABASE_URL || undefined;
  if (env.SMTP_URL && !/^smtps?:\/\//.test(env.SMTP_URL)) throw new Error('SMTP_URL must start with smtp:// or smtps://');
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) throw new Error('DATABASE_URL must start with postgres:// or postgresql://');
  const parsed = ServerConfig.safeParse({
    dataDir: resolve(env.HANDOUT_DATA_DIR || '.handout'),
    host: env.HANDOUT_HOST || '127.0.0.1',
    port: int('HANDOUT_PORT', 8080, 65535),
    temporalAddress: env.TEMPORAL_ADDRESS || undefined,
    temporalNamespace: env.TEMPORAL_NAMESPACE || 'default',
    temporalTls: env.TEMPORAL_TLS === 'true' || env.TEMPORAL_TLS === '1',
    temporalTlsCertPath: env.TEMPORAL_TLS_CERT || undefined,
    temporalTlsKeyPath: env.TEMPORAL_TLS_KEY || undefined,
    temporalTlsCaPath: env.TEMPORAL_TLS_CA || undefined,
    temporalTlsServerName: env.TEMPORAL_TLS_SERVER_NAME || undefined,
    temporalApiKey: env.TEMPORAL_API_KEY || undefined,
    temporalPort: int('HANDOUT_TEMPORAL_PORT', 7233, 65535),
    temporalUiPort: int('HANDOUT_TEMPORAL_UI_PORT', 8233, 65535),
    temporalUiUrl: env.TEMPORAL_UI_URL || undefined,
    taskQueue: env.HANDOUT_TASK_QUEUE || 'handout',
    databaseUrl,
    logLevel: env.HANDOUT_LOG_LEVEL || 'warn',
    maxUploadBytes: int('HANDOUT_MAX_UPLOAD_BYTES', 1024 ** 3),
    blobGcGraceSeconds: int('HANDOUT_BLOB_GC_GRACE_SECONDS', 86_400),
    quickCaptureMs: int('HANDOUT_QUICK_CAPTURE_MS', DEFAULT_QUICK_CAPTURE_MS),
    smtpUrl: env.SMTP_URL || undefined,
    mailFrom: env.HANDOUT_MAIL_FROM || 'Handout <handout@localhost>',
    distributionConcurrency: int('HANDOUT_DISTRIBUTION_CONCURRENCY', 16, 256),
    testActivityDelayMs: int('HANDOUT_TEST_ACTIVITY_DELAY_MS', 0),
  });
  if (Boolean(env.TEMPORAL_TLS_CERT) !== Boolean(env.TEMPORAL_TLS_KEY)) {
    throw new Error('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together: set both (a client certificate and its key) or neither');
  }
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`invalid configuration: ${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}
