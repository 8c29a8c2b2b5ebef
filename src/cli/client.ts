import { Readable } from 'node:stream';
import type { ErrorBody } from '../domain/errors';

type Query = Record<string, string | number | undefined>;
import { CliError } from './errors';
import { resolveApiKey, resolveApiUrl } from './settings';

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

/** The CLI's only door to Handout: JSON over HTTP with the bearer key. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly apiKey: string,
  ) {}

  static fromEnvironment(env = process.env): ApiClient {
    return new ApiClient(resolveApiUrl(env), resolveApiKey(env));
  }

  /** Sends a request and returns the raw response when it succeeded; throws the API's error message otherwise. */
  async send(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, opts: { json?: unknown; stream?: NodeJS.ReadableStream; query?: Query } = {}): Promise<Response> {
    const url = new URL(`${this.baseUrl}/api/v1${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { authorization: `Bearer ${this.apiKey}` };
    let body: RequestInit['body'];
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.stream) {
      headers['content-type'] = 'application/octet-stream';
      body = Readable.toWeb(opts.stream as Readable) as unknown as RequestInit['body'];
    }
    let response: Response;
    try {
      response = await fetch(url, { method, headers, body, ...(opts.stream ? { duplex: 'half' } : {}) } as RequestInit);
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new ApiError(`cannot reach the Handout API at ${this.baseUrl} (${cause}); is "handout up" running? (HANDOUT_API_URL sets the address)`, null, true);
    }
    if (!response.ok) {
      const text = await response.text();
      let message = `HTTP ${response.status} ${response.statusText}`;
      try {
        message = (JSON.parse(text) as ErrorBody).error?.message ?? message;
      } catch {
        // not JSON: keep the status line
      }
      throw new ApiError(message, response.status, response.status >= 500 || response.status === 429);
    }
    return response;
  }

  async request<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, query?: Query): Promise<T> {
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

export const enc = encodeURIComponent;

/** The API path of an instance. */
export const instanceApiPath = (ref: { org_slug: string; space_slug: string; instance_slug: string }) =>
  `/orgs/${enc(ref.org_slug)}/spaces/${enc(ref.space_slug)}/instances/${enc(ref.instance_slug)}`;
