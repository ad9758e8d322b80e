import { randomBytes } from 'node:crypto';
import { envSchema } from 'env-schema';
import { Type, type Static } from 'typebox';
import { DEVELOPMENT_SECRETS_KEY, parseTrustProxy } from './config-values.js';

const BooleanString = Type.Union([Type.Literal('true'), Type.Literal('false')]);

const EnvSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], { default: 'development' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 500, default: 20 }),
  DATA_DIR: Type.String({ minLength: 1, default: './.data' }),
  ADMIN_API_KEY: Type.Optional(Type.String({ minLength: 16 })),
  // One or more keys, comma-separated, newest first: 32 bytes each, base64.
  SECRETS_KEY: Type.Optional(Type.String({ pattern: '^\\s*[A-Za-z0-9+/]{43}=\\s*(,\\s*[A-Za-z0-9+/]{43}=\\s*)*$' })),
  WHATSAPP_API_BASE_URL: Type.String({ pattern: '^https?://', default: 'https://graph.facebook.com/v21.0' }),
  TELEGRAM_API_BASE_URL: Type.String({ pattern: '^https?://', default: 'https://api.telegram.org' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  RATE_LIMIT_PER_MINUTE: Type.Integer({ minimum: 0, default: 6000 }),
  AUTH_FAILURES_PER_MINUTE: Type.Integer({ minimum: 0, default: 60 }),
  TRUST_PROXY: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
  PUBLIC_BASE_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s/?#]+(/[^\\s?#]*)?$' })),
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16, maxLength: 512 })),
  // E.164 prefixes accepted without a numbering-plan check (ranges newer than the metadata).
  PHONE_ALLOW_PREFIXES: Type.Optional(Type.String({ pattern: '^\\s*\\+\\d{1,15}\\s*(,\\s*\\+\\d{1,15}\\s*)*$' })),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, default: 262_144 }),
  DISPATCHER_ENABLED: Type.Union([BooleanString], { default: 'true' }),
  DISPATCHER_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 1000, default: 128 }),
  BATCH_WORKER_ENABLED: Type.Union([BooleanString], { default: 'true' }),
  BATCH_CHUNK_SIZE: Type.Integer({ minimum: 1, maximum: 1000, default: 200 }),
  BATCH_LEASE_MS: Type.Integer({ minimum: 1000, default: 60_000 }),
  DELIVERY_MAX_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
  DELIVERY_RETRY_BASE_MS: Type.Integer({ minimum: 10, default: 2_000 }),
  DELIVERY_RETRY_MAX_MS: Type.Integer({ minimum: 100, default: 600_000 }),
  PROVIDER_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 10_000 }),
  EVENT_DELIVERY_ENABLED: Type.Union([BooleanString], { default: 'true' }),
  EVENT_RETENTION_DAYS: Type.Integer({ minimum: 1, maximum: 3650, default: 7 }),
  EVENT_DELIVERY_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 120_000, default: 10_000 }),
  EVENT_RETRY_BASE_MS: Type.Integer({ minimum: 10, default: 5_000 }),
  EVENT_RETRY_MAX_MS: Type.Integer({ minimum: 100, default: 3_600_000 }),
  EVENT_MAX_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 100, default: 15 }),
  EVENT_SUBSCRIPTION_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 100, default: 32 }),
  EVENT_WEBHOOK_ALLOW_HTTP: Type.Union([BooleanString], { default: 'false' }),
  EVENT_WEBHOOK_ALLOW_PRIVATE: Type.Union([BooleanString], { default: 'false' }),
  OPT_OUT_KEYWORDS: Type.String({ default: 'STOP,STOPP,UNSUBSCRIBE,ARRET,BAJA,CANCELAR,ОТПИСАТЬСЯ' }),
  OPT_IN_KEYWORDS: Type.String({ default: 'START,UNSTOP' }),
  TEMPLATE_SYNC_INTERVAL_MINUTES: Type.Integer({ minimum: 1, maximum: 1440, default: 15 }),
});

type Env = Static<typeof EnvSchema>;

/** Every environment variable the service reads. */
export const ENV_VARIABLES: readonly string[] = Object.keys(EnvSchema.properties);

