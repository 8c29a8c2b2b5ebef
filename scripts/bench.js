#!/usr/bin/env node
// `npm run bench -- <name> [args…]`: runs bench/<name>.js with the remaining arguments.
// Plain CommonJS, like the other scripts, so it runs without a build step of its own.
const { readdirSync } = require('node:fs');
const { join } = require('node:path');
const { spawn } = require('node:child_process');

const BENCH_DIR = join(__dirname, '..', 'bench');

function availableBenchmarks() {
  return readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith('.js'))
    .map((f) => f.slice(0, -'.js'.length))
    .sort();
}

const [name, ...rest] = process.argv.slice(2);
const names = availableBenchmarks();
if (!name || !names.includes(name)) {
  process.stderr.write(
    `${name ? `Error: no benchmark named "${name}".` : 'Error: name a benchmark to run.'}\n` +
      'Usage: npm run bench -- <name> [options]\n' +
      `Available: ${names.length ? names.join(', ') : '(none)'}\n` +
      'See bench/README.md for what each one measures.\n',
  );
  process.exit(1);
}

const child = spawn(process.execPath, [join(BENCH_DIR, `${name}.js`), ...rest], { stdio: 'inherit' });
// Ctrl-C reaches the child through the terminal's process group; the child cleans up and exits.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
