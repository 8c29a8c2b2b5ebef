import { Command, InvalidArgumentError, Option } from 'commander';
import type { TaskStarted } from '../../domain/api';
import type { Strategies } from '../../domain/distribution';
import type { TaskView } from '../../domain/tasks';
import { ApiClient, enc } from '../client';
import { CliError } from '../errors';
import { formatOption, withContext, withWait, type CommonOpts } from '../options';
import { print, renderRecord } from '../output';
import { resolveContext } from '../settings';
import { printTask } from '../task-view';
import { waitForTask } from '../wait';
import { csvList } from './snapshots';

/** The domain's distribution rules, loaded when an option needs them (they bring zod, ~40 ms). */
const distributionRules = () => require('../../domain/distribution') as typeof import('../../domain/distribution');

/** `--targets`: a JSON array of targets, checked here so a typo fails before anything is sent. */
function parseTargets(text: string): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`--targets is not valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0) throw new InvalidArgumentError('--targets must be a non-empty JSON array of targets');
  parsed.forEach((t, i) => {
    const check = distributionRules().DistributionTarget.safeParse(t);
    if (!check.success) throw new InvalidArgumentError(`target ${i + 1} (${JSON.stringify(t)}): ${check.error.issues[0]?.message}`);
  });
  return parsed;
}

function strategyOption(text: string): Strategies {
  try {
    return distributionRules().parseStrategies(text);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

interface DistributeOpts extends CommonOpts {
  targets: unknown[];
  snapshot: string;
  apps?: string[];
  files?: string[];
  tables?: string[];
  all?: boolean;
  strategy?: Strategies;
  autoSnapshot: boolean;
  notify: boolean;
  message?: string;
}

export function distributionCommand(): Command {
  const distribution = new Command('distribution').description('push files, tables and applications from a snapshot to other instances');
  withWait(withContext(distribution.command('distribute').description('distribute selected content of a snapshot to the development state of target instances (a task)'), 'instance'))
    .requiredOption('--targets <json>', 'JSON array of targets: {"org_slug","space_slug","instance_slug"} or {"org_slug","space_slug","group":"students"}', parseTargets)
    .option('-p, --snapshot <name>', 'snapshot to distribute from', 'development')
    .option('--apps <slugs>', 'comma-separated application slugs to distribute', csvList)
    .option('--files <paths>', 'comma-separated /files/... paths to distribute', csvList)
    .option('--tables <names>', 'comma-separated table names to distribute', csvList)
    .option('--all', 'distribute the whole snapshot: every file, table and application')
    .option('--strategy <spec>', 'per kind: files=…,tables=…,apps=… with overwrite (default), ignore_existing, mirror or skip', strategyOption)
    .option('--auto-snapshot', 'snapshot each target before distributing', false)
    .option('--no-auto-snapshot', 'do not snapshot the targets first (default)')
    .option('--notify', 'mail the users of each target when their content has arrived', false)
    .option('--no-notify', 'send no mail (default)')
    .option('--message <text>', 'custom message in the notification mail')
    .addOption(formatOption(['tabulated', 'json', 'yaml']))
    .action(async (o: DistributeOpts) => {
      const source = resolveContext('instance', o);
      const client = ApiClient.fromEnvironment();
      const started = await client.post<TaskStarted & { targets: number }>('/distributions', {
        source,
        snapshot: o.snapshot,
        targets: o.targets,
        files: o.files,
        tables: o.tables,
        apps: o.apps,
        all: o.all,
        strategy: o.strategy,
        auto_snapshot: o.autoSnapshot,
        notify: o.notify,
        message: o.message,
      });
      if (!o.wait) return print(renderRecord(started, o.format));
      try {
        printTask(await waitForTask(client, started.task_id, o.timeout ?? 600), o.format);
      } catch (err) {
        // A failed distribution still reports every target: print the table, then fail.
        if (err instanceof CliError) {
          const task = await client.get<TaskView>(`/tasks/${enc(started.task_id)}`).catch(() => null);
          if (task?.targets) printTask(task, o.format);
        }
        throw err;
      }
    });
  return distribution;
}
