import Fastify, { LogController, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { ZodError } from 'zod';
import { ERROR_STATUS, type ErrorBody } from '../domain/errors';
import type { Logger } from '../runtime/logger';
import type { Principal, ServiceDeps } from '../service/deps';
import { HandoutError } from '../service/errors';
import { authenticate } from '../service/identity';
import { registerAppRoutes } from './routes/apps';
import { registerAssignmentRoutes } from './routes/assignments';
import { registerAuditRoutes } from './routes/audit';
import { registerDirectoryRoutes } from './routes/directory';
import { registerDistributionRoutes } from './routes/distribution';
import { registerFileRoutes } from './routes/files';
import { registerSnapshotRoutes } from './routes/snapshots';
import { registerTableRoutes } from './routes/tables';
import { registerIdentityRoutes } from './routes/identity';
import { registerTaskRoutes } from './routes/tasks';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
    /** When the request reached the API, before authentication (a hand-in counts from here). */
    receivedAt: Date;
  }
}

export type HandoutApp = FastifyInstance<any, any, any, any, ZodTypeProvider>; // eslint-disable-line @typescript-eslint/no-explicit-any

const errorBody = (code: keyof typeof ERROR_STATUS, message: string): ErrorBody => ({ error: { code, message } });

/** Describes what was wrong with a request body, query or path, in one line. */
function describeValidation(issues: { path?: PropertyKey[]; message: string }[], where = ''): string {
  return issues
    .map((i) => {
      const path = [where, ...(i.path ?? []).map(String)].filter(Boolean).join('.');
      return path ? `${path}: ${i.message}` : i.message;
    })
    .join('; ');
}

/**
 * The HTTP API: JSON, zod-validated, OpenAPI at /api/openapi.json. Everything under /api/v1 needs
 * `Authorization: Bearer <key>`; only /healthz (no data) and the OpenAPI document are open.
 */
export async function buildApi(deps: ServiceDeps, opts: { logger?: Logger } = {}): Promise<HandoutApp> {
  // Task ids are workflow ids (`assignment/<uuid>/feedback-release/<uuid>` is 101 characters): longer
  // than find-my-way's default of 100 per path parameter.
  // The server's logger gets what went wrong (a 500's cause), not a line per request.
  const app = Fastify({ ...(opts.logger ? { loggerInstance: opts.logger, logController: new LogController({ disableRequestLogging: true }) } : { logger: false }), bodyLimit: 1024 * 1024, routerOptions: { maxParamLength: 500 } }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  await app.register(swagger, {
    openapi: { info: { title: 'Handout API', version: deps.version }, components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } }, security: [{ bearer: [] }] },
    transform: jsonSchemaTransform,
  });

  app.setErrorHandler((err, _request, reply) => {
    if (err instanceof HandoutError) {
      if (ERROR_STATUS[err.code] >= 500) app.log.warn(err); // the cause (a Temporal or catalog error) is for the operator
      return reply.status(ERROR_STATUS[err.code]).send(errorBody(err.code, err.message));
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const issues = err.validation.map((v) => ({ path: v.instancePath.split('/').filter(Boolean), message: v.message ?? 'invalid' }));
      return reply.status(400).send(errorBody('invalid_input', describeValidation(issues, err.validationContext)));
    }
    if (err instanceof ZodError) return reply.status(400).send(errorBody('invalid_input', describeValidation(err.issues)));
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) return reply.status(status).send(errorBody('invalid_input', (err as Error).message));
    app.log.error(err);
    return reply.status(500).send(errorBody('internal', 'internal error; the server log has the details'));
  });
  app.setNotFoundHandler((request, reply) => reply.status(404).send(errorBody('not_found', `no such endpoint: ${request.method} ${request.url.split('?')[0]}`)));

  app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(
    async (api) => {
      api.decorateRequest('principal', null as unknown as Principal);
      api.decorateRequest('receivedAt', null as unknown as Date);
      api.addHook('onRequest', async (request) => {
        request.receivedAt = new Date();
        request.principal = await authenticate(deps.catalog.db, request.headers.authorization);
      });
      registerDirectoryRoutes(api as HandoutApp, deps);
      registerIdentityRoutes(api as HandoutApp, deps);
      registerTaskRoutes(api as HandoutApp, deps);
      registerAuditRoutes(api as HandoutApp, deps);
      registerAppRoutes(api as HandoutApp, deps);
      registerFileRoutes(api as HandoutApp, deps);
      registerTableRoutes(api as HandoutApp, deps);
      registerSnapshotRoutes(api as HandoutApp, deps);
      registerDistributionRoutes(api as HandoutApp, deps);
      registerAssignmentRoutes(api as HandoutApp, deps);
    },
    { prefix: '/api/v1' },
  );
  return app;
}
