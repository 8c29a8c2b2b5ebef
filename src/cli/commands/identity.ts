import { Command, Option } from 'commander';
import type { CreatedKey, GrantView, InfoView, KeyView, UserView } from '../../domain';
import { ApiClient, enc } from '../client';
import { CliError } from '../errors';
import { formatOption, withContext, type CommonOpts } from '../options';
import { print, render, renderRecord, type Column } from '../output';
import { resolveContext, writeConfigFile } from '../settings';

const userColumns: Column<UserView>[] = [
  { header: 'email', value: (u) => u.email },
  { header: 'name', value: (u) => u.name },
  { header: 'admin', value: (u) => (u.is_admin ? 'yes' : '') },
  { header: 'created_at', value: (u) => u.created_at },
];
const keyColumns: Column<KeyView>[] = [
  { header: 'id', value: (k) => k.id },
  { header: 'user', value: (k) => k.user_email },
  { header: 'prefix', value: (k) => k.prefix },
  { header: 'label', value: (k) => k.label },
  { header: 'created_at', value: (k) => k.created_at },
  { header: 'expires_at', value: (k) => k.expires_at },
  { header: 'revoked_at', value: (k) => k.revoked_at },
];
const grantColumns: Column<GrantView>[] = [
  { header: 'user', value: (g) => g.user_email },
  { header: 'role', value: (g) => g.role },
  { header: 'org', value: (g) => g.org_slug },
  { header: 'space', value: (g) => g.space_slug },
  { header: 'instance', value: (g) => g.instance_slug },
];

