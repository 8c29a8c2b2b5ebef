import { Command } from 'commander';
import type { AppView } from '../../domain/apps';
import { ApiClient, enc, instanceApiPath } from '../client';
import { CliError } from '../errors';
import { formatOption, snapshotOption, withContext, type CommonOpts } from '../options';
import { print, render, type Column } from '../output';
import { resolveContext } from '../settings';

const appColumns: Column<AppView>[] = [
  { header: 'slug', value: (a) => a.slug },
  { header: 'name', value: (a) => a.name },
  { header: 'base_image', value: (a) => a.base_image },
  { header: 'packages', value: (a) => a.packages.length },
  { header: 'env', value: (a) => a.env.map((e) => (e.license_related ? `${e.name} (license)` : e.name)).join(' ') },
  { header: 'licensed', value: (a) => (a.licensed ? 'yes' : '') },
  { header: 'updated_at', value: (a) => a.updated_at },
];

const collect = (value: string, previous: string[] = []) => [...previous, value];

interface AppOpts extends CommonOpts {
  slug?: string;
  name?: string;
  baseImage?: string;
  package?: string[];
  env?: string[];
  licenseEnv?: string[];
  startupCommand?: string;
  licensed?: boolean;
}

function envVars(plain: string[] = [], license: string[] = []) {
  const parse = (pair: string, license_related: boolean) => {
    const at = pair.indexOf('=');
    if (at <= 0) throw new CliError(`environment variables are NAME=VALUE, got "${pair}"`);
    return { name: pair.slice(0, at), value: pair.slice(at + 1), license_related };
  };
  return [...plain.map((p) => parse(p, false)), ...license.map((p) => parse(p, true))];
}

/** The config options; `creating`: the name and base image must be given (checked before any request). */
function withAppOptions(cmd: Command, creating = false): Command {
  const option = creating ? cmd.requiredOption.bind(cmd) : cmd.option.bind(cmd);
  option('-n, --name <name>', 'display name');
  option('--base-image <image>', 'base container image, e.g. jupyter/scipy-notebook:2026-10');
  return cmd
    .option('--package <spec>', 'an installed package (repeat for more)', collect)
    .option('--env <NAME=VALUE>', 'an environment variable (repeat for more)', collect)
    .option('--license-env <NAME=VALUE>', 'a license-related environment variable (left out of exports)', collect)
    .option('--startup-command <command>', 'command the app starts with')
    .option('--licensed', 'the app needs a license of its own (bring your own license)');
}

function configOf(o: AppOpts): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (o.name !== undefined) body.name = o.name;
  if (o.baseImage !== undefined) body.base_image = o.baseImage;
  if (o.package !== undefined) body.packages = o.package;
  if (o.env !== undefined || o.licenseEnv !== undefined) body.env = envVars(o.env, o.licenseEnv);
  if (o.startupCommand !== undefined) body.startup_command = o.startupCommand;
  if (o.licensed !== undefined) body.licensed = o.licensed;
  return body;
}

export function appsCommand(): Command {
  const apps = new Command('apps').description('application configurations of an instance');
  withContext(apps.command('list'), 'instance')
    .addOption(snapshotOption())
    .addOption(formatOption())
    .action(async (o: CommonOpts & { snapshot: string }) => {
      const ref = resolveContext('instance', o);
      print(render(await ApiClient.fromEnvironment().get<AppView[]>(`${instanceApiPath(ref)}/apps`, { snapshot: o.snapshot }), o.format, appColumns));
    });
  withAppOptions(withContext(apps.command('create').option('--slug <slug>', 'app slug (default: derived from the name)'), 'instance'), true)
    .addOption(formatOption())
    .action(async (o: AppOpts) => {
      const ref = resolveContext('instance', o);
      const created = await ApiClient.fromEnvironment().post<AppView>(`${instanceApiPath(ref)}/apps`, { ...(o.slug === undefined ? {} : { slug: o.slug }), ...configOf(o) });
      print(render([created], o.format, appColumns));
    });
  withAppOptions(withContext(apps.command('update').argument('<app>', 'app slug'), 'instance'))
    .addOption(formatOption())
    .action(async (slug: string, o: AppOpts) => {
      const ref = resolveContext('instance', o);
      const body = configOf(o);
      if (Object.keys(body).length === 0) throw new CliError('nothing to update: pass at least one of --name, --base-image, --package, --env, --license-env, --startup-command, --licensed');
      print(render([await ApiClient.fromEnvironment().post<AppView>(`${instanceApiPath(ref)}/apps/${enc(slug)}`, body)], o.format, appColumns));
    });
  withContext(apps.command('delete').argument('<app>', 'app slug'), 'instance').action(async (slug: string, o: CommonOpts) => {
    const ref = resolveContext('instance', o);
    await ApiClient.fromEnvironment().delete(`${instanceApiPath(ref)}/apps/${enc(slug)}`);
    process.stderr.write(`deleted app ${slug}\n`);
  });
  return apps;
}
