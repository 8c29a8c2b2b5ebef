import { resolve } from 'node:path';
import { loadServerConfig } from '../../src/runtime/config';

describe('loadServerConfig', () => {
  it('uses the documented defaults for an empty environment', () => {
    const config = loadServerConfig({});
    expect(config.port).toBe(8080);
    expect(config.host).toBe('127.0.0.1');
    expect(config.dataDir).toBe(resolve(process.cwd(), '.handout'));
    expect(config.temporalNamespace).toBe('default');
    expect(config.taskQueue).toBe('handout');
    expect(config.temporalAddress).toBeUndefined();
    expect(config.temporalTls).toBe(false);
    expect(config.temporalPort).toBe(7233);
    expect(config.temporalUiPort).toBe(8233);
    expect(config.databaseUrl).toBeUndefined();
    expect(config.logLevel).toBe('warn');
    expect(config.testActivityDelayMs).toBe(0);
  });

  it('treats empty variables as unset', () => {
    const config = loadServerConfig({ HANDOUT_PORT: '', HANDOUT_HOST: '', HANDOUT_DATA_DIR: '', DATABASE_URL: '', TEMPORAL_ADDRESS: '' });
    expect(config.port).toBe(8080);
    expect(config.host).toBe('127.0.0.1');
    expect(config.dataDir).toBe(resolve('.handout'));
    expect(config.databaseUrl).toBeUndefined();
    expect(config.temporalAddress).toBeUndefined();
  });

  it('takes every setting from the environment when given', () => {
    const config = loadServerConfig({
      HANDOUT_PORT: '9090',
      HANDOUT_HOST: '0.0.0.0',
      HANDOUT_DATA_DIR: '/var/lib/handout',
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_NAMESPACE: 'courses',
      TEMPORAL_TLS: 'true',
      TEMPORAL_API_KEY: 'tk',
      HANDOUT_TEMPORAL_PORT: '17233',
      HANDOUT_TEMPORAL_UI_PORT: '18233',
      HANDOUT_TASK_QUEUE: 'handout-staging',
      DATABASE_URL: 'postgres://u:p@db:5432/handout',
      HANDOUT_LOG_LEVEL: 'debug',
      HANDOUT_TEST_ACTIVITY_DELAY_MS: '250',
    });
    expect(config).toMatchObject({
      port: 9090,
      host: '0.0.0.0',
      dataDir: '/var/lib/handout',
      temporalAddress: 'temporal.internal:7233',
      temporalNamespace: 'courses',
      temporalTls: true,
      temporalApiKey: 'tk',
      temporalPort: 17233,
      temporalUiPort: 18233,
      taskQueue: 'handout-staging',
      databaseUrl: 'postgres://u:p@db:5432/handout',
      logLevel: 'debug',
      testActivityDelayMs: 250,
    });
  });

  it('resolves a relative HANDOUT_DATA_DIR against the working directory', () => {
    expect(loadServerConfig({ HANDOUT_DATA_DIR: 'state/here' }).dataDir).toBe(resolve(process.cwd(), 'state/here'));
  });

  it('accepts TEMPORAL_TLS=1 and treats other values as off', () => {
    expect(loadServerConfig({ TEMPORAL_TLS: '1' }).temporalTls).toBe(true);
    expect(loadServerConfig({ TEMPORAL_TLS: 'false' }).temporalTls).toBe(false);
    expect(loadServerConfig({ TEMPORAL_TLS: 'yes' }).temporalTls).toBe(false);
  });

  it('accepts postgresql:// as well as postgres://', () => {
    expect(loadServerConfig({ DATABASE_URL: 'postgresql://db/handout' }).databaseUrl).toBe('postgresql://db/handout');
  });

  it('rejects a non-numeric HANDOUT_PORT, naming the variable and the value', () => {
    expect(() => loadServerConfig({ HANDOUT_PORT: 'abc' })).toThrow(/HANDOUT_PORT/);
    expect(() => loadServerConfig({ HANDOUT_PORT: 'abc' })).toThrow(/"abc"/);
  });

  it('rejects a fractional port', () => {
    expect(() => loadServerConfig({ HANDOUT_PORT: '80.5' })).toThrow(/HANDOUT_PORT/);
  });

  it('rejects a port above 65535', () => {
    expect(() => loadServerConfig({ HANDOUT_PORT: '70000' })).toThrow(/HANDOUT_PORT must be a whole number from 0 to 65535, got "70000"/);
    expect(() => loadServerConfig({ HANDOUT_PORT: ' ' })).toThrow(/HANDOUT_PORT/);
    expect(() => loadServerConfig({ HANDOUT_PORT: '0x1F90' })).toThrow(/HANDOUT_PORT/);
  });

  it('rejects a DATABASE_URL that is not PostgreSQL', () => {
    expect(() => loadServerConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/);
    expect(() => loadServerConfig({ DATABASE_URL: 'sqlite:///tmp/x.db' })).toThrow(/postgres/);
  });

  it('rejects an unknown log level', () => {
    expect(() => loadServerConfig({ HANDOUT_LOG_LEVEL: 'verbose' })).toThrow(/logLevel/);
  });
});
