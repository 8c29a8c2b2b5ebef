#!/usr/bin/env node
// Copies non-TypeScript assets (SQL migrations) next to the compiled code in dist/.
const { cpSync, rmSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const from = join(root, 'src/store/catalog/migrations');
const to = join(root, 'dist/store/catalog/migrations');
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true });
