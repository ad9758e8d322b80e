import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { type App, type BuildAppOptions, buildApp } from '../../src/app.js';
import type { Clock } from '../../src/clock.js';
import { type Config, loadConfig } from '../../src/config.js';
import { type DatabaseHandle, connectDatabase } from '../../src/db/connection.js';
import { type TestDatabase, createTestDatabase } from './database.js';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';

/** A clock the test moves by hand. */
export class TestClock implements Clock {
  constructor(public current = new Date()) {}
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

export function testConfig(overrides: Partial<Config> = {}): Config {
  const config = loadConfig({
    NODE_ENV: 'test',
    ADMIN_API_KEY: ADMIN_KEY,
    LOG_LEVEL: 'silent',
    DISPATCHER_ENABLED: 'false',
    BATCH_WORKER_ENABLED: 'false',
    EVENT_DELIVERY_ENABLED: 'false',
    RATE_LIMIT_PER_MINUTE: '0',
  });
  return { ...config, ...overrides };
}

export interface TestApp {
  app: App;
  database: TestDatabase;
  clock: TestClock;
  close(): Promise<void>;
}

/** The application on its own fresh database, not listening: drive it with `app.inject`. */
export async function createTestApp(
  options: { config?: Partial<Config>; clock?: TestClock } & Partial<Omit<BuildAppOptions, 'config' | 'database' | 'clock'>> = {},
): Promise<TestApp> {
  const database = await createTestDatabase();
  const clock = options.clock ?? new TestClock();
  const { config: overrides, clock: _clock, ...rest } = options;
  const app = await buildApp({ ...rest, config: testConfig(overrides), database: database.handle, clock });
  await app.ready();
  return {
    app,
    database,
    clock,
    close: async () => {
      await app.close();
      await database.drop();
    },
  };
}

/**
 * Another replica of `t`'s app on the same database and clock, started: on Postgres with a pool
 * of its own, on PGlite on the same embedded database. Closing it leaves `t`'s database open.
 */
export async function startSecondReplica(
  t: TestApp,
  overrides: Partial<Config> = {},
  options: Pick<BuildAppOptions, 'logger'> = {},
): Promise<{ app: App; database: DatabaseHandle; close(): Promise<void> }> {
  const database = t.database.url ? await connectDatabase({ databaseUrl: t.database.url, poolSize: 5 }) : t.database.handle;
  const app = await buildApp({ ...options, config: testConfig(overrides), database, clock: t.clock });
  await app.ready();
  return {
    app,
    database,
    close: async () => {
      await app.close();
      if (database !== t.database.handle) await database.close();
    },
  };
}

/** A JSON response with its body parsed. */
export interface JsonResponse<T = any> extends LightMyRequestResponse {
  data: T;
}

/** Sends a JSON request with an API key (the admin key unless another is given). */
export async function call<T = any>(
  app: App,
  method: InjectOptions['method'],
  url: string,
  body?: unknown,
  options: { key?: string | null; headers?: Record<string, string> } = {},
): Promise<JsonResponse<T>> {
  const key = options.key === undefined ? ADMIN_KEY : options.key;
  const response = await app.inject({
    method,
    url,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...options.headers },
    ...(body !== undefined ? { payload: body as InjectOptions['payload'] } : {}),
  });
  const text = response.body;
  const data = text && /json/.test(String(response.headers['content-type'])) ? JSON.parse(text) : text;
  return Object.assign(response, { data }) as JsonResponse<T>;
}
