import type { AddressInfo } from 'node:net';
import { type TestApp, createTestApp } from './app.js';

/** The application listening on a free port of 127.0.0.1, for clients that speak real HTTP. */
export async function startTestServer(options: Parameters<typeof createTestApp>[0] = {}): Promise<TestApp & { url: string }> {
  const t = await createTestApp(options);
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = t.app.server.address() as AddressInfo;
  return { ...t, url: `http://127.0.0.1:${port}` };
}
