import { Command } from 'commander';
import type { AuditEvent, AuditVerifyResult } from '../../domain/audit';
import { ApiClient } from '../client';
import { CliError } from '../errors';
import { formatOption, positiveInt, type CommonOpts } from '../options';
import { AUDIT_FORMATS, print, render, type Column } from '../output';

const auditColumns: Column<AuditEvent>[] = [
  { header: 'seq', value: (e) => e.seq },
  { header: 'at', value: (e) => e.at },
  { header: 'actor', value: (e) => e.actor },
  { header: 'action', value: (e) => e.action },
  { header: 'subject', value: (e) => e.subject },
  { header: 'task', value: (e) => e.task_id },
  { header: 'hash', value: (e) => e.hash.slice(0, 12) },
];

/** csv's header: every field of an audit event, from the domain's schema (loaded only for csv: it brings zod). */
const csvHeader = () => (require('../../domain/audit') as typeof import('../../domain/audit')).AuditEvent.keyof().options;

function isoOption(name: string) {
  return (value: string): string => {
    if (Number.isNaN(Date.parse(value)) || !/^\d{4}-\d{2}-\d{2}/.test(value)) throw new CliError(`${name} must be an ISO-8601 time such as 2026-11-22T10:00:00Z, got "${value}"`);
    return new Date(value).toISOString();
  };
}

export function auditCommand(): Command {
  const audit = new Command('audit').description('the hash-chained audit log (admin)');
  audit
    .command('list')
    .option('--actor <actor>', 'who (e-mail or user:<e-mail>)')
    .option('--action <action>', 'e.g. instance.created')
    .option('--subject <subject>', 'e.g. instance:org/space/slug')
    .option('--since <iso>', 'at or after this time', isoOption('--since'))
    .option('--until <iso>', 'at or before this time', isoOption('--until'))
    .option('--limit <n>', 'at most this many', positiveInt('--limit'))
    .addOption(formatOption(AUDIT_FORMATS))
    .action(async (o: CommonOpts & { actor?: string; action?: string; subject?: string; since?: string; until?: string; limit?: number }) => {
      const events = await ApiClient.fromEnvironment().get<AuditEvent[]>('/audit', {
        actor: o.actor,
        action: o.action,
        subject: o.subject,
        since: o.since,
        until: o.until,
        limit: o.limit,
      });
      print(render(events, o.format, auditColumns, o.format === 'csv' ? csvHeader() : undefined));
    });
  audit
    .command('verify')
    .description('recompute the hash chain; exits 1 naming the first event that does not match')
    .addOption(formatOption())
    .action(async (o: CommonOpts) => {
      const result = await ApiClient.fromEnvironment().get<AuditVerifyResult>('/audit/verify');
      if (o.format !== 'tabulated') print(render([result], o.format, []));
      if (!result.ok) throw new CliError(`audit log verification failed at event ${result.first_bad_seq}: ${result.reason}`);
      if (o.format === 'tabulated') print(`audit log OK: ${result.events_checked} events, hash chain intact`);
    });
  return audit;
}
