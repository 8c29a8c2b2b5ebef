import type { Command } from 'commander';
import { LatePolicy } from '../../src/domain/assignments';
import { FINISHED_STATUSES as DOMAIN_FINISHED, TaskStatus } from '../../src/domain/tasks';
import { LATE_POLICIES } from '../../src/cli/commands/assignments';
import { buildProgram } from '../../src/cli/main';
import { FINISHED_STATUSES, TASK_STATUSES } from '../../src/cli/task-view';
import { TOPICS, topicsFor } from '../../src/cli/topics';

const argv = (...args: string[]) => ['node', 'handout', ...args];

/** Every command's help, by its full name, as commander writes it. */
function helpTexts(cmd: Command, prefix = ''): Record<string, string> {
  const name = `${prefix}${cmd.name()}`;
  return Object.assign({ [name]: cmd.helpInformation() }, ...cmd.commands.map((sub) => helpTexts(sub, `${name} `)));
}

describe('the CLI loads only the topic a command line names', () => {
  it('lists every topic under the name of the command it builds, in the order help shows them', () => {
    expect(TOPICS.map((t) => t.build().name())).toEqual(TOPICS.map((t) => t.name));
    expect(buildProgram().commands.map((c) => c.name())).toEqual(TOPICS.map((t) => t.name));
  });

  it('builds one topic for a command of that topic, none for --version, and all otherwise', () => {
    expect(topicsFor(argv('snapshots', 'list', '-o', 'uni')).map((t) => t.name)).toEqual(['snapshots']);
    expect(topicsFor(argv('info')).map((t) => t.name)).toEqual(['info']);
    expect(topicsFor(argv('--version'))).toEqual([]);
    expect(topicsFor(argv('-V'))).toEqual([]);
    for (const line of [argv(), argv('--help'), argv('-h'), argv('help', 'snapshots'), argv('snapshot'), argv('--bogus', 'snapshots')]) {
      expect(topicsFor(line)).toBe(TOPICS);
    }
  });

  it('shows the same help for a topic built alone as in the whole program', () => {
    const whole = helpTexts(buildProgram());
    for (const topic of TOPICS) {
      const alone = helpTexts(buildProgram(argv(topic.name)));
      for (const [name, text] of Object.entries(alone)) if (name !== 'handout') expect({ name, text }).toEqual({ name, text: whole[name] });
    }
  });

  it('spells out the same task statuses and late policies as the domain (kept apart so commands need no zod)', () => {
    expect(TASK_STATUSES).toEqual(TaskStatus.options);
    expect(FINISHED_STATUSES).toEqual(DOMAIN_FINISHED);
    expect(LATE_POLICIES).toEqual(LatePolicy.options);
  });
});
