import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.js';
import { SERVICE_ADMIN_KEY, request } from './http-client.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const running = new Set<ServiceProcess>();
// One key for every process of a test file: they share databases, and so the live chats' secrets.
const SECRETS_KEY = randomBytes(32).toString('base64');

export interface ServiceOptions {
  databaseUrl: string;
  whatsappApiBaseUrl?: string;
  /** More environment variables (strings), e.g. DELIVERY_RETRY_BASE_MS. */
  env?: Record<string, string>;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * `node dist/server.js` as production runs it (NODE_ENV=production), on a port of its own.
 * The build comes from the fault suite's global setup. Every process started here is tracked,
 * so `stopAllServices()` in afterAll ends them even when a test failed half-way.
 */
export class ServiceProcess {
  readonly url: string;
  readonly exited: Promise<Exit>;
  #exit: Exit | null = null;
  #output = '';

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    child.stdout?.on('data', (chunk: Buffer) => (this.#output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.#output += chunk.toString()));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        running.delete(this);
        resolve(this.#exit);
      });
    });
  }

  /** Starts the service and waits until /healthz answers (migrations have run by then). */
  static async start(options: ServiceOptions): Promise<ServiceProcess> {
    const port = await freePort();
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      ADMIN_API_KEY: SERVICE_ADMIN_KEY,
      SECRETS_KEY,
      DATABASE_URL: options.databaseUrl,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_MINUTE: '0',
      ...(options.whatsappApiBaseUrl ? { WHATSAPP_API_BASE_URL: options.whatsappApiBaseUrl } : {}),
      ...options.env,
    };
    const child = spawn(process.execPath, ['dist/server.js'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const service = new ServiceProcess(child, port);
    running.add(service);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (service.#exit) throw new Error(`the service exited during start-up (${JSON.stringify(service.#exit)}):\n${service.output()}`);
      const ok = await request(service.url, 'GET', '/healthz', undefined, { timeoutMs: 1_000 }).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return service;
      if (Date.now() > deadline) {
        await service.kill();
        throw new Error(`the service did not start within 30 s:\n${service.output()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  get exit(): Exit | null {
    return this.#exit;
  }

  /** Everything the process wrote to stdout and stderr (its log lines, at LOG_LEVEL). */
  output(): string {
    return this.#output;
  }

  /** Sends a signal (SIGTERM: a graceful shutdown). */
  signal(signal: NodeJS.Signals): void {
    if (!this.#exit) this.child.kill(signal);
  }

  /** Ends the process: SIGTERM, then SIGKILL if it is still there after `graceMs`. */
  async kill(graceMs = 10_000): Promise<Exit> {
    if (this.#exit) return this.#exit;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }
}

/** Ends every service process still running (for afterAll). */
export async function stopAllServices(): Promise<void> {
  await Promise.all([...running].map((service) => service.kill()));
}
