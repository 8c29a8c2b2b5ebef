import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { Command } from 'commander';
import type { TaskStarted } from '../../domain/api';
import type { FeedbackView, GradeRow, HandinReceipt, HandinView } from '../../domain/assignments';
import { ApiClient } from '../client';
import { CliError } from '../errors';
import { formatOption, positiveInt, withContext, withWait, type CommonOpts } from '../options';
import { print, render, renderRecord, type Column } from '../output';
import { waitForTask } from '../wait';
import { assignmentPath } from './assignments';

const handinColumns: Column<HandinView>[] = [
  { header: 'instance', value: (h) => h.instance },
  { header: 'version', value: (h) => h.version },
  { header: 'handed_in_at', value: (h) => h.handed_in_at },
  { header: 'files', value: (h) => h.files },
  { header: 'bytes', value: (h) => h.bytes },
  { header: 'late', value: (h) => h.late },
  { header: 'auto_collected', value: (h) => h.auto_collected },
  { header: 'graded', value: (h) => h.graded },
  { header: 'sha256', value: (h) => h.sha256 },
];

const feedbackColumns: Column<FeedbackView>[] = [
  { header: 'instance', value: (f) => f.instance },
  { header: 'handin_version', value: (f) => f.handin_version },
  { header: 'version', value: (f) => f.version },
  { header: 'grade', value: (f) => f.grade },
  { header: 'files', value: (f) => f.files.map((x) => x.path).join(',') },
  { header: 'released_at', value: (f) => f.released_at },
];

const gradeColumns: Column<GradeRow>[] = (['student', 'instance', 'graded_version', 'handed_in_at', 'late', 'auto_collected', 'sha256', 'grade', 'comment', 'feedback_version', 'feedback_released'] as const).map((k) => ({
  header: k,
  value: (r: GradeRow) => r[k],
}));

export function handinCommand(): Command {
  const cmd = new Command('handin').description('hand in (students) and read hand-ins');
  withContext(cmd.command('submit').description('hand in the assignment\'s paths from your instance; prints the receipt').argument('<assignment>'), 'space')
    .option('--identifier <text>', 'a note of your own, kept with this version')
    .addOption(formatOption(['tabulated', 'json', 'yaml']))
    .action(async (slug: string, o: CommonOpts & { identifier?: string }) =>
      print(renderRecord(await ApiClient.fromEnvironment().post<HandinReceipt>(`${assignmentPath(o, slug)}/handins`, { identifier: o.identifier }), o.format)),
    );
  withContext(cmd.command('list').description('your hand-ins (space admins: everyone\'s, or --student)').argument('<assignment>'), 'space')
    .option('--student <student>', 'student e-mail or instance slug')
    .addOption(formatOption())
    .action(async (slug: string, o: CommonOpts & { student?: string }) =>
      print(render(await ApiClient.fromEnvironment().get<HandinView[]>(`${assignmentPath(o, slug)}/handins`, { student: o.student }), o.format, handinColumns)),
    );
  withContext(cmd.command('get').description('one hand-in version with its manifest').argument('<assignment>'), 'space')
    .requiredOption('--version <n>', 'hand-in version', positiveInt('--version'))
    .option('--student <student>', 'student e-mail or instance slug (space admins)')
    .addOption(formatOption(['tabulated', 'json', 'yaml']))
    .action(async (slug: string, o: CommonOpts & { version: number; student?: string }) =>
      print(renderRecord(await ApiClient.fromEnvironment().get<HandinView>(`${assignmentPath(o, slug)}/handins/${o.version}`, { student: o.student }), o.format)),
    );
  return cmd;
}

export function feedbackCommand(): Command {
  const cmd = new Command('feedback').description('feedback on hand-ins: stored apart, released into the student\'s instance');
  withContext(cmd.command('put').description('store feedback (a new version) for a student\'s hand-in').argument('<assignment>'), 'space')
    .requiredOption('--student <student>', 'student e-mail or instance slug')
    .option('--version <n>', 'hand-in version (default: the graded one)', positiveInt('--version'))
    .option('--grade <text>', 'grade, free text')
    .option('--comment <text>', 'comment')
    .option('--files <local...>', 'local files to hand back (placed by their file name)')
    .addOption(formatOption(['tabulated', 'json', 'yaml']))
    .action(async (slug: string, o: CommonOpts & { student: string; version?: number; grade?: string; comment?: string; files?: string[] }) => {
      const client = ApiClient.fromEnvironment();
      const files: { path: string; sha256: string; size: number }[] = [];
      for (const local of o.files ?? []) {
        if (!statSync(local, { throwIfNoEntry: false })?.isFile()) throw new CliError(`${local} is not a file`);
        const response = await client.send('PUT', `${assignmentPath(o, slug)}/feedback/files`, { stream: createReadStream(local) });
        const blob = (await response.json()) as { sha256: string; size: number };
        files.push({ path: basename(local), ...blob });
      }
      const stored = await client.post<FeedbackView>(`${assignmentPath(o, slug)}/feedback`, { student: o.student, version: o.version, grade: o.grade, comment: o.comment, files });
      print(renderRecord({ ...stored, files: stored.files.map((f) => f.path).join(',') }, o.format));
    });
  withContext(cmd.command('get').description('feedback: yours once released (space admins: all, or --student)').argument('<assignment>'), 'space')
    .option('--student <student>', 'student e-mail or instance slug')
    .addOption(formatOption(['tabulated', 'json', 'yaml']))
    .action(async (slug: string, o: CommonOpts & { student?: string }) =>
      print(render(await ApiClient.fromEnvironment().get<FeedbackView[]>(`${assignmentPath(o, slug)}/feedback`, { student: o.student }), o.format, feedbackColumns)),
    );
  withWait(withContext(cmd.command('release').description('copy stored feedback read-only into the students\' instances (/files/handback/<assignment>/<version>/) and mail them').argument('<assignment>'), 'space'))
    .option('--student <students...>', 'only these students (default: everyone with unreleased feedback)')
    .addOption(formatOption(['tabulated', 'json', 'yaml']))
    .action(async (slug: string, o: CommonOpts & { student?: string[] }) => {
      const client = ApiClient.fromEnvironment();
      const started = await client.post<TaskStarted & { students: number }>(`${assignmentPath(o, slug)}/feedback/release`, { students: o.student });
      print(renderRecord(o.wait ? await waitForTask(client, started.task_id, o.timeout ?? 600) : started, o.format));
    });
  return cmd;
}

export function gradesCommand(): Command {
  const cmd = new Command('grades').description('grades of an assignment');
  withContext(cmd.command('export').description('one row per student: graded version, grade, comment').argument('<assignment>'), 'space')
    .addOption(formatOption(['csv', 'json']).default('csv'))
    .action(async (slug: string, o: CommonOpts) => print(render(await ApiClient.fromEnvironment().get<GradeRow[]>(`${assignmentPath(o, slug)}/grades`), o.format, gradeColumns)));
  return cmd;
}

