import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ENV_VARIABLES } from '../../src/config.js';

const root = new URL('../../', import.meta.url);

describe('containers', () => {
  it('gives the service in docker-compose.yml every setting config.ts reads, and nothing else', async () => {
    const compose = parse(await readFile(new URL('docker-compose.yml', root), 'utf8'));
    const env = Object.keys(compose.services.api.environment).sort();
    expect(env).toEqual([...ENV_VARIABLES].sort());
  });

  it('starts the service only after Postgres 16 reports healthy, with its data on a named volume', async () => {
    const compose = parse(await readFile(new URL('docker-compose.yml', root), 'utf8'));
    expect(compose.services.postgres.image).toBe('postgres:16');
    expect(compose.services.postgres.healthcheck.test.join(' ')).toContain('pg_isready');
    expect(compose.services.api.depends_on.postgres.condition).toBe('service_healthy');
    const [volume] = compose.services.postgres.volumes[0].split(':');
    expect(Object.keys(compose.volumes)).toContain(volume);
  });

  it('builds on Node 24 LTS, and runs as a non-root user with a health check', async () => {
    const dockerfile = await readFile(new URL('Dockerfile', root), 'utf8');
    const stages = dockerfile.split(/^FROM /m).slice(1);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage).toMatch(/^node:24-/);
    const runtime = stages[stages.length - 1]!;
    expect(runtime).toMatch(/npm ci --omit=dev/);
    expect(runtime).toMatch(/^USER (?!root)\w+/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*\n?.*\/healthz/m);
  });

  it('declares Node 24 and runs npm scripts on it, whatever Node the machine has', async () => {
    const pkg = JSON.parse(await readFile(new URL('package.json', root), 'utf8'));
    expect(pkg.engines.node).toBe('>=24');
    expect(pkg.devDependencies.node).toMatch(/^\^24\./);
    // npm 11 skips install scripts it was not told to allow; the node package needs its own.
    expect(pkg.allowScripts.node).toBe(true);
    expect(Number(process.versions.node.split('.')[0])).toBe(24);
  });
});
