#!/usr/bin/env node
'use strict';
// The `handout` command. Runs the compiled CLI (npm install builds it).
const { existsSync } = require('node:fs');
const { join } = require('node:path');

// File-system work (hashing, copying blobs) runs on libuv's thread pool, 4 threads by default; the
// snapshot and restore paths keep up to 16 operations in flight. Must be set before any I/O starts.
process.env.UV_THREADPOOL_SIZE = process.env.UV_THREADPOOL_SIZE || '16';

const entry = join(__dirname, '..', 'dist', 'cli', 'main.js');
if (!existsSync(entry)) {
  process.stderr.write('Error: Handout is not built yet: run "npm install" (or "npm run build") in ' + join(__dirname, '..') + '\n');
  process.exit(1);
}
// Exit as soon as the command is done: a client command must not linger on an idle socket, and a
// failed `handout up` must not hang on handles a half-started part left open. But first let stdout
// and stderr hand over everything: a pipe whose reader is slow takes 64 KiB and Node queues the rest,
// which an immediate exit would drop (a 500-target `tasks get -f json` is larger than that).
function exitWhenFlushed(code) {
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}
require(entry)
  .main(process.argv)
  .then(() => exitWhenFlushed(process.exitCode ?? 0));
