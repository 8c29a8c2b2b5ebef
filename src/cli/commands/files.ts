import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Command, Option } from 'commander';
import type { FileEntry } from '../../domain/files';
import { ApiClient, instanceApiPath } from '../client';
import { CliError } from '../errors';
import { formatOption, snapshotOption, withContext, type CommonOpts } from '../options';
import { print, render, type Column } from '../output';
import { resolveContext } from '../settings';
import { STDIO_PATH, streamToStdout } from '../stdio';

const entryColumns: Column<FileEntry>[] = [
  { header: 'path', value: (e) => e.path },
  { header: 'type', value: (e) => e.type },
  { header: 'size', value: (e) => e.size },
  { header: 'modified_at', value: (e) => e.modified_at },
  { header: 'target', value: (e) => e.target },
];
type Written = { path: string; sha256: string; size: number };

/** Local files below a folder (and its empty folders), in a stable order. */
async function walkLocal(root: string): Promise<{ files: string[]; emptyDirs: string[] }> {
  const files: string[] = [];
  const emptyDirs: string[] = [];
  const walk = async (dir: string) => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    if (entries.length === 0 && dir !== root) emptyDirs.push(dir);
    for (const e of entries) {
      const full = join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isFile()) files.push(full);
      else throw new CliError(`${full} is neither a file nor a folder (links and devices are not uploaded)`);
    }
  };
  await walk(root);
  return { files, emptyDirs };
}

/**
 * A `files list --path` as the API takes it: an absolute path as given (the API checks it), one without
 * a leading slash inside the area, as the platform's CLI reads it (`--path datasets_2026`).
 */
const inArea = (area: string, path: string) => (path.startsWith('/') ? path : `/${area}/${path.replace(/^(\.(\/+|$))+/, '')}`.replace(/\/+$/, ''));

const remoteJoin = (base: string, local: string, from: string) => [base.replace(/\/+$/, ''), ...relative(from, local).split(sep)].join('/');

async function download(client: ApiClient, base: string, remote: string, local: string, snapshot: string): Promise<void> {
  const response = await client.send('GET', `${base}/files/content`, { query: { path: remote, snapshot } });
  await mkdir(dirname(local), { recursive: true });
  const tmp = `${local}.handout-partial`;
  await pipeline(response.body, createWriteStream(tmp));
  await rename(tmp, local);
}

export function filesCommand(): Command {
  const files = new Command('files').description('files of an instance (/files/...)');
  withContext(files.command('list').description('list a folder (or one file)'), 'instance')
    .addOption(snapshotOption())
    .option('--path <path>', 'folder or file to list: /files/… or a path inside the area, as on the platform (data/2026)', '/files')
    .option('-r, --recursive', 'list the whole subtree', false)
    .addOption(new Option('-a, --area <area>', 'file area').choices(['files']).default('files'))
    .addOption(formatOption())
    .action(async (o: CommonOpts & { snapshot: string; path: string; recursive: boolean; area: string }) => {
      const ref = resolveContext('instance', o);
      const rows = await ApiClient.fromEnvironment().get<FileEntry[]>(`${instanceApiPath(ref)}/files`, { path: inArea(o.area, o.path), snapshot: o.snapshot, recursive: String(o.recursive) });
      print(render(rows, o.format, entryColumns));
    });
  withContext(files.command('put').description('upload a local file or folder to /files/... (- uploads standard input as one file)').argument('<local>').argument('<remote>'), 'instance')
    .addOption(formatOption())
    .action(async (local: string, remote: string, o: CommonOpts) => {
      const ref = resolveContext('instance', o);
      const client = ApiClient.fromEnvironment();
      const base = instanceApiPath(ref);
      const written: Written[] = [];
      const upload = async (stream: NodeJS.ReadableStream, to: string) => {
        const response = await client.send('PUT', `${base}/files/content`, { query: { path: to }, stream });
        written.push((await response.json()) as Written);
      };
      const info = local === STDIO_PATH ? undefined : await stat(local).catch(() => null);
      if (info === null) throw new CliError(`${local} does not exist`);
      if (!info) await upload(process.stdin, remote);
      else if (info.isFile()) await upload(createReadStream(local), remote);
      else if (info.isDirectory()) {
        const { files: all, emptyDirs } = await walkLocal(local);
        for (const file of all) await upload(createReadStream(file), remoteJoin(remote, file, local));
        for (const dir of emptyDirs) await client.post(`${base}/files/folders`, { path: remoteJoin(remote, dir, local) });
      } else throw new CliError(`${local} is neither a file nor a folder`);
      print(render(written, o.format, [
        { header: 'path', value: (w) => w.path },
        { header: 'size', value: (w) => w.size },
        { header: 'sha256', value: (w) => w.sha256 },
      ]));
    });
  withContext(files.command('get').description('download a file or folder from /files/... (- writes a file to standard output)').argument('<remote>').argument('<local>'), 'instance')
    .addOption(snapshotOption())
    .action(async (remote: string, local: string, o: CommonOpts & { snapshot: string }) => {
      const ref = resolveContext('instance', o);
      const client = ApiClient.fromEnvironment();
      const base = instanceApiPath(ref);
      const entries = await client.get<FileEntry[]>(`${base}/files`, { path: remote, snapshot: o.snapshot, recursive: 'true' });
      const top = remote.replace(/\/+$/, '');
      const single = entries.length === 1 && entries[0]!.path === top && entries[0]!.type === 'file';
      if (local === STDIO_PATH) {
        const link = entries.length === 1 && entries[0]!.path === top && entries[0]!.type === 'symlink';
        if (link) throw new CliError(`${top} is a symbolic link (to ${entries[0]!.target}): standard output (-) takes one file`);
        if (!single) throw new CliError(`${top} is a folder: standard output (-) takes one file; give a local folder to download it into`);
        await streamToStdout((await client.send('GET', `${base}/files/content`, { query: { path: top, snapshot: o.snapshot } })).body);
        return;
      }
      if (single) {
        const localInfo = await stat(local).catch(() => undefined);
        await download(client, base, top, localInfo?.isDirectory() ? join(local, basename(top)) : local, o.snapshot);
        return;
      }
      await mkdir(local, { recursive: true });
      for (const entry of entries) {
        const target = join(local, ...entry.path.slice(top.length + 1).split('/'));
        if (entry.type === 'dir') await mkdir(target, { recursive: true });
        else if (entry.type === 'file') await download(client, base, entry.path, target, o.snapshot);
        else process.stderr.write(`skipped ${entry.path}: a symbolic link (to ${entry.target})\n`);
      }
    });
  withContext(files.command('rm').description('remove a file or folder').argument('<remote>'), 'instance')
    .addOption(formatOption())
    .action(async (remote: string, o: CommonOpts) => {
      const ref = resolveContext('instance', o);
      const removed = await ApiClient.fromEnvironment().delete<FileEntry>(`${instanceApiPath(ref)}/files`, { path: remote });
      print(render([removed], o.format, entryColumns));
    });
  return files;
}

