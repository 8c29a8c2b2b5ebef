import { InvalidArgumentError, Option, type Command } from 'commander';
import { FORMATS, type Format } from './output';

// Options shared by many commands, spelled as the platform's CLI spells them.

export function formatOption(choices: readonly string[] = FORMATS): Option {
  // Choices are checked while parsing, so a bad -f fails before any request is sent.
  return new Option('-f, --format <format>', 'output format').choices(choices).default('tabulated');
}

/** `-p/--snapshot` of a command that reads: a snapshot's contents, or the current state (`development`). */
export function snapshotOption(): Option {
  return new Option('-p, --snapshot <name>', 'snapshot to read; development is the current state').default('development');
}

export function withContext(cmd: Command, level: 'org' | 'space' | 'instance'): Command {
  cmd.option('-o, --org <slug>', 'organization slug');
  if (level !== 'org') cmd.option('-s, --space <slug>', 'space slug');
  if (level === 'instance') cmd.option('-i, --instance <slug>', 'instance slug');
  return cmd;
}

export function withWait(cmd: Command): Command {
  return cmd
    .option('-w, --wait', 'wait until the task has finished', false)
    .addOption(new Option('--timeout <seconds>', 'how long --wait waits').default(600).argParser(positiveInt('--timeout')));
}

export function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive whole number`);
    return n;
  };
}

export interface CommonOpts {
  format: Format;
  org?: string;
  space?: string;
  instance?: string;
  wait?: boolean;
  timeout?: number;
}
