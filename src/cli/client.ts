import { readFileSync } from 'node:fs';
import type { Agent, ClientRequest, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { ErrorBody } from '../domain/errors';
import { CliError } from './errors';
import { resolveApiKey, resolveApiUrl } from './settings';

// On node:http rather than fetch: fetch (undici) costs a command ~80 ms of module loading on its first use.

type Query = Record<string, string | number | undefined>;
type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** A request whose connection stays silent this long is given up (fetch's own limit, which the CLI used to rely on). */
const IDLE_TIMEOUT_MS = 300_000;

/** A failure of the API or of reaching it; `transient` ones may be retried while polling. */
export class ApiError extends CliError {
  constructor(
    message: string,
    readonly status: number | null,
    readonly transient: boolean,
  ) {
    super(message);
  }
}

/** node:https for an https: URL, node:http otherwise; each is loaded only when used (TLS costs start-up time). */
export function transportFor(url: URL): typeof import('node:http') | typeof import('node:https') {
  return url.protocol === 'https:' ? (require('node:https') as typeof import('node:https')) : (require('node:http') as typeof import('node:http'));
}

/**
 * The agent of an https request. `bin/handout` starts a client command without NODE_EXTRA_CA_CERTS,
 * which Node 20 would read at start whether or not the command uses TLS, and hands that file on as
 * HANDOUT_DEFERRED_CA_CERTS: it is trusted here beside Node's bundled roots, as Node would have.
 * Without it, Node's global agent, which trusts what Node loaded at start.
 */
function httpsAgentFor(url: URL): Agent | undefined {
  const file = process.env.HANDOUT_DEFERRED_CA_CERTS;
  if (url.protocol !== 'https:' || !file) return undefined;
  if (deferredCaAgent?.file !== file) {
    const { rootCertificates } = require('node:tls') as typeof import('node:tls');
    const https = require('node:https') as typeof import('node:https');
    let extra: string[] = [];
    try {
      extra = [readFileSync(file, 'utf8')];
    } catch (err) {
      // Node's own words and behaviour for an unreadable NODE_EXTRA_CA_CERTS: warn, trust the rest.
      process.stderr.write(`Warning: Ignoring extra certs from \`${file}\`, load failed: ${(err as Error).message}\n`);
    }
    deferredCaAgent = { file, agent: new https.Agent({ keepAlive: true, ca: [...rootCertificates, ...extra] }) };
  }
  return deferredCaAgent.agent;
}
let deferredCaAgent: { file: string; agent: Agent } | undefined;

const codeOf = (err: unknown) => (err as { code?: string }).code ?? (err as Error).message;

/** The whole body as text (UTF-8). */
async function readAll(body: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A successful response: read it whole (`text`, `json`) or stream `body` (a download). */
export class ApiResponse {
  constructor(
    readonly body: IncomingMessage,
    private readonly baseUrl: string,
  ) {}

  get status(): number {
    return this.body.statusCode ?? 0;
  }

  async text(): Promise<string> {
    try {
      return await readAll(this.body);
    } catch (err) {
      throw new ApiError(`lost the connection to the Handout API at ${this.baseUrl} while reading its answer (${codeOf(err)})`, null, true);
    }
  }

  async json<T = unknown>(): Promise<T> {
    return JSON.parse(await this.text()) as T;
  }
}

/** The CLI's only door to Handout: JSON over HTTP with the bearer key. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly apiKey: string,
  ) {}

  static fromEnvironment(env = process.env): ApiClient {
    return new ApiClient(resolveApiUrl(env), resolveApiKey(env));
  }

  /** Sends a request and returns the response when it succeeded; throws the API's error message otherwise. */
  async send(method: Method, path: string, opts: { json?: unknown; stream?: NodeJS.ReadableStream; query?: Query } = {}): Promise<ApiResponse> {
    const url = new URL(`${this.baseUrl}/api/v1${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    const headers: OutgoingHttpHeaders = { authorization: `Bearer ${this.apiKey}` };
    let body: Buffer | NodeJS.ReadableStream | undefined;
    if (opts.json !== undefined) {
      body = Buffer.from(JSON.stringify(opts.json));
      headers['content-type'] = 'application/json';
      headers['content-length'] = body.length;
    } else if (opts.stream) {
      headers['content-type'] = 'application/octet-stream'; // sent chunked: the length is not known up front
      body = opts.stream;
    }
    let response: IncomingMessage;
    try {
      response = await exchange(url, method, headers, body);
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new ApiError(`cannot reach the Handout API at ${this.baseUrl} (${codeOf(err)}); is "handout up" running? (HANDOUT_API_URL sets the address)`, null, true);
    }
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) return new ApiResponse(response, this.baseUrl);
    const text = await readAll(response).catch(() => '');
    let message = `HTTP ${status} ${response.statusMessage ?? ''}`;
    if (status >= 300 && status < 400) {
      // Not followed: the bearer key would go wherever the redirect points.
      message = `the API at ${this.baseUrl} redirected to ${response.headers.location ?? '(nowhere)'}: set HANDOUT_API_URL to the API's own address`;
    }
    try {
      message = (JSON.parse(text) as ErrorBody).error?.message ?? message;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(message, status, status >= 500 || status === 429);
  }

  async request<T>(method: Method, path: string, body?: unknown, query?: Query): Promise<T> {
    const response = await this.send(method, path, { json: body, query });
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get<T>(path: string, query?: Query) {
    return this.request<T>('GET', path, undefined, query);
  }

  post<T>(path: string, body: unknown = {}) {
    return this.request<T>('POST', path, body);
  }

  delete<T>(path: string, query?: Query) {
    return this.request<T>('DELETE', path, undefined, query);
  }
}

/** One HTTP exchange: resolves with the response as soon as its head has arrived. */
function exchange(url: URL, method: Method, headers: OutgoingHttpHeaders, body: Buffer | NodeJS.ReadableStream | undefined): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    // Throws at once for a protocol other than http: or https: (rejected like an unreachable API).
    const req = transportFor(url).request(url, { method, headers, timeout: IDLE_TIMEOUT_MS, agent: httpsAgentFor(url) });
    req.on('response', resolve);
    // Refused, reset, DNS or TLS failures; after the response has arrived, the body's reader sees them.
    req.on('error', reject);
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer for ${IDLE_TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' })));
    if (body === undefined || Buffer.isBuffer(body)) req.end(body);
    else upload(body, req, reject);
  });
}

/** Streams a request body; a read error aborts the request, and an early answer (a refusal) stops the upload. */
function upload(source: NodeJS.ReadableStream, req: ClientRequest, reject: (err: Error) => void): void {
  let sent = false;
  source.once('end', () => (sent = true));
  source.once('error', (err: Error) => {
    req.destroy();
    reject(new CliError(`could not read what was being uploaded: ${err.message}`));
  });
  req.once('response', () => {
    if (sent) return;
    source.unpipe(req);
    (source as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
    req.end();
  });
  source.pipe(req);
}

export const enc = encodeURIComponent;

/** The API path of an instance. */
export const instanceApiPath = (ref: { org_slug: string; space_slug: string; instance_slug: string }) =>
  `/orgs/${enc(ref.org_slug)}/spaces/${enc(ref.space_slug)}/instances/${enc(ref.instance_slug)}`;
