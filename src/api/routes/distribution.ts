import { z } from 'zod';
import { TaskStarted } from '../../domain/api';
import { DistributeRequest } from '../../domain/distribution';
import type { ServiceDeps } from '../../service/deps';
import { startDistribution } from '../../service/distribution';
import type { HandoutApp } from '../server';

/** `targets`: the explicit targets (a group's members are counted when its stage is published). */
const DistributionStarted = TaskStarted.extend({ targets: z.number().int() });

export function registerDistributionRoutes(app: HandoutApp, deps: ServiceDeps): void {
  app.post('/distributions', { schema: { tags: ['distribution'], body: DistributeRequest, response: { 202: DistributionStarted } } }, async (req, reply) =>
    reply.status(202).send(await startDistribution(deps, req.principal, req.body)),
  );
}