export interface Config {
  nodeEnv: Env['NODE_ENV'];
  port: number;
  host: string;
  databaseUrl: string | undefined;
  databasePoolSize: number;
  dataDir: string;
  /** The bootstrap admin key; generated (and printed once) in development when unset. */
  adminApiKey: string | undefined;
  /** Keys (32 bytes each) that encrypt channel secrets at rest, newest first: the first seals. */
  secretsKeys: Buffer[];
  /** True when SECRETS_KEY is unset and the development key (in this file) seals the secrets. */
  secretsKeyIsDevelopment: boolean;
  whatsappApiBaseUrl: string;
  telegramApiBaseUrl: string;
  logLevel: string;
  rateLimitPerMinute: number;
  /** Failed authentications per client address and minute before its credentials are refused unread; 0: no limit. */
  authFailuresPerMinute: number;
  /** Fastify's trustProxy: which hops in front of the service may name the client address. */
  trustProxy: boolean | number | string[];
  /** The service's own public URL (for webhooks registered with providers), without a trailing slash. */
  publicBaseUrl: string | undefined;
  /** When set, GET /metrics needs `Authorization: Bearer <metricsToken>`. */
  metricsToken: string | undefined;
  /** E.164 prefixes whose numbers are accepted when possible, without the numbering-plan check. */
  phoneAllowPrefixes: string[];
  /** How long a running idempotent request holds its key between renewals (not an environment setting). */
  idempotencyLockMs: number;
  bodyLimitBytes: number;
  dispatcherEnabled: boolean;
  /** Messages the dispatcher of one process has in flight at once (DISPATCHER_CONCURRENCY). */
  dispatcherConcurrency: number;
  /** Initiate session batches' recipients in this process. */
  batchWorkerEnabled: boolean;
  /** Recipients a batch worker claims at once, and how long its claim holds. */
  batch: { chunk: number; leaseMs: number };
  delivery: { maxAttempts: number; retryBaseMs: number; retryMaxMs: number; providerTimeoutMs: number };
  /** Whole inbound texts that opt a person out of a live chat, or back in (compared trimmed, in any case). */
  consentKeywords: { optOut: string[]; optIn: string[] };
  templateSyncIntervalMinutes: number;
  events: EventsConfig;
}

/** The event log and its webhooks (the EVENT_* variables). */
export interface EventsConfig {
  /** Run the webhook delivery worker in this process. */
  deliveryEnabled: boolean;
  retentionDays: number;
  deliveryTimeoutMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  maxAttempts: number;
  /** Deliveries in flight to one subscription at once, across all replicas. */
  subscriptionConcurrency: number;
  allowHttp: boolean;
  allowPrivate: boolean;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Reads and validates the environment once. Throws a ConfigError naming the variable when a
 * value is malformed, or when production runs without ADMIN_API_KEY or SECRETS_KEY.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  let parsed: Env;
  try {
    // `env: false`: read the given variables only (env-schema would merge process.env under them).
    // An empty value is an unset one (docker compose passes `${VAR:-}` as "").
    const data = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
    parsed = envSchema<Env>({ schema: EnvSchema, data, env: false, dotenv: false });
  } catch (error) {
    throw new ConfigError(`Invalid configuration: ${describeEnvError(error)}`);
  }
  const production = parsed.NODE_ENV === 'production';
  if (production && !parsed.ADMIN_API_KEY) {
    throw new ConfigError('Invalid configuration: ADMIN_API_KEY is required when NODE_ENV=production');
  }
  if (production && parsed.ADMIN_API_KEY!.length < 32) {
    throw new ConfigError('Invalid configuration: ADMIN_API_KEY must be at least 32 characters when NODE_ENV=production');
  }
  if (production && !parsed.SECRETS_KEY) {
    throw new ConfigError('Invalid configuration: SECRETS_KEY is required when NODE_ENV=production (32 random bytes, base64)');
  }
  if (parsed.DELIVERY_RETRY_MAX_MS < parsed.DELIVERY_RETRY_BASE_MS) {
    throw new ConfigError('Invalid configuration: DELIVERY_RETRY_MAX_MS must not be below DELIVERY_RETRY_BASE_MS');
  }
  if (parsed.EVENT_RETRY_MAX_MS < parsed.EVENT_RETRY_BASE_MS) {
    throw new ConfigError('Invalid configuration: EVENT_RETRY_MAX_MS must not be below EVENT_RETRY_BASE_MS');
  }
  const trustProxy = parseTrustProxy(parsed.TRUST_PROXY);
  if (trustProxy instanceof Error) throw new ConfigError(`Invalid configuration: TRUST_PROXY ${trustProxy.message}`);
  // A comma-separated list, each item trimmed, blanks dropped.
  const list = (value: string | undefined) => (value ?? '').split(',').map((v) => v.trim()).filter((v) => v.length > 0);
  const consentKeywords = { optOut: list(parsed.OPT_OUT_KEYWORDS), optIn: list(parsed.OPT_IN_KEYWORDS) };
  const both = consentKeywords.optOut.filter((k) => consentKeywords.optIn.some((i) => i.toUpperCase() === k.toUpperCase()));
  if (both.length > 0) {
    throw new ConfigError(`Invalid configuration: OPT_OUT_KEYWORDS and OPT_IN_KEYWORDS both list ${both.join(', ')}`);
  }
  return {
    nodeEnv: parsed.NODE_ENV,
    port: parsed.PORT,
    host: parsed.HOST,
    databaseUrl: parsed.DATABASE_URL || undefined,
    databasePoolSize: parsed.DATABASE_POOL_SIZE,
    dataDir: parsed.DATA_DIR,
    adminApiKey: parsed.ADMIN_API_KEY,
    secretsKeys: parsed.SECRETS_KEY ? list(parsed.SECRETS_KEY).map((key) => Buffer.from(key, 'base64')) : [DEVELOPMENT_SECRETS_KEY],
    secretsKeyIsDevelopment: !parsed.SECRETS_KEY,
    whatsappApiBaseUrl: parsed.WHATSAPP_API_BASE_URL.replace(/\/+$/, ''),
    telegramApiBaseUrl: parsed.TELEGRAM_API_BASE_URL.replace(/\/+$/, ''),
    logLevel: parsed.LOG_LEVEL,
    rateLimitPerMinute: parsed.RATE_LIMIT_PER_MINUTE,
    authFailuresPerMinute: parsed.AUTH_FAILURES_PER_MINUTE,
    trustProxy,
    publicBaseUrl: parsed.PUBLIC_BASE_URL?.replace(/\/+$/, ''),
    metricsToken: parsed.METRICS_TOKEN,
    phoneAllowPrefixes: list(parsed.PHONE_ALLOW_PREFIXES),
    idempotencyLockMs: 30_000,
    bodyLimitBytes: parsed.BODY_LIMIT_BYTES,
    dispatcherEnabled: parsed.DISPATCHER_ENABLED === 'true',
    dispatcherConcurrency: parsed.DISPATCHER_CONCURRENCY,
    batchWorkerEnabled: parsed.BATCH_WORKER_ENABLED === 'true',
    batch: { chunk: parsed.BATCH_CHUNK_SIZE, leaseMs: parsed.BATCH_LEASE_MS },
    delivery: {
      maxAttempts: parsed.DELIVERY_MAX_ATTEMPTS,
      retryBaseMs: parsed.DELIVERY_RETRY_BASE_MS,
      retryMaxMs: parsed.DELIVERY_RETRY_MAX_MS,
      providerTimeoutMs: parsed.PROVIDER_TIMEOUT_MS,
    },
    events: {
      deliveryEnabled: parsed.EVENT_DELIVERY_ENABLED === 'true',
      retentionDays: parsed.EVENT_RETENTION_DAYS,
      deliveryTimeoutMs: parsed.EVENT_DELIVERY_TIMEOUT_MS,
      retryBaseMs: parsed.EVENT_RETRY_BASE_MS,
      retryMaxMs: parsed.EVENT_RETRY_MAX_MS,
      maxAttempts: parsed.EVENT_MAX_ATTEMPTS,
      subscriptionConcurrency: parsed.EVENT_SUBSCRIPTION_CONCURRENCY,
      allowHttp: parsed.EVENT_WEBHOOK_ALLOW_HTTP === 'true',
      allowPrivate: parsed.EVENT_WEBHOOK_ALLOW_PRIVATE === 'true',
    },
    consentKeywords,
    templateSyncIntervalMinutes: parsed.TEMPLATE_SYNC_INTERVAL_MINUTES,
  };
}

