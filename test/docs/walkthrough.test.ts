import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY } from '../support/app.js';
import { startTestServer } from '../support/server.js';

const run = promisify(execFile);
const script = fileURLToPath(new URL('../../docs/walkthrough.sh', import.meta.url));

describe('the README curl walkthrough (docs/walkthrough.sh)', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('runs against a started server, every step answering the status it expects', async () => {
    const { stdout } = await run('bash', [script], { env: { ...process.env, BASE_URL: server.url, ADMIN_API_KEY: ADMIN_KEY } });
    const statuses = [...stdout.matchAll(/^== (.+): HTTP (\d{3})$/gm)].map((m) => [m[1], Number(m[2])]);
    expect(statuses).toEqual([
      ['create a live chat', 201],
      ['assign an operator', 204],
      ['initiate a session', 201],
      ['initiate again: refused', 409],
      ['get the session', 200],
      ['list its messages', 200],
      ['close the session', 200],
      ['reopen the session', 200],
      ['a customer writes first', 200],
      ['list the queue', 200],
      ['take it from the queue', 200],
      ['answer the customer', 202],
    ]);
    expect(stdout).toMatch(/"origin":"inbound"/);
    expect(stdout).toMatch(/"code":"session_already_open","instance":"\/sessions","existingSessionId":"[0-9a-f-]{36}"/);
    expect(stdout).toContain('Walkthrough complete');
  });

  it('stops with a non-zero exit when a step answers another status', async () => {
    await expect(run('bash', [script], { env: { ...process.env, BASE_URL: server.url, ADMIN_API_KEY: 'wrong-key' } })).rejects.toMatchObject({ code: 1 });
  });
});
