import { Command, CommanderError } from 'commander';
import { HANDOUT_VERSION } from '../runtime/version';
import { CliError } from './errors';
import { TOPICS, topicsFor } from './topics';

/**
 * The `handout` command: a thin client of the HTTP API, plus `up`, which runs the server. Given the
 * command line, it holds only the topics that line needs (see `topicsFor`); without one, all of them.
 */
export function buildProgram(argv?: readonly string[]): Command {
  const program = new Command('handout')
    .description('Handout: share work between workspaces — distribution, snapshots, assignments, audit')
    .version(HANDOUT_VERSION)
    .showHelpAfterError('(run with --help for usage)');
  for (const topic of argv ? topicsFor(argv) : TOPICS) program.addCommand(topic.build());
  // Every level: usage errors exit 1 with one line, never a stack trace.
  const configure = (cmd: Command) => {
    cmd.exitOverride().configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: (s, write) => write(s) });
    cmd.showHelpAfterError(false);
    cmd.commands.forEach(configure);
  };
  configure(program);
  return program;
}

/** Runs the CLI and exits: 0 on success, 1 with one line on stderr on any error. */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram(argv).parseAsync(argv);
    process.exitCode = 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are "errors" to commander; they already printed what they had to.
      process.exitCode = err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 1;
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`Error: ${message.split('\n')[0]}\n`);
    if (err instanceof CliError && err.detail) process.stderr.write(`${err.detail.trimEnd()}\n`);
    if (process.env.HANDOUT_DEBUG && err instanceof Error && !(err instanceof CliError)) process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  }
}
