/** Address of the dev server started by the global setup. */
export function testTemporalAddress(): string {
  const address = process.env.HANDOUT_TEST_TEMPORAL_ADDRESS;
  if (!address) throw new Error('HANDOUT_TEST_TEMPORAL_ADDRESS is not set: run the tests with `npm test` (jest global setup)');
  return address;
}

let counter = 0;
/** A task queue of this test file alone, so workers of parallel files never take each other's tasks. */
export function uniqueTaskQueue(name: string): string {
  counter += 1;
  return `test-${name}-${process.pid}-${counter}-${Date.now().toString(36)}`;
}
