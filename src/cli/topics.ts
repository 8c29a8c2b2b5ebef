import type { Command } from 'commander';

// Every top-level command of `handout`, in the order `handout --help` lists them. A command's module
// is required only when the command is built, so `handout snapshots …` loads the snapshots command and
// what it needs rather than every topic (all of them together cost a command ~30 ms of start-up).

export interface Topic {
  name: string;
  build: () => Command;
}

const up = () => require('./commands/up') as typeof import('./commands/up');
const identity = () => require('./commands/identity') as typeof import('./commands/identity');
const directory = () => require('./commands/directory') as typeof import('./commands/directory');
const tasks = () => require('./commands/tasks') as typeof import('./commands/tasks');
const audit = () => require('./commands/audit') as typeof import('./commands/audit');
const files = () => require('./commands/files') as typeof import('./commands/files');
const tables = () => require('./commands/tables') as typeof import('./commands/tables');
const apps = () => require('./commands/apps') as typeof import('./commands/apps');
const snapshots = () => require('./commands/snapshots') as typeof import('./commands/snapshots');
const distribution = () => require('./commands/distribution') as typeof import('./commands/distribution');
const assignments = () => require('./commands/assignments') as typeof import('./commands/assignments');
const handins = () => require('./commands/handins') as typeof import('./commands/handins');

export const TOPICS: readonly Topic[] = [
  { name: 'up', build: () => up().upCommand() },
  { name: 'config', build: () => identity().configCommand() },
  { name: 'info', build: () => identity().infoCommand() },
  { name: 'orgs', build: () => directory().orgsCommand() },
  { name: 'spaces', build: () => directory().spacesCommand() },
  { name: 'instances', build: () => directory().instancesCommand() },
  { name: 'users', build: () => identity().usersCommand() },
  { name: 'keys', build: () => identity().keysCommand() },
  { name: 'roles', build: () => identity().rolesCommand() },
  { name: 'tasks', build: () => tasks().tasksCommand() },
  { name: 'audit', build: () => audit().auditCommand() },
  { name: 'files', build: () => files().filesCommand() },
  { name: 'tables', build: () => tables().tablesCommand() },
  { name: 'apps', build: () => apps().appsCommand() },
  { name: 'snapshots', build: () => snapshots().snapshotsCommand() },
  { name: 'distribution', build: () => distribution().distributionCommand() },
  { name: 'assignments', build: () => assignments().assignmentsCommand() },
  { name: 'handin', build: () => handins().handinCommand() },
  { name: 'feedback', build: () => handins().feedbackCommand() },
  { name: 'grades', build: () => handins().gradesCommand() },
];

/**
 * The topics a command line needs: only the one it names, or none for `--version` (commander prints
 * the version as soon as it reads the option); anything else (no command, help, an unknown command)
 * gets them all, so help and "Did you mean …?" read as they always have.
 */
export function topicsFor(argv: readonly string[]): readonly Topic[] {
  const first = argv[2];
  if (first === '-V' || first === '--version') return [];
  const named = TOPICS.find((t) => t.name === first);
  return named ? [named] : TOPICS;
}
