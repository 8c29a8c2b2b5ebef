import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const BIN = join(__dirname, '..', '..', 'bin', 'handout.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `handout` binary (a fresh Node process) and collects what it printed. */
export function runHandout(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return collect(spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** Runs a command line exactly as a user pastes it into bash, with `handout` (from `binDir`) on the PATH. */
export function runShell(commandLine: string, env: NodeJS.ProcessEnv, binDir: string): Promise<CliResult> {
  return collect(spawn('bash', ['-c', commandLine], { env: { ...env, PATH: `${binDir}:${process.env.PATH}` }, stdio: ['ignore', 'pipe', 'pipe'] }));
}

function collect(child: ChildProcess): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `runHandout` that must succeed; returns stdout. */
export async function handoutOk(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const result = await runHandout(args, env);
  if (result.code !== 0) throw new Error(`handout ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

/** `handout … -f json`, parsed. */
export async function handoutJson<T = unknown>(args: string[], env: NodeJS.ProcessEnv): Promise<T> {
  return JSON.parse(await handoutOk([...args, '-f', 'json'], env)) as T;
}

export interface RunningUp {
  proc: ChildProcess;
  apiUrl: string;
  webUiUrl: string;
  /** Printed on the first start only. */
  bootstrapKey: string | null;
  stdout(): string;
  stderr(): string;
  /** Sends a signal and waits for the process to exit; returns its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `handout up` as its own process group (so a test can also kill the Temporal child it
 * spawns) and waits until it says it is up.
 */
export function startHandoutUp(env: NodeJS.ProcessEnv, timeoutMs = 90_000): Promise<RunningUp> {
  const proc = spawn(process.execPath, [BIN, 'up'], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`handout up did not come up in time:\n${out}\n${err}`)), timeoutMs);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`handout up exited with ${code} before it was up:\n${out}\n${err}`));
    });
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (!out.includes('Press Ctrl-C to stop.')) return;
      clearTimeout(timer);
      resolve({
        proc,
        apiUrl: /API:\s+(\S+)/.exec(out)![1]!,
        webUiUrl: /Temporal Web UI:\s+(\S+)/.exec(out)![1]!,
        bootstrapKey: /export HANDOUT_API_KEY=(\S+)/.exec(out)?.[1] ?? null,
        stdout: () => out,
        stderr: () => err,
        async stop(signal: NodeJS.Signals = 'SIGTERM') {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
          return exited;
        },
      });
    });
  });
}

/** Asserts the CLI's error contract: exit 1, exactly one line on stderr, no stack trace. */
export function expectCliError(result: CliResult, message: RegExp): void {
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 1, stderr: expect.stringMatching(message) });
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}
