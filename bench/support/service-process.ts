import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { sleep } from './stats.js';

export interface ServiceProcess {
  url: string;
  pid: number;
  adminKey: string;
  /** Calls the API as admin; throws with the status and body on anything but 2xx. */
  api(method: string, path: string, body?: unknown): Promise<any>;
  /** SIGTERM, then waits for the process to exit (graceful shutdown; a CPU profile is written then). */
  stop(): Promise<void>;
}

export interface ServiceOptions {
  /** The repository's root: the service runs from its dist/. */
  root: string;
  databaseUrl: string;
  whatsappApiBaseUrl: string;
  /** Write a V8 CPU profile of the service to this directory (node --cpu-prof). */
  cpuProfileDir?: string | undefined;
}

/** `npm run build`: the bench measures the service as production runs it, from dist/. */
export function buildService(root: string): void {
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
}

/**
 * Starts `node dist/server.js` as production does (NODE_ENV=production, an admin key of 32+
 * characters, SECRETS_KEY), with WhatsApp pointed at the stand-in, no request rate limit, and
 * webhooks allowed to a local receiver over http. Other settings come from the environment
 * the bench runs in. Resolves once /readyz answers.
 */
export async function startService(options: ServiceOptions): Promise<ServiceProcess> {
  const adminKey = `bench-${randomBytes(16).toString('hex')}`;
  const port = 30_000 + Math.floor(Math.random() * 20_000);
  const profile = options.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir] : [];
  const child: ChildProcess = spawn(process.execPath, [...profile, 'dist/server.js'], {
    cwd: options.root,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      DATABASE_URL: options.databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      ADMIN_API_KEY: adminKey,
      SECRETS_KEY: randomBytes(32).toString('base64'),
      WHATSAPP_API_BASE_URL: options.whatsappApiBaseUrl,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      RATE_LIMIT_PER_MINUTE: '0',
      EVENT_WEBHOOK_ALLOW_HTTP: 'true',
      EVENT_WEBHOOK_ALLOW_PRIVATE: 'true',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;

  const api = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  };

  for (let i = 0; i < 150; i++) {
    if (child.exitCode !== null) throw new Error(`the service exited during start-up (code ${child.exitCode})`);
    if (await fetch(`${url}/readyz`).then((r) => r.ok, () => false)) return { url, pid: child.pid!, adminKey, api, stop };
    await sleep(200);
  }
  await stop();
  throw new Error('the service did not become ready within 30 s');
}
