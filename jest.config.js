/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }] },
  // One real Temporal dev server for the whole run (integration and end-to-end tests share it).
  globalSetup: '<rootDir>/test/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/test/helpers/global-teardown.ts',
  testTimeout: 120_000,
  // The machine has 2 cores; each test file starts real servers, so run two at a time at most.
  maxWorkers: 2,
  // Slow files first, so the run's wall time is not a long tail.
  testSequencer: '<rootDir>/test/helpers/sequencer.js',
};
