// Every workflow the worker runs. Deterministic code only: no Node built-ins, no I/O, no clocks.
export { createInstanceWorkflow } from './create-instance';
export type { CreateInstanceInput, CreateInstanceResult } from './create-instance';
export { keyExpiryWorkflow } from './key-expiry';
export type { KeyExpiryInput } from './key-expiry';
export { snapshotWorkflow } from './snapshot';
export type { SnapshotInput } from './snapshot';
export { restoreWorkflow } from './restore';
export type { RestoreInput, RestoreResult } from './restore';
export { blobGarbageWorkflow } from './garbage';
export { progressQuery } from './progress';
export { distributionWorkflow, targetsQuery } from './distribution';
export { lateJoinerWorkflow } from './distribution-target';
export { assignmentWorkflow } from './assignment';
export { studentAssignmentWorkflow, handInUpdate, setDeadlinesSignal, studentStateQuery } from './assignment-student';
export { feedbackReleaseWorkflow } from './feedback-release';
export { mailDeliveryWorkflow } from './mail-delivery';
