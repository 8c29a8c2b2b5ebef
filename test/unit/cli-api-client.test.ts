import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https = require('node:https');
import http = require('node:http');
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApiClient, ApiError, transportFor } from '../../src/cli/client';
import { CliError } from '../../src/cli/errors';
import { freePort } from '../helpers/ports';
import { json, startFakeApi, TEST_TLS_CERT, type FakeApi } from '../helpers/fake-api';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** What `send` threw. */
async function failure(work: Promise<unknown>): Promise<ApiError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  return err as ApiError;
}

describe('the CLI API client (node:http)', () => {
  let api: FakeApi;
  let client: ApiClient;
  let dir: string;

  beforeAll(async () => {
    api = await startFakeApi();
    client = new ApiClient(api.url, 'hk_test');
    dir = mkdtempSync(join(tmpdir(), 'handout-client-'));
  });
  afterAll(async () => {
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends the bearer key, the query and a JSON body, and returns the JSON answer', async () => {
    api.answer(async (req, res, body) => json(res, 201, { method: req.method, url: req.url, auth: req.headers.authorization, type: req.headers['content-type'], body: JSON.parse((await body()).toString()) }));
    const answer = await client.post<Record<string, unknown>>('/orgs', { slug: 'uni', name: 'Università' });
    expect(answer).toEqual({ method: 'POST', url: '/api/v1/orgs', auth: 'Bearer hk_test', type: 'application/json', body: { slug: 'uni', name: 'Università' } });
    api.answer((req, res) => json(res, 200, { url: req.url, auth: req.headers.authorization }));
    expect(await client.get('/tasks', { status: 'RUNNING', limit: 5, skipped: undefined, empty: '' })).toEqual({ url: '/api/v1/tasks?status=RUNNING&limit=5', auth: 'Bearer hk_test' });
  });

  it('returns undefined for an empty answer (a 204)', async () => {
    api.answer((_req, res) => res.writeHead(204).end());
    expect(await client.delete('/tables/t')).toBeUndefined();
  });

  it.each([
    ['a refusal (403)', 403, { error: { code: 'forbidden', message: 'you may not' } }, 'you may not', false],
    ['a missing thing (404)', 404, { error: { code: 'not_found', message: 'task "x" not found' } }, 'task "x" not found', false],
    ['an unavailable API (503)', 503, { error: { code: 'unavailable', message: 'Temporal is not reachable' } }, 'Temporal is not reachable', true],
    ['too many requests (429)', 429, { error: { code: 'unavailable', message: 'slow down' } }, 'slow down', true],
  ])('reports %s with the API message and its status', async (_name, status, body, message, transient) => {
    api.answer((_req, res) => json(res, status, body));
    const err = await failure(client.get('/x'));
    expect({ message: err.message, status: err.status, transient: err.transient }).toEqual({ message, status, transient });
  });

  it('reports an error that is not JSON (a proxy page) by its status line', async () => {
    api.answer((_req, res) => res.writeHead(502, 'Bad Gateway', { 'content-type': 'text/html' }).end('<h1>bad gateway</h1>'));
    const err = await failure(client.get('/x'));
    expect({ message: err.message, status: err.status, transient: err.transient }).toEqual({ message: 'HTTP 502 Bad Gateway', status: 502, transient: true });
  });

  it('does not follow a redirect (it would carry the key elsewhere) and says where it pointed', async () => {
    api.answer((_req, res) => res.writeHead(301, { location: 'https://elsewhere.example/api/v1/x' }).end());
    const err = await failure(client.get('/x'));
    expect(err.message).toBe(`the API at ${api.url} redirected to https://elsewhere.example/api/v1/x: set HANDOUT_API_URL to the API's own address`);
    expect(err.transient).toBe(false);
  });

  it('says when the API cannot be reached, as a transient error', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const err = await failure(new ApiClient(url, 'hk_test').get('/x'));
    expect({ message: err.message, status: err.status, transient: err.transient }).toEqual({
      message: `cannot reach the Handout API at ${url} (ECONNREFUSED); is "handout up" running? (HANDOUT_API_URL sets the address)`,
      status: null,
      transient: true,
    });
  });

  it('says when the connection is lost while an answer is read', async () => {
    api.answer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 1000 });
      res.write('{"partial":');
      setImmediate(() => res.socket?.destroy());
    });
    const err = await failure(client.get('/x'));
    expect(err.message).toMatch(new RegExp(`^lost the connection to the Handout API at ${api.url.replace(/[.]/g, '\\.')} while reading its answer \\(`));
    expect(err.transient).toBe(true);
  });

  it('streams an upload of several megabytes and a download, byte for byte', async () => {
    const data = randomBytes(5 * 1024 * 1024 + 7);
    const file = join(dir, 'upload.bin');
    writeFileSync(file, data);
    api.answer(async (req, res, body) => {
      const got = await body();
      json(res, 201, { type: req.headers['content-type'], size: got.length, sha256: sha256(got) });
    });
    const response = await client.send('PUT', '/files/content', { query: { path: '/files/upload.bin' }, stream: createReadStream(file) });
    expect(await response.json()).toEqual({ type: 'application/octet-stream', size: data.length, sha256: sha256(data) });

    api.answer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      Readable.from([data.subarray(0, 1000), data.subarray(1000)]).pipe(res);
    });
    const download = await client.send('GET', '/files/content', { query: { path: '/files/upload.bin' } });
    await pipeline(download.body, createWriteStream(join(dir, 'download.bin')));
    expect(sha256(readFileSync(join(dir, 'download.bin')))).toBe(sha256(data));
  });

  it('reports a refusal that arrives while an upload is still being sent', async () => {
    const file = join(dir, 'big.bin');
    writeFileSync(file, randomBytes(32 * 1024 * 1024));
    // Answers at once, without reading the body (as the API does when a role check fails).
    api.answer((_req, res) => json(res, 403, { error: { code: 'forbidden', message: 'writing files needs the instance_editor role' } }));
    const err = await failure(client.send('PUT', '/files/content', { stream: createReadStream(file) }));
    expect({ message: err.message, status: err.status }).toEqual({ message: 'writing files needs the instance_editor role', status: 403 });
  });

  it('reports a file that cannot be read during an upload as such, not as an unreachable API', async () => {
    api.answer(async (_req, res, body) => json(res, 201, { size: (await body()).length }));
    const err = await client.send('PUT', '/files/content', { stream: createReadStream(dir) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect(err).not.toBeInstanceOf(ApiError);
    expect((err as Error).message).toMatch(/^could not read what was being uploaded: EISDIR/);
  });
});

