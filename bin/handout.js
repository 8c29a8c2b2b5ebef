#!/usr/bin/env node
'use strict';
// The `handout` command. Runs the compiled CLI (npm install builds it).
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const entry = join(__dirname, '..', 'dist', 'cli', 'main.js');
if (!existsSync(entry)) {
  process.stderr.write('Error: Handout is not built yet: run "npm install" (or "npm run build") in ' + join(__dirname, '..') + '\n');
  process.exit(1);
}
require(entry).main(process.argv);