export function configCommand(): Command {
  return new Command('config')
    .description('store the API key (and API URL) in the config file')
    .option('--api-key <key>', 'API key to store')
    .option('--api-url <url>', 'API URL to store')
    .action((o: { apiKey?: string; apiUrl?: string }) => {
      if (!o.apiKey && !o.apiUrl) throw new CliError('nothing to store: pass --api-key KEY and/or --api-url URL');
      if (o.apiUrl && !/^https?:\/\//.test(o.apiUrl)) throw new CliError(`--api-url must start with http:// or https://, got "${o.apiUrl}"`);
      const path = writeConfigFile({ ...(o.apiKey ? { api_key: o.apiKey } : {}), ...(o.apiUrl ? { api_url: o.apiUrl } : {}) });
      process.stderr.write(`saved to ${path}\n`);
    });
}

export function infoCommand(): Command {
  return new Command('info')
    .description('who you are, your roles, and the server you talk to')
    .addOption(formatOption())
    .action(async (o: CommonOpts) => {
      const client = ApiClient.fromEnvironment();
      const me = await client.get<InfoView>('/info');
      if (o.format !== 'tabulated') return print(render([{ api_url: client.baseUrl, ...me }], o.format, []));
      print(renderRecord({ api_url: client.baseUrl, version: me.version, user: me.user.email, admin: me.user.is_admin, temporal_web_ui: me.temporal_web_ui }, 'tabulated'));
      if (me.grants.length) print(`\n${render(me.grants, 'tabulated', grantColumns)}`);
    });
}

export function usersCommand(): Command {
  const users = new Command('users').description('users (admin)');
  users.command('list').addOption(formatOption()).action(async (o: CommonOpts) => print(render(await ApiClient.fromEnvironment().get<UserView[]>('/users'), o.format, userColumns)));
  users
    .command('create')
    .requiredOption('--email <email>', 'e-mail address (the user name)')
    .requiredOption('-n, --name <name>', 'display name')
    .option('--admin', 'make the user an admin', false)
    .addOption(formatOption())
    .action(async (o: CommonOpts & { email: string; name: string; admin: boolean }) => {
      print(render([await ApiClient.fromEnvironment().post<UserView>('/users', { email: o.email, name: o.name, is_admin: o.admin })], o.format, userColumns));
    });
  return users;
}

export function keysCommand(): Command {
  const keys = new Command('keys').description('API keys');
  keys.command('list').addOption(formatOption()).action(async (o: CommonOpts) => print(render(await ApiClient.fromEnvironment().get<KeyView[]>('/keys'), o.format, keyColumns)));
  keys
    .command('create')
    .description('create a key; its secret is shown this once')
    .requiredOption('--user <email>', 'whose key')
    .option('--label <text>', 'what the key is for')
    .option('--expires-at <iso>', 'the key stops working at this time (ISO-8601)')
    .option('--expires-in <duration>', 'the key stops working after this long: 90m, 12h, 30d, 16w')
    .addOption(formatOption())
    .action(async (o: CommonOpts & { user: string; label?: string; expiresAt?: string; expiresIn?: string }) => {
      const expires_at = keyExpiry(o.expiresAt, o.expiresIn);
      const created = await ApiClient.fromEnvironment().post<CreatedKey>('/keys', { user_email: o.user, label: o.label, expires_at });
      print(render([created], o.format, [...keyColumns.slice(0, 3), { header: 'api_key', value: (k) => k.api_key }]));
      if (o.format === 'tabulated') process.stderr.write('Store the api_key now: it is not shown again.\n');
    });
  keys
    .command('revoke')
    .argument('<key-id>', 'id of the key (see keys list)')
    .addOption(formatOption())
    .action(async (id: string, o: CommonOpts) => print(render([await ApiClient.fromEnvironment().post<KeyView>(`/keys/${enc(id)}/revoke`)], o.format, keyColumns)));
  return keys;
}

/** `--expires-at ISO` or `--expires-in 30d` → an ISO time (or undefined); both at once is an error. */
export function keyExpiry(at: string | undefined, within: string | undefined, now = Date.now()): string | undefined {
  if (at && within) throw new CliError('pass either --expires-at or --expires-in, not both');
  if (at) {
    if (!/^\d{4}-\d{2}-\d{2}T/.test(at) || Number.isNaN(Date.parse(at))) throw new CliError(`--expires-at must be an ISO-8601 time such as 2027-02-01T00:00:00Z, got "${at}"`);
    return new Date(at).toISOString();
  }
  if (!within) return undefined;
  const match = /^(\d+)(m|h|d|w)$/.exec(within);
  if (!match || Number(match[1]) <= 0) throw new CliError(`--expires-in must be a positive number with m, h, d or w (e.g. 30d), got "${within}"`);
  const unit = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[match[2] as 'm' | 'h' | 'd' | 'w'];
  return new Date(now + Number(match[1]) * unit).toISOString();
}

type GrantOpts = CommonOpts & { user: string; role: string };
function grantBody(o: GrantOpts) {
  if (o.role === 'space_admin') {
    if (o.instance) throw new CliError('space_admin is granted on a space: leave out -i/--instance');
    return { user_email: o.user, role: o.role, ...resolveContext('space', o) };
  }
  return { user_email: o.user, role: o.role, ...resolveContext('instance', o) };
}

export function rolesCommand(): Command {
  const roles = new Command('roles').description('role grants: space_admin on a space, instance_editor / instance_viewer on an instance');
  const roleOption = () => new Option('--role <role>', 'the role').choices(['space_admin', 'instance_editor', 'instance_viewer']).makeOptionMandatory();
  roles
    .command('list')
    .option('--user <email>', 'only this user')
    .option('-o, --org <slug>', 'only this organization')
    .option('-s, --space <slug>', 'only this space')
    .addOption(formatOption())
    .action(async (o: CommonOpts & { user?: string }) => {
      const rows = await ApiClient.fromEnvironment().get<GrantView[]>('/roles', { user_email: o.user, org_slug: o.org, space_slug: o.space });
      print(render(rows, o.format, grantColumns));
    });
  withContext(roles.command('grant').requiredOption('--user <email>', 'who gets the role').addOption(roleOption()), 'instance')
    .addOption(formatOption())
    .action(async (o: GrantOpts) => print(render([await ApiClient.fromEnvironment().post<GrantView>('/roles', grantBody(o))], o.format, grantColumns)));
  withContext(roles.command('revoke').requiredOption('--user <email>', 'whose role').addOption(roleOption()), 'instance')
    .addOption(formatOption())
    .action(async (o: GrantOpts) => {
      await ApiClient.fromEnvironment().post('/roles/revoke', grantBody(o));
      process.stderr.write(`revoked ${o.role} from ${o.user}\n`);
    });
  return roles;
}
