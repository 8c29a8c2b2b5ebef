import { Command } from 'commander';
import type { InstanceView, OrgView, SpaceView, TaskStarted, TaskView } from '../../domain';
import { ApiClient, enc } from '../client';
import { formatOption, withContext, withWait, type CommonOpts } from '../options';
import { print, render, renderRecord, type Column } from '../output';
import { resolveContext } from '../settings';
import { waitForTask } from '../wait';

const orgColumns: Column<OrgView>[] = [
  { header: 'slug', value: (o) => o.slug },
  { header: 'name', value: (o) => o.name },
  { header: 'created_at', value: (o) => o.created_at },
];
const spaceColumns: Column<SpaceView>[] = [
  { header: 'org', value: (s) => s.org_slug },
  { header: 'slug', value: (s) => s.slug },
  { header: 'name', value: (s) => s.name },
  { header: 'description', value: (s) => s.description },
];
const instanceColumns: Column<InstanceView>[] = [
  { header: 'slug', value: (i) => i.slug },
  { header: 'name', value: (i) => i.name },
  { header: 'status', value: (i) => i.status },
  { header: 'group', value: (i) => i.group },
  { header: 'owner', value: (i) => i.owner },
  { header: 'description', value: (i) => i.description },
  { header: 'created_at', value: (i) => i.created_at },
];

export function orgsCommand(): Command {
  const orgs = new Command('orgs').description('organizations');
  orgs.command('list').description('list the organizations you can see').addOption(formatOption()).action(async (o: CommonOpts) => {
    print(render(await ApiClient.fromEnvironment().get<OrgView[]>('/orgs'), o.format, orgColumns));
  });
  orgs
    .command('create')
    .description('create an organization (admin)')
    .requiredOption('--slug <slug>', 'organization slug')
    .option('-n, --name <name>', 'display name (defaults to the slug)')
    .addOption(formatOption())
    .action(async (o: CommonOpts & { slug: string; name?: string }) => {
      print(render([await ApiClient.fromEnvironment().post<OrgView>('/orgs', { slug: o.slug, name: o.name })], o.format, orgColumns));
    });
  return orgs;
}

export function spacesCommand(): Command {
  const spaces = new Command('spaces').description('spaces of an organization');
  withContext(spaces.command('list').description('list the spaces you can see'), 'org')
    .addOption(formatOption())
    .action(async (o: CommonOpts) => {
      const { org_slug } = resolveContext('org', o);
      print(render(await ApiClient.fromEnvironment().get<SpaceView[]>(`/orgs/${enc(org_slug)}/spaces`), o.format, spaceColumns));
    });
  withContext(spaces.command('create').description('create a space (admin)'), 'org')
    .requiredOption('--slug <slug>', 'space slug')
    .option('-n, --name <name>', 'display name (defaults to the slug)')
    .option('-d, --description <text>', 'description')
    .addOption(formatOption())
    .action(async (o: CommonOpts & { slug: string; name?: string; description?: string }) => {
      const { org_slug } = resolveContext('org', o);
      const created = await ApiClient.fromEnvironment().post<SpaceView>(`/orgs/${enc(org_slug)}/spaces`, { slug: o.slug, name: o.name, description: o.description });
      print(render([created], o.format, spaceColumns));
    });
  return spaces;
}

export function instancesCommand(): Command {
  const instances = new Command('instances').description('instances of a space');
  withContext(instances.command('list').description('list the instances you can see'), 'space')
    .addOption(formatOption())
    .action(async (o: CommonOpts) => {
      const { org_slug, space_slug } = resolveContext('space', o);
      print(render(await ApiClient.fromEnvironment().get<InstanceView[]>(`/orgs/${enc(org_slug)}/spaces/${enc(space_slug)}/instances`), o.format, instanceColumns));
    });
  withWait(withContext(instances.command('create').description('create an instance (a task; space admin)'), 'space'))
    .requiredOption('-n, --name <name>', 'display name')
    .option('--slug <slug>', 'instance slug (derived from the name if omitted)')
    .option('-d, --description <text>', 'description')
    .option('--student <email>', "a student's own instance: owned by (and editable for) this user, in the space's student group")
    .addOption(formatOption())
    .action(async (o: CommonOpts & { name: string; slug?: string; description?: string; student?: string }) => {
      const { org_slug, space_slug } = resolveContext('space', o);
      const client = ApiClient.fromEnvironment();
      const started = await client.post<TaskStarted & { instance_slug: string }>(`/orgs/${enc(org_slug)}/spaces/${enc(space_slug)}/instances`, {
        name: o.name,
        slug: o.slug,
        description: o.description,
        student: o.student,
      });
      const task: TaskView | (TaskStarted & { instance_slug: string }) = o.wait ? await waitForTask(client, started.task_id, o.timeout ?? 600) : started;
      print(renderRecord(task, o.format));
    });
  return instances;
}
