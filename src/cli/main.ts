import { Command, CommanderError } from 'commander';
import { HANDOUT_VERSION } from '../runtime/version';
import { appsCommand } from './commands/apps';
import { assignmentsCommand } from './commands/assignments';
import { feedbackCommand, gradesCommand, handinCommand } from './commands/handins';
import { auditCommand } from './commands/audit';
import { instancesCommand, orgsCommand, spacesCommand } from './commands/directory';
import { distributionCommand } from './commands/distribution';
import { filesCommand } from './commands/files';
import { configCommand, infoCommand, keysCommand, rolesCommand, usersCommand } from './commands/identity';
import { snapshotsCommand } from './commands/snapshots';
import { tablesCommand } from './commands/tables';
import { tasksCommand } from './commands/tasks';
import { upCommand } from './commands/up';
import { CliError } from './errors';

/** The `handout` command: a thin client of the HTTP API, plus `up`, which runs the server. */
export function buildProgram(): Command {
  const program = new Command('handout')
    .description('Handout: share work between workspaces — distribution, snapshots, assignments, audit')
    .version(HANDOUT_VERSION)
    .showHelpAfterError('(run with --help for usage)');
  for (const sub of [upCommand(), configCommand(), infoCommand(), orgsCommand(), spacesCommand(), instancesCommand(), usersCommand(), keysCommand(), rolesCommand(), tasksCommand(), auditCommand(), filesCommand(), tablesCommand(), appsCommand(), snapshotsCommand(), distributionCommand(), assignmentsCommand(), handinCommand(), feedbackCommand(), gradesCommand()]) {
    program.addCommand(sub);
  }
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
    await buildProgram().parseAsync(argv);
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
