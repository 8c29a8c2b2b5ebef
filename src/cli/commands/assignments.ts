import { Command, InvalidArgumentError, Option } from 'commander';
import type { TaskStarted } from '../../domain/api';
import type { AssignmentView, LatePolicy, StudentStatusRow } from '../../domain/assignments';
import { ApiClient, enc } from '../client';
import { formatOption, withContext, withWait, type CommonOpts } from '../options';
import { print, render, renderRecord, type Column } from '../output';
import { resolveContext } from '../settings';
import { waitForTask } from '../wait';
import { csvList } from './snapshots';

// The domain's assignment rules bring zod (~40 ms of start-up): options load them only when given.
const assignmentRules = () => require('../../domain/assignments') as typeof import('../../domain/assignments');
const instanceRefSchema = () => (require('../../domain/context') as typeof import('../../domain/context')).InstanceRef;

/** The late policies, as the domain's enum lists them (test/unit/cli-topics.test.ts checks they agree). */
export const LATE_POLICIES: readonly LatePolicy[] = ['hard', 'accept-late'];

/** The API path of an assignment in the context's space. */
export function assignmentPath(o: CommonOpts, slug?: string): string {
  const { org_slug, space_slug } = resolveContext('space', o);
  return `/orgs/${enc(org_slug)}/spaces/${enc(space_slug)}/assignments${slug === undefined ? '' : `/${enc(slug)}`}`;
}

const assignmentColumns: Column<AssignmentView>[] = [
  { header: 'slug', value: (a) => a.slug },
  { header: 'name', value: (a) => a.name },
  { header: 'status', value: (a) => a.status },
  { header: 'release_at', value: (a) => a.release_at },
  { header: 'due_at', value: (a) => a.due_at },
  { header: 'late_policy', value: (a) => a.late_policy },
  { header: 'cutoff_at', value: (a) => a.cutoff_at },
  { header: 'handin', value: (a) => a.handin.join(',') },
];

const statusColumns: Column<StudentStatusRow>[] = [
  { header: 'student', value: (r) => r.student },
  { header: 'instance', value: (r) => r.instance },
  { header: 'state', value: (r) => r.state },
  { header: 'version', value: (r) => r.latest_version },
  { header: 'handed_in_at', value: (r) => r.handed_in_at },
  { header: 'sha256', value: (r) => r.sha256?.slice(0, 12) ?? null },
  { header: 'effective_deadline', value: (r) => r.effective_deadline },
  { header: 'feedback', value: (r) => r.feedback },
];

/** `--targets group` or a JSON list of student instances. */
function targetsOption(text: string): 'group' | unknown[] {
  if (text === 'group') return 'group';
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new InvalidArgumentError('--targets is "group" (every student of the space) or a JSON array of {"org_slug","space_slug","instance_slug"}');
  }
  if (!Array.isArray(parsed) || !parsed.length || !parsed.every((t) => instanceRefSchema().safeParse(t).success)) {
    throw new InvalidArgumentError('--targets must be "group" or a non-empty JSON array of {"org_slug","space_slug","instance_slug"}');
  }
  return parsed;
}

function sizeOption(text: string): number {
  const bytes = assignmentRules().parseSize(text);
  if (bytes === null) throw new InvalidArgumentError(`--size-limit "${text}" is not a size such as 50MB, 1.5GB or 200KiB`);
  return bytes;
}

interface CreateOpts extends CommonOpts {
  name: string;
  slug?: string;
  description?: string;
  snapshot?: string;
  files?: string[];
  tables?: string[];
  apps?: string[];
  handin: string[];
  targets: 'group' | unknown[];
  dueAt: string;
  timezone: string;
  releaseAt?: string;
  latePolicy?: LatePolicy;
  cutoffAt?: string;
  sizeLimit?: number;
  notify: boolean;
  message?: string;
}

