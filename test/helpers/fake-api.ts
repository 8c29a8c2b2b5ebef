import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

// A stand-in for the Handout API, for testing the CLI's client without a server: each test says how
// it answers. Over TLS it uses the self-signed certificate below (for 127.0.0.1 and localhost, valid
// until 2126), made for these tests only and trusted by nothing else.

export const TEST_TLS_CERT = `-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUGz4edFgZ5rB1UtPqvZ9ATNnLW3kwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwNjIyMzkxNVoYDzIxMjYxMTEy
MjIzOTE1WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAASJJN7Ed8yINmuh8swX/m3ByFZlvTFLj/Vatij2WMlehSUpJyJSLHRG
KJSIQIu1XDMIAgWZKqzdQXS5OljOsbLOo28wbTAdBgNVHQ4EFgQUgUs400s3+DMP
GWaiWsy0k7amOQ0wHwYDVR0jBBgwFoAUgUs400s3+DMPGWaiWsy0k7amOQ0wDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARhwR/AAABgglsb2NhbGhvc3QwCgYIKoZI
zj0EAwIDSAAwRQIgMM/LUbpzo6oCd8wVoX0XMEgK2t75fSyD3XcmVKqdOscCIQC8
+PKdsUIlUJo22hs6Znl85hQRbHGSCD29HZqkbx5qgQ==
-----END CERTIFICATE-----
`;

const TEST_TLS_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgcqf986zUOioNTiHg
utDj+eUDDtTsmwJ8+SyySjFquqKhRANCAASJJN7Ed8yINmuh8swX/m3ByFZlvTFL
j/Vatij2WMlehSUpJyJSLHRGKJSIQIu1XDMIAgWZKqzdQXS5OljOsbLO
-----END PRIVATE KEY-----
`;

/** Answers one request; \`body()\` reads the request body whole (a handler may answer without reading it). */
export type Handler = (req: IncomingMessage, res: ServerResponse, body: () => Promise<Buffer>) => unknown;

export interface FakeApi {
  url: string;
  /** How the next requests are answered. */
  answer(handler: Handler): void;
  close(): Promise<void>;
}

/** A local HTTP (or, with tls, HTTPS) server on a free port. */
export async function startFakeApi(opts: { tls?: boolean } = {}): Promise<FakeApi> {
  let handler: Handler = (_req, res) => res.writeHead(500).end('no handler');
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const body = async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    };
    void handler(req, res, body);
  };
  const server: Server = opts.tls ? createHttpsServer({ cert: TEST_TLS_CERT, key: TEST_TLS_KEY }, onRequest) : createHttpServer(onRequest);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    answer(next) {
      handler = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Answers with JSON. */
export function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}
