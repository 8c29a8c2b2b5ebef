import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { ServerConfig } from './config';

/** Connection options shared by the client and the worker: address, TLS client cert and API key. */
function connectionOptions(config: ServerConfig, address: string) {
  // TLS is on when asked for, or implied by a client certificate, a CA or an API key (Temporal Cloud).
  const useTls = config.temporalTls || config.temporalTlsCertPath || config.temporalTlsCaPath || config.temporalApiKey;
  const tls = useTls
    ? {
        clientCertPair:
          config.temporalTlsCertPath && config.temporalTlsKeyPath
            ? { crt: readFileSync(config.temporalTlsCertPath), key: readFileSync(config.temporalTlsKeyPath) }
            : undefined,
        serverRootCACertificate: config.temporalTlsCaPath ? readFileSync(config.temporalTlsCaPath) : undefined,
        serverNameOverride: config.temporalTlsServerName,
      }
    : undefined;
  return { address, tls, apiKey: config.temporalApiKey };
}

export interface TemporalConnections {
  client: Client;
  native: NativeConnection;
  /**
   * A client on the worker's own connection: only it can ask for an eager start (the server hands the
   * first workflow task straight back to this process's worker instead of through the task queue).
   */
  starter: Client;
  close(): Promise<void>;
}

/** Opens the client connection (API) and the native connection (worker) to one Temporal server. */
export async function connectTemporal(config: ServerConfig, address: string): Promise<TemporalConnections> {
  const options = connectionOptions(config, address);
  const [connection, native] = await Promise.all([Connection.connect(options), NativeConnection.connect(options)]);
  const client = new Client({ connection, namespace: config.temporalNamespace });
  const starter = new Client({ connection: native, namespace: config.temporalNamespace });
  return {
    client,
    native,
    starter,
    async close() {
      await Promise.allSettled([connection.close(), native.close()]);
    },
  };
}
