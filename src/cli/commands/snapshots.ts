import { Command } from 'commander';
import type { TaskStarted } from '../../domain/api';
import type { SnapshotView } from '../../domain/snapshots';
import { ApiClient, enc, instanceApiPath } from '../client';
import { CliError } from '../errors';
import { formatOption, withContext, withWait, type CommonOpts } from '../options';
import { print, render, renderRecord, type Column } from '../output';
import { resolveContext } from '../settings';
import { waitForTask } from '../wait';

const snapshotColumns: Column<SnapshotView>[] = [
  { header: 'name', value: (s) => s.name },
  { header: 'kind', value: (s) => s.kind },
  { header: 'created_at', value: (s) => s.created_at },
  { header: 'created_by', value: (s) => s.created_by },
  { header: 'files', value: (s) => s.files },
  { header: 'bytes', value: (s) => s.bytes },
  { header: 'tables', value: (s) => s.tables },
  { header: 'apps', value: (s) => s.apps },
  { header: 'description', value: (s) => s.description },
];

/** Comma-separated list option, as the platform's --files/--tables/--apps. */
export const csvList = (value: string): string[] => value.split(',').map((s) => s.trim()).filter(Boolean);

/** Prints a started task, or waits for it and prints how it ended. */
export async function startedOrWaited(client: ApiClient, started: TaskStarted, o: CommonOpts): Promise<void> {
  print(renderRecord(o.wait ? await waitForTask(client, started.task_id, o.timeout ?? 600) : started, o.format));
}

export function snapshotsCommand(): Command {
  const snapshots = new Command('snapshots').description('immutable snapshots of an instance (files, tables, apps)');
  withContext(snapshots.command('list'), 'instance')
    .addOption(formatOption())
    .action(async (o: CommonOpts) => {
      const ref = resolveContext('instance', o);
      print(render(await ApiClient.fromEnvironment().get<SnapshotView[]>(`${instanceApiPath(ref)}/snapshots`), o.format, snapshotColumns));
    });
  withWait(withContext(snapshots.command('create').description('snapshot the current state (a task)'), 'instance'))
    .requiredOption('-n, --name <name>', 'snapshot name')
    .option('-d, --description <text>', 'description')
    .option('-e, --email', 'e-mail me when the snapshot is complete (or has failed)', false)
    .addOption(formatOption())
    .action(async (o: CommonOpts & { name: string; description?: string; email: boolean }) => {
      const ref = resolveContext('instance', o);
      const client = ApiClient.fromEnvironment();
      await startedOrWaited(client, await client.post<TaskStarted>(`${instanceApiPath(ref)}/snapshots`, { name: o.name, description: o.description, email: o.email }), o);
    });
  withContext(snapshots.command('get'), 'instance')
    .requiredOption('-p, --snapshot <name>', 'snapshot name')
    .addOption(formatOption())
    .action(async (o: CommonOpts & { snapshot: string }) => {
      const ref = resolveContext('instance', o);
      print(renderRecord(await ApiClient.fromEnvironment().get<SnapshotView>(`${instanceApiPath(ref)}/snapshots/${enc(o.snapshot)}`), o.format));
    });
  withWait(withContext(snapshots.command('delete').description('delete a snapshot for good; frees storage no other snapshot shares'), 'instance'))
    .requiredOption('-p, --snapshot <name>', 'snapshot name')
    .addOption(formatOption())
    .action(async (o: CommonOpts & { snapshot: string }) => {
      const ref = resolveContext('instance', o);
      const client = ApiClient.fromEnvironment();
      await startedOrWaited(client, await client.delete<TaskStarted>(`${instanceApiPath(ref)}/snapshots/${enc(o.snapshot)}`), o);
    });
  withWait(withContext(snapshots.command('restore').description('restore a snapshot, whole or in part, after a safety snapshot of the target'), 'instance'))
    .requiredOption('-p, --snapshot <name>', 'snapshot to restore')
    .option('--target-org <slug>', 'restore into another instance: its org')
    .option('--target-space <slug>', 'restore into another instance: its space')
    .option('--target-instance <slug>', 'restore into another instance: its slug')
    .option('--files <paths>', 'comma-separated /files/... paths to restore', csvList)
    .option('--tables <names>', 'comma-separated table names to restore', csvList)
    .option('--apps <slugs>', 'comma-separated app slugs to restore', csvList)
    .addOption(formatOption())
    .action(async (o: CommonOpts & { snapshot: string; targetOrg?: string; targetSpace?: string; targetInstance?: string; files?: string[]; tables?: string[]; apps?: string[] }) => {
      const ref = resolveContext('instance', o);
      const targetGiven = [o.targetOrg, o.targetSpace, o.targetInstance].filter((v) => v !== undefined).length;
      if (targetGiven !== 0 && targetGiven !== 3) throw new CliError('--target-org, --target-space and --target-instance go together');
      const target = targetGiven === 3 ? { org_slug: o.targetOrg!, space_slug: o.targetSpace!, instance_slug: o.targetInstance! } : undefined;
      const client = ApiClient.fromEnvironment();
      const started = await client.post<TaskStarted>(`${instanceApiPath(ref)}/snapshots/${enc(o.snapshot)}/restore`, { target, files: o.files, tables: o.tables, apps: o.apps });
      await startedOrWaited(client, started, o);
    });
  return snapshots;
}