interface EnvError {
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/**
 * One phrase per bad variable, its name first: `PORT must be integer`, `LOG_LEVEL must be one
 * of fatal, error, …` (Ajv reports every branch of a union; the values say more). Never the value.
 */
function describeEnvError(error: unknown): string {
  const errors = (error as { errors?: EnvError[] } | null)?.errors;
  if (!Array.isArray(errors) || errors.length === 0) {
    const message = error instanceof Error ? error.message : String(error);
    return message.replace(/env\//g, '').replace(/^env /, '');
  }
  const phrases = new Map<string, string>();
  for (const e of errors) {
    const name = e.instancePath.replace(/^\//, '') || String(e.params.missingProperty ?? 'environment');
    if (phrases.has(name)) continue;
    const allowed = allowedValues(name);
    phrases.set(name, allowed ? `${name} must be one of ${allowed.join(', ')}` : `${name} ${e.message ?? 'is invalid'}`);
  }
  return [...phrases.values()].join('; ');
}

interface LiteralUnion {
  const?: unknown;
  anyOf?: LiteralUnion[];
}

/** The values a variable declared as a union of literals accepts, else null. */
function allowedValues(name: string): string[] | null {
  const literals = (schema: LiteralUnion | undefined): unknown[] => (schema?.anyOf ? schema.anyOf.flatMap(literals) : [schema?.const]);
  const values = literals((EnvSchema.properties as Record<string, LiteralUnion | undefined>)[name]);
  return values.length > 0 && values.every((v) => typeof v === 'string') ? (values as string[]) : null;
}

/** A fresh random admin key for a development start without ADMIN_API_KEY. */
export function generateApiKey(): string {
  return `sk_${randomBytes(24).toString('base64url')}`;
}
