import http, { type IncomingHttpHeaders } from 'node:http';

export interface HttpResponse<T = any> {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The body parsed when it is JSON, else the text. */
  data: T;
}

export interface RequestOptions {
  /** The admin key of the service processes unless another (or null) is given. */
  key?: string | null;
  headers?: Record<string, string>;
  /** A keep-alive agent to reuse connections; a fresh connection per request when omitted. */
  agent?: http.Agent;
  /** Give up after this long and fail with code CLIENT_TIMEOUT: the server hung (default 30 s). */
  timeoutMs?: number;
}

/** A request that got no HTTP response: the connection was refused or cut, or nothing came back in time. */
export class NoResponse extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The bootstrap admin key every service process of the fault tests is started with. */
export const SERVICE_ADMIN_KEY = 'fault-test-admin-key-0123456789abcdef';

/**
 * One HTTP request with a JSON body to a service process over a real socket. Resolves with any
 * HTTP response; rejects with NoResponse (`code` ECONNREFUSED, ECONNRESET, CLIENT_TIMEOUT, …)
 * when there is none.
 */
export function request<T = any>(baseUrl: string, method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<HttpResponse<T>> {
  const key = options.key === undefined ? SERVICE_ADMIN_KEY : options.key;
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${baseUrl}${path}`,
      {
        method,
        agent: options.agent ?? false,
        headers: {
          ...(key ? { authorization: `Bearer ${key}` } : {}),
          ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error: NodeJS.ErrnoException) => reject(new NoResponse(error.code ?? 'ERESPONSE', error.message)));
        res.on('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          let data: unknown = text;
          if (/json/.test(String(res.headers['content-type']))) {
            try {
              data = JSON.parse(text);
            } catch {
              // Left as text; the test sees it.
            }
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, data: data as T });
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new NoResponse('CLIENT_TIMEOUT', `${method} ${path}: no response within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(error instanceof NoResponse ? error : new NoResponse(error.code ?? 'EREQUEST', `${method} ${path}: ${error.message}`));
    });
    req.end(payload);
  });
}
