import { Command } from 'commander';
import { loadServerConfig } from '../../runtime/config';
import { CliError } from '../errors';

/** `handout up`: the whole stack in one process, until Ctrl-C or SIGTERM. */
export function upCommand(): Command {
  return new Command('up')
    .description('run Handout: Temporal (embedded unless TEMPORAL_ADDRESS is set), catalog, worker and API')
    .action(async () => {
      let config;
      try {
        config = loadServerConfig();
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      // Loaded lazily: client commands should not pay for the server's modules.
      const { startStack } = await import('../../runtime/stack');
      const stack = await startStack(config).catch((err: Error) => {
        const [first, ...rest] = err.message.split('\n');
        throw new CliError(first!, { cause: err, detail: rest.join('\n') });
      });
      const lines = [
        'Handout is up.',
        `  API:             ${stack.apiUrl}`,
        `  Temporal:        ${stack.temporalAddress}${config.temporalAddress ? ' (external)' : ' (embedded)'}`,
        `  Temporal Web UI: ${stack.temporalUiUrl ?? '(unknown: set TEMPORAL_UI_URL)'}`,
        `  Data directory:  ${config.dataDir}`,
      ];
      if (stack.bootstrapKey) {
        lines.push(
          '',
          'First start: an admin API key was created. It is shown only this once',
          `(and saved, readable only by you, in ${stack.bootstrapKeyFile}):`,
          '',
          `  export HANDOUT_API_KEY=${stack.bootstrapKey}`,
          `  export HANDOUT_API_URL=${stack.apiUrl}`,
        );
      }
      lines.push('', 'Press Ctrl-C to stop.');
      process.stdout.write(`${lines.join('\n')}\n`);

      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (why: string) => {
          if (stopping) {
            process.stderr.write('stopping forcefully\n');
            process.exit(130);
          }
          stopping = true;
          process.stderr.write(`${why}: stopping Handout…\n`);
          void stack.stop().then(() => {
            process.stderr.write('Handout stopped.\n');
            resolve();
          });
        };
        process.on('SIGINT', () => stop('SIGINT'));
        process.on('SIGTERM', () => stop('SIGTERM'));
        void stack.workerStopped.then(() => {
          if (!stopping) stop('the worker stopped unexpectedly');
        });
      });
    });
}
