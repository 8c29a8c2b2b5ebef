#!/usr/bin/env node
// Builds the workflow bundle once (at `npm run build`), so neither `handout up` nor a test waits for webpack.
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { bundleWorkflowCode } = require('@temporalio/worker');

const root = join(__dirname, '..');
bundleWorkflowCode({ workflowsPath: join(root, 'dist/workflows/index.js'), logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error } })
  .then(({ code }) => writeFileSync(join(root, 'dist/workflow-bundle.js'), code))
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
