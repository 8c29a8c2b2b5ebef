#!/usr/bin/env node
// `npm install` / `npm test` hook: installs the pinned Temporal binaries into .temporal/ when missing.
// With --optional (npm install) a failure is a warning, so installing the package never breaks; `handout up`
// and `npm test` repeat the check and stop with the same explanation.
const { ensureTemporalBinaries } = require('./temporal-binaries');

const optional = process.argv.includes('--optional');
try {
  const { cli, testServer } = ensureTemporalBinaries({ needTestServer: true });
  if (process.argv.includes('--print')) console.log(JSON.stringify({ cli, testServer }));
} catch (err) {
  process.stderr.write(`handout: ${err.message}\n`);
  process.exit(optional ? 0 : 1);
}
