import { CliError } from './errors';

// Output formats shared by every command. json is always a list; yaml is one document per item.

export const FORMATS = ['tabulated', 'json', 'yaml'] as const;
export const AUDIT_FORMATS = [...FORMATS, 'csv'] as const;
export type Format = (typeof AUDIT_FORMATS)[number];

export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function table<T>(rows: T[], columns: Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => cell(c.value(r)).replace(/\s*\n\s*/g, ' ')));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const line = (parts: string[]) => parts.map((p, i) => p.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns.map((c) => c.header)), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

function csvField(value: unknown): string {
  const text = cell(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * Renders rows in the chosen format; tabulated shows the given columns, the others every field.
 * For csv, `fields` fixes the header (so an empty result has the same header as a full one);
 * without it, the header is every field that occurs in any row, in order of first appearance.
 */
export function render<T>(rows: T[], format: Format, columns: Column<T>[], fields?: readonly string[]): string {
  switch (format) {
    case 'json':
      return JSON.stringify(rows, null, 2);
    case 'yaml': {
      // Loaded only here: yaml costs every other command ~30 ms of start-up.
      const YAML = require('yaml') as typeof import('yaml');
      // Each document keeps its own trailing newlines: a `|+` block scalar depends on them.
      return rows.map((r) => `---\n${YAML.stringify(r)}`).join('');
    }
    case 'csv': {
      const keys = fields ?? [...new Set(rows.flatMap((r) => Object.keys(r as object)))];
      return [keys.map(csvField).join(','), ...rows.map((r) => keys.map((k) => csvField((r as Record<string, unknown>)[k])).join(','))].join('\n');
    }
    case 'tabulated':
      return rows.length === 0 ? '(none)' : table(rows, columns);
    default:
      throw new CliError(`unknown format "${String(format)}"`);
  }
}

/** One record shown as "key: value" lines when tabulated (e.g. `tasks get`). */
export function renderRecord<T extends object>(row: T, format: Format): string {
  if (format !== 'tabulated') return render([row], format, []);
  const entries = Object.entries(row);
  const width = Math.max(...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `${k.padEnd(width)}  ${cell(v)}`).join('\n');
}

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}
