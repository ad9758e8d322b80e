import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { createLogger } from '../src/http/logging.js';
import { warnOfDevelopmentSecretsKey } from '../src/start-up-warnings.js';

const SECRETS_KEY = randomBytes(32).toString('base64');
const ADMIN_API_KEY = 'prod-admin-key-0123456789abcdef-0123';

function refusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('starts with defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      nodeEnv: 'development',
      port: 3000,
      databaseUrl: undefined,
      dataDir: './.data',
      whatsappApiBaseUrl: 'https://graph.facebook.com/v21.0',
      telegramApiBaseUrl: 'https://api.telegram.org',
      rateLimitPerMinute: 6000,
      dispatcherEnabled: true,
      dispatcherConcurrency: 128,
    });
    expect(config.secretsKeys).toHaveLength(1);
    expect(config.secretsKeys[0]).toHaveLength(32);
    expect(config.secretsKeyIsDevelopment).toBe(true);
  });

  it('reads the consent keywords and the template sync interval, with their defaults', () => {
    expect(loadConfig({})).toMatchObject({
      consentKeywords: { optOut: ['STOP', 'STOPP', 'UNSUBSCRIBE', 'ARRET', 'BAJA', 'CANCELAR', 'ОТПИСАТЬСЯ'], optIn: ['START', 'UNSTOP'] },
      templateSyncIntervalMinutes: 15,
    });
    const config = loadConfig({ OPT_OUT_KEYWORDS: ' stop , , halt ', OPT_IN_KEYWORDS: 'go', TEMPLATE_SYNC_INTERVAL_MINUTES: '60' });
    expect(config).toMatchObject({ consentKeywords: { optOut: ['stop', 'halt'], optIn: ['go'] }, templateSyncIntervalMinutes: 60 });
    expect(refusal({ OPT_OUT_KEYWORDS: 'STOP,END', OPT_IN_KEYWORDS: 'end' }).message).toContain('OPT_OUT_KEYWORDS and OPT_IN_KEYWORDS both list END');
    expect(refusal({ TEMPLATE_SYNC_INTERVAL_MINUTES: '0' }).message).toContain('TEMPLATE_SYNC_INTERVAL_MINUTES');
  });

  it('reads every value it is given, and strips a trailing slash from base URLs', () => {
    const config = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://app@db:5432/sessions',
      ADMIN_API_KEY,
      SECRETS_KEY,
      WHATSAPP_API_BASE_URL: 'http://127.0.0.1:9001/',
      TELEGRAM_API_BASE_URL: 'http://127.0.0.1:9002//',
      RATE_LIMIT_PER_MINUTE: '0',
      DISPATCHER_ENABLED: 'false',
      LOG_LEVEL: 'warn',
    });
    expect(config).toMatchObject({
      port: 8080,
      databaseUrl: 'postgres://app@db:5432/sessions',
      adminApiKey: ADMIN_API_KEY,
      whatsappApiBaseUrl: 'http://127.0.0.1:9001',
      telegramApiBaseUrl: 'http://127.0.0.1:9002',
      rateLimitPerMinute: 0,
      dispatcherEnabled: false,
      logLevel: 'warn',
    });
    expect(config.secretsKeys).toEqual([Buffer.from(SECRETS_KEY, 'base64')]);
  });

  it('reads only the variables it is given, not the process environment', () => {
    const saved = process.env.LOG_LEVEL;
    process.env.LOG_LEVEL = 'not-a-level';
    try {
      expect(loadConfig({ NODE_ENV: 'test' }).logLevel).toBe('info');
    } finally {
      if (saved === undefined) delete process.env.LOG_LEVEL;
      else process.env.LOG_LEVEL = saved;
    }
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://db/sessions'],
    ['SECRETS_KEY', 'too-short'],
    ['ADMIN_API_KEY', 'short'],
    ['WHATSAPP_API_BASE_URL', 'ftp://graph.example'],
    ['RATE_LIMIT_PER_MINUTE', '-1'],
    ['DELIVERY_MAX_ATTEMPTS', '0'],
    ['NODE_ENV', 'staging'],
    ['SECRETS_KEY', `${SECRETS_KEY},not-a-key`],
    ['AUTH_FAILURES_PER_MINUTE', '-1'],
    ['TRUST_PROXY', 'the load balancer'],
    ['TRUST_PROXY', '10.0.0.0/33'],
    ['PUBLIC_BASE_URL', 'ftp://sessions.example.com'],
    ['PUBLIC_BASE_URL', 'https://sessions.example.com/hooks?x=1'],
    ['METRICS_TOKEN', 'short'],
    ['PHONE_ALLOW_PREFIXES', '1555'],
    ['EVENT_RETENTION_DAYS', '0'],
    ['EVENT_DELIVERY_TIMEOUT_MS', 'soon'],
    ['EVENT_MAX_ATTEMPTS', '0'],
    ['EVENT_SUBSCRIPTION_CONCURRENCY', '0'],
    ['DISPATCHER_CONCURRENCY', '0'],
    ['EVENT_WEBHOOK_ALLOW_PRIVATE', 'yes'],
  ])('refuses a bad %s and names it', (name, value) => {
    const error = refusal({ [name]: value });
    expect(error.message).toContain(name);
  });

  it('lists the allowed values of a variable that takes one of a few', () => {
    const error = refusal({ LOG_LEVEL: 'loud' });
    expect(error.message).toBe('Invalid configuration: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent');
    expect(refusal({ DISPATCHER_ENABLED: 'yes' }).message).toContain('DISPATCHER_ENABLED must be one of true, false');
  });

  it('names every bad variable at once, and never echoes a secret value', () => {
    const error = refusal({ PORT: 'abc', ADMIN_API_KEY: 'leaky-secret', SECRETS_KEY: 'another-leaky-secret' });
    expect(error.message).toContain('PORT');
    expect(error.message).toContain('ADMIN_API_KEY');
    expect(error.message).toContain('SECRETS_KEY');
    expect(error.message).not.toContain('leaky-secret');
  });

  it('refuses production without ADMIN_API_KEY', () => {
    expect(refusal({ NODE_ENV: 'production', SECRETS_KEY }).message).toContain('ADMIN_API_KEY');
  });

  it('refuses production without SECRETS_KEY rather than use the development key', () => {
    expect(refusal({ NODE_ENV: 'production', ADMIN_API_KEY }).message).toContain('SECRETS_KEY');
  });

  it('starts production with both keys', () => {
    const config = loadConfig({ NODE_ENV: 'production', ADMIN_API_KEY, SECRETS_KEY });
    expect(config.nodeEnv).toBe('production');
    expect(config.secretsKeys).toEqual([Buffer.from(SECRETS_KEY, 'base64')]);
  });

  it('refuses a production ADMIN_API_KEY shorter than 32 characters, and names it', () => {
    const error = refusal({ NODE_ENV: 'production', SECRETS_KEY, ADMIN_API_KEY: 'a'.repeat(31) });
    expect(error.message).toContain('ADMIN_API_KEY');
    expect(error.message).toContain('32');
    expect(loadConfig({ NODE_ENV: 'production', SECRETS_KEY, ADMIN_API_KEY: 'a'.repeat(32) }).adminApiKey).toHaveLength(32);
    // Outside production a shorter key is fine (development and tests).
    expect(loadConfig({ ADMIN_API_KEY: 'a'.repeat(16) }).adminApiKey).toHaveLength(16);
  });

  it('reads SECRETS_KEY as keys newest first, and says when the development key is in use', () => {
    const older = randomBytes(32).toString('base64');
    const config = loadConfig({ SECRETS_KEY: ` ${SECRETS_KEY}, ${older} ` });
    expect(config.secretsKeys).toEqual([Buffer.from(SECRETS_KEY, 'base64'), Buffer.from(older, 'base64')]);
    expect(config.secretsKeyIsDevelopment).toBe(false);
    expect(loadConfig({}).secretsKeyIsDevelopment).toBe(true);
  });

  it('logs a warning at start-up when the development key seals the secrets, and none with SECRETS_KEY set', () => {
    const lines: Record<string, unknown>[] = [];
    const out = new Writable({
      write(chunk, _encoding, done) {
        lines.push(...String(chunk).trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>));
        done();
      },
    });
    const logger = createLogger({ level: 'info', nodeEnv: 'development' }, out);
    warnOfDevelopmentSecretsKey(loadConfig({}), logger);
    expect(lines).toEqual([expect.objectContaining({ level: 40, msg: expect.stringMatching(/^SECRETS_KEY is not set: .*development key/) })]);
    lines.length = 0;
    warnOfDevelopmentSecretsKey(loadConfig({ SECRETS_KEY }), logger);
    expect(lines).toEqual([]);
  });

  it('reads the hardening settings', () => {
    expect(loadConfig({})).toMatchObject({ authFailuresPerMinute: 60, trustProxy: false, publicBaseUrl: undefined, metricsToken: undefined, phoneAllowPrefixes: [] });
    const config = loadConfig({
      AUTH_FAILURES_PER_MINUTE: '10',
      TRUST_PROXY: '10.0.0.0/8, 127.0.0.1, ::1, loopback',
      PUBLIC_BASE_URL: 'https://sessions.example.com/',
      METRICS_TOKEN: 'metrics-token-0123456789',
      PHONE_ALLOW_PREFIXES: '+1555, +4930',
    });
    expect(config).toMatchObject({
      authFailuresPerMinute: 10,
      trustProxy: ['10.0.0.0/8', '127.0.0.1', '::1', 'loopback'],
      publicBaseUrl: 'https://sessions.example.com',
      metricsToken: 'metrics-token-0123456789',
      phoneAllowPrefixes: ['+1555', '+4930'],
    });
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
  });

  it('refuses a retry cap below the first retry delay', () => {
    const error = refusal({ DELIVERY_RETRY_BASE_MS: '5000', DELIVERY_RETRY_MAX_MS: '1000' });
    expect(error.message).toContain('DELIVERY_RETRY_MAX_MS');
    expect(refusal({ EVENT_RETRY_BASE_MS: '5000', EVENT_RETRY_MAX_MS: '1000' }).message).toContain('EVENT_RETRY_MAX_MS');
  });

  it('reads the event settings, with defaults that deliver by https to public addresses only', () => {
    expect(loadConfig({}).events).toEqual({
      deliveryEnabled: true,
      retentionDays: 7,
      deliveryTimeoutMs: 10_000,
      retryBaseMs: 5_000,
      retryMaxMs: 3_600_000,
      maxAttempts: 15,
      subscriptionConcurrency: 32,
      allowHttp: false,
      allowPrivate: false,
    });
    const config = loadConfig({ EVENT_DELIVERY_ENABLED: 'false', EVENT_RETENTION_DAYS: '30', EVENT_WEBHOOK_ALLOW_HTTP: 'true', EVENT_WEBHOOK_ALLOW_PRIVATE: 'true' });
    expect(config.events).toMatchObject({ deliveryEnabled: false, retentionDays: 30, allowHttp: true, allowPrivate: true });
  });
});
