import type { ErrorBody } from '../domain/errors';
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

  async request<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, query?: Record<string, string | number | undefined>): Promise<T> {
    const url = new URL(`${this.baseUrl}/api/v1${path}`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: { authorization: `Bearer ${this.apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new ApiError(`cannot reach the Handout API at ${this.baseUrl} (${cause}); is "handout up" running? (HANDOUT_API_URL sets the address)`, null, true);
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const message = (json as ErrorBody | undefined)?.error?.message ?? `HTTP ${response.status} ${response.statusText}`;
      throw new ApiError(message, response.status, response.status >= 500 || response.status === 429);
    }
    return json as T;
  }

  get<T>(path: string, query?: Record<string, string | number | undefined>) {
    return this.request<T>('GET', path, undefined, query);
  }

  post<T>(path: string, body: unknown = {}) {
    return this.request<T>('POST', path, body);
  }
}

export const enc = encodeURIComponent;
