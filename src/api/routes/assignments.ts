import { z } from 'zod';
import { TaskStarted } from '../../domain/api';
import type { Readable } from 'node:stream';
import { AssignmentView, CreateAssignment, ExtendRequest, FeedbackView, GradeRow, HandinReceipt, HandinView, PutFeedback, ReleaseFeedback, StudentStatusRow, UpdateAssignment } from '../../domain/assignments';
import * as feedback from '../../service/feedback';
import { invalidInput } from '../../service/errors';
import * as assignments from '../../service/assignments';
import { assignmentStatus } from '../../service/assignment-status';
import type { ServiceDeps } from '../../service/deps';
import * as handins from '../../service/handins';
import type { HandoutApp } from '../server';

const SpaceParams = z.object({ org: z.string(), space: z.string() });
const AssignmentParams = SpaceParams.extend({ assignment: z.string() });
const PREFIX = '/orgs/:org/spaces/:space/assignments';
const StudentQuery = z.object({ student: z.string().max(320).optional() });
const SubmitBody = z.object({ identifier: z.string().max(200).optional(), student: z.string().max(320).optional() }).strict();
const Extended = z.object({ student: z.string().nullable(), instance: z.string(), until: z.string(), until_utc: z.string() });

export function registerAssignmentRoutes(app: HandoutApp, deps: ServiceDeps): void {
  const tags = ['assignments'];
  app.post(PREFIX, { schema: { tags, params: SpaceParams, body: CreateAssignment, response: { 202: TaskStarted.extend({ assignment: AssignmentView }) } } }, async (req, reply) =>
    reply.status(202).send(await assignments.createAssignment(deps, req.principal, req.params.org, req.params.space, req.body)),
  );
  app.get(PREFIX, { schema: { tags, params: SpaceParams, response: { 200: z.array(AssignmentView) } } }, (req) => assignments.listAssignments(deps, req.principal, req.params.org, req.params.space));
  app.get(`${PREFIX}/:assignment`, { schema: { tags, params: AssignmentParams, response: { 200: AssignmentView } } }, (req) =>
    assignments.getAssignment(deps, req.principal, req.params.org, req.params.space, req.params.assignment),
  );
  app.post(`${PREFIX}/:assignment/update`, { schema: { tags, params: AssignmentParams, body: UpdateAssignment, response: { 200: AssignmentView } } }, (req) =>
    assignments.updateAssignment(deps, req.principal, req.params.org, req.params.space, req.params.assignment, req.body),
  );
  app.post(`${PREFIX}/:assignment/cancel`, { schema: { tags, params: AssignmentParams, response: { 200: AssignmentView } } }, (req) =>
    assignments.cancelAssignment(deps, req.principal, req.params.org, req.params.space, req.params.assignment),
  );
  app.post(`${PREFIX}/:assignment/extend`, { schema: { tags, params: AssignmentParams, body: ExtendRequest, response: { 200: Extended } } }, (req) =>
    assignments.extendAssignment(deps, req.principal, req.params.org, req.params.space, req.params.assignment, req.body),
  );
  app.get(`${PREFIX}/:assignment/status`, { schema: { tags, params: AssignmentParams, response: { 200: z.array(StudentStatusRow) } } }, (req) =>
    assignmentStatus(deps, req.principal, req.params.org, req.params.space, req.params.assignment),
  );
  app.post(`${PREFIX}/:assignment/handins`, { schema: { tags, params: AssignmentParams, body: SubmitBody, response: { 201: HandinReceipt } } }, async (req, reply) =>
    reply.status(201).send(await handins.submitHandin(deps, req.principal, req.params.org, req.params.space, req.params.assignment, req.body, req.receivedAt)),
  );
  app.get(`${PREFIX}/:assignment/handins`, { schema: { tags, params: AssignmentParams, querystring: StudentQuery, response: { 200: z.array(HandinView) } } }, (req) =>
    handins.listHandins(deps, req.principal, req.params.org, req.params.space, req.params.assignment, req.query.student),
  );
  app.get(
    `${PREFIX}/:assignment/handins/:version`,
    { schema: { tags, params: AssignmentParams.extend({ version: z.coerce.number().int().positive() }), querystring: StudentQuery, response: { 200: HandinView } } },
    (req) => handins.getHandin(deps, req.principal, req.params.org, req.params.space, req.params.assignment, req.params.version, req.query.student),
  );
  app.put(`${PREFIX}/:assignment/feedback/files`, { schema: { tags, params: AssignmentParams, response: { 201: z.object({ sha256: z.string(), size: z.number() }) } } }, async (req, reply) => {
    if (!req.headers['content-type']?.startsWith('application/octet-stream')) throw invalidInput('send the file as Content-Type: application/octet-stream');
    return reply.status(201).send(await feedback.uploadFeedbackFile(deps, req.principal, req.params.org, req.params.space, req.params.assignment, req.body as Readable));
  });
  app.post(`${PREFIX}/:assignment/feedback`, { schema: { tags, params: AssignmentParams, body: PutFeedback, response: { 201: FeedbackView } } }, async (req, reply) =>
    reply.status(201).send(await feedback.putFeedback(deps, req.principal, req.params.org, req.params.space, req.params.assignment, req.body)),
  );
  app.get(`${PREFIX}/:assignment/feedback`, { schema: { tags, params: AssignmentParams, querystring: StudentQuery, response: { 200: z.array(FeedbackView) } } }, (req) =>
    feedback.getFeedback(deps, req.principal, req.params.org, req.params.space, req.params.assignment, req.query.student),
  );
  app.post(`${PREFIX}/:assignment/feedback/release`, { schema: { tags, params: AssignmentParams, body: ReleaseFeedback, response: { 202: TaskStarted.extend({ students: z.number().int() }) } } }, async (req, reply) =>
    reply.status(202).send(await feedback.releaseFeedback(deps, req.principal, req.params.org, req.params.space, req.params.assignment, req.body)),
  );
  app.get(`${PREFIX}/:assignment/grades`, { schema: { tags, params: AssignmentParams, response: { 200: z.array(GradeRow) } } }, (req) =>
    feedback.exportGrades(deps, req.principal, req.params.org, req.params.space, req.params.assignment),
  );
}