export function assignmentsCommand(): Command {
  const cmd = new Command('assignments').description('assignments: material, a deadline, hand-ins, collection and feedback (space admins)');
  withWait(withContext(cmd.command('create').description('create an assignment from an instance of the space; released at --release-at (or now)'), 'instance'))
    .requiredOption('-n, --name <name>', 'assignment name')
    .option('--slug <slug>', 'short name used in commands (derived from the name if omitted)')
    .option('-d, --description <text>', 'description')
    .option('-p, --snapshot <name>', 'snapshot the material comes from', 'development')
    .option('--files <paths>', 'comma-separated /files/... paths of the material', csvList)
    .option('--tables <names>', 'comma-separated tables of the material', csvList)
    .option('--apps <slugs>', 'comma-separated applications of the material', csvList)
    .requiredOption('--handin <paths>', 'comma-separated /files/... paths collected from each student (inside the material)', csvList)
    .requiredOption('--targets <group|json>', '"group" (every student of the space, also those who join later) or a JSON array of student instances', targetsOption)
    .requiredOption('--due-at <time>', 'deadline: 2027-01-31T23:59 in --timezone, or an ISO time with an offset')
    .requiredOption('--timezone <zone>', 'IANA time zone of the course, e.g. Europe/Zurich')
    .option('--release-at <time>', 'when the material is distributed (default: now)')
    .addOption(new Option('--late-policy <policy>', 'hard: nothing after the deadline; accept-late: flagged late until --cutoff-at').choices(LATE_POLICIES))
    .option('--cutoff-at <time>', 'with accept-late: the last moment a late hand-in is accepted')
    .option('--size-limit <size>', 'largest hand-in, e.g. 50MB', sizeOption)
    .option('--notify', 'mail the students when the material arrives', false)
    .option('--no-notify', 'send no mail (default)')
    .option('--message <text>', 'custom message in that mail')
    .addOption(formatOption(['tabulated', 'json', 'yaml']))
    .action(async (o: CreateOpts) => {
      const source = resolveContext('instance', o);
      const client = ApiClient.fromEnvironment();
      const started = await client.post<TaskStarted & { assignment: AssignmentView }>(assignmentPath(o), {
        name: o.name,
        slug: o.slug,
        description: o.description,
        source,
        snapshot: o.snapshot,
        files: o.files,
        tables: o.tables,
        apps: o.apps,
        handin: o.handin,
        targets: o.targets,
        due_at: o.dueAt,
        timezone: o.timezone,
        release_at: o.releaseAt,
        late_policy: o.latePolicy,
        cutoff_at: o.cutoffAt,
        size_limit_bytes: o.sizeLimit,
        notify: o.notify,
        message: o.message,
      });
      if (o.wait) await waitForTask(client, started.task_id, o.timeout ?? 600);
      print(renderRecord(o.wait ? await client.get<AssignmentView>(assignmentPath(o, started.assignment.slug)) : { ...started.assignment, task_id: started.task_id }, o.format));
    });
  withContext(cmd.command('list').description('assignments of the space'), 'space')
    .addOption(formatOption(['tabulated', 'json', 'yaml']))
    .action(async (o: CommonOpts) => print(render(await ApiClient.fromEnvironment().get<AssignmentView[]>(assignmentPath(o)), o.format, assignmentColumns)));
  withContext(cmd.command('get').description('one assignment, times in its time zone').argument('<assignment>'), 'space')
    .addOption(formatOption(['tabulated', 'json', 'yaml']))
    .action(async (slug: string, o: CommonOpts) => print(renderRecord(await ApiClient.fromEnvironment().get<AssignmentView>(assignmentPath(o, slug)), o.format)));
  withContext(cmd.command('status').description('one row per student: state, latest version, time, hash, effective deadline').argument('<assignment>'), 'space')
    .addOption(formatOption())
    .action(async (slug: string, o: CommonOpts) => print(render(await ApiClient.fromEnvironment().get<StudentStatusRow[]>(`${assignmentPath(o, slug)}/status`), o.format, statusColumns)));
  withContext(cmd.command('update').description('change the deadline, cut-off, description or hand-back visibility').argument('<assignment>'), 'space')
    .option('--due-at <time>', 'new deadline (students with an extension keep theirs)')
    .option('--cutoff-at <time>', 'new cut-off for late hand-ins')
    .option('-d, --description <text>', 'new description')
    .option('--handback-visible', 'make released feedback visible')
    .option('--no-handback-visible', 'hide it')
    .addOption(formatOption(['tabulated', 'json', 'yaml']))
    .action(async (slug: string, o: CommonOpts & { dueAt?: string; cutoffAt?: string; description?: string; handbackVisible?: boolean }) =>
      print(
        renderRecord(
          await ApiClient.fromEnvironment().post<AssignmentView>(`${assignmentPath(o, slug)}/update`, { due_at: o.dueAt, cutoff_at: o.cutoffAt, description: o.description, handback_visible: o.handbackVisible }),
          o.format,
        ),
      ),
    );
  withContext(cmd.command('extend').description("extend one student's deadline (after the deadline it reopens hand-in)").argument('<assignment>'), 'space')
    .requiredOption('--student <student>', 'student e-mail or instance slug')
    .requiredOption('--until <time>', 'the new deadline for this student')
    .addOption(formatOption(['tabulated', 'json', 'yaml']))
    .action(async (slug: string, o: CommonOpts & { student: string; until: string }) =>
      print(renderRecord(await ApiClient.fromEnvironment().post<Record<string, unknown>>(`${assignmentPath(o, slug)}/extend`, { student: o.student, until: o.until }), o.format)),
    );
  withContext(cmd.command('cancel').description('stop every timer of the assignment; stored hand-ins stay').argument('<assignment>'), 'space')
    .addOption(formatOption(['tabulated', 'json', 'yaml']))
    .action(async (slug: string, o: CommonOpts) => print(renderRecord(await ApiClient.fromEnvironment().post<AssignmentView>(`${assignmentPath(o, slug)}/cancel`), o.format)));
  return cmd;
}