describe('the CLI API client over https', () => {
  let api: FakeApi;
  const trusted = https.globalAgent.options.ca;

  beforeAll(async () => {
    api = await startFakeApi({ tls: true });
  });
  afterAll(async () => {
    https.globalAgent.options.ca = trusted;
    await api?.close();
  });

  it('uses node:https for an https URL and node:http otherwise', () => {
    expect(transportFor(new URL('https://handout.example.org/api/v1/info'))).toBe(https);
    expect(transportFor(new URL('http://127.0.0.1:8080/api/v1/info'))).toBe(http);
  });

  it('talks TLS to an https API, and refuses a certificate it does not trust', async () => {
    api.answer((req, res) => json(res, 200, { url: req.url, auth: req.headers.authorization }));
    const client = new ApiClient(api.url, 'hk_tls');
    const untrusted = await failure(client.get('/info'));
    expect(untrusted.message).toMatch(/^cannot reach the Handout API at https:\/\/127\.0\.0\.1:\d+ \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)\)/);
    https.globalAgent.options.ca = TEST_TLS_CERT; // as NODE_EXTRA_CA_CERTS would
    expect(await client.get('/info')).toEqual({ url: '/api/v1/info', auth: 'Bearer hk_tls' });
  });
});

// bin/handout starts a client command without NODE_EXTRA_CA_CERTS and hands the file on as
// HANDOUT_DEFERRED_CA_CERTS (test/e2e/launcher.test.ts runs the real launcher).
describe('the CLI API client with certificates bin/handout deferred', () => {
  let api: FakeApi;
  let dir: string;
  const saved = process.env.HANDOUT_DEFERRED_CA_CERTS;

  beforeAll(async () => {
    api = await startFakeApi({ tls: true });
    api.answer((req, res) => json(res, 200, { url: req.url }));
    dir = mkdtempSync(join(tmpdir(), 'deferred-ca-'));
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.HANDOUT_DEFERRED_CA_CERTS;
    else process.env.HANDOUT_DEFERRED_CA_CERTS = saved;
    jest.restoreAllMocks();
  });
  afterAll(async () => {
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('trusts the certificates in the deferred file, and without it refuses the server', async () => {
    delete process.env.HANDOUT_DEFERRED_CA_CERTS;
    const refused = await failure(new ApiClient(api.url, 'hk').get('/info'));
    expect(refused.message).toMatch(/\((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)\)/);

    const file = join(dir, 'extra.pem');
    writeFileSync(file, TEST_TLS_CERT);
    process.env.HANDOUT_DEFERRED_CA_CERTS = file;
    expect(await new ApiClient(api.url, 'hk').get('/info')).toEqual({ url: '/api/v1/info' });
  });

  it('warns as Node does when the deferred file cannot be read, and trusts only the bundled roots', async () => {
    const warnings: string[] = [];
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => warnings.push(String(chunk)) > 0);
    const missing = join(dir, 'missing.pem');
    process.env.HANDOUT_DEFERRED_CA_CERTS = missing;
    const refused = await failure(new ApiClient(api.url, 'hk').get('/info'));
    expect(refused.message).toMatch(/\((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)\)/);
    expect(warnings).toEqual([expect.stringMatching(new RegExp(`^Warning: Ignoring extra certs from \`${missing}\`, load failed: ENOENT`))]);
  });
});
