import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Global setup of the fault suite: builds `dist/` once (`npm run build`) for the service processes. */
export default async function buildService(): Promise<void> {
  const cwd = fileURLToPath(new URL('../../', import.meta.url));
  try {
    await run('npm', ['run', 'build'], { cwd, timeout: 180_000 });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`npm run build failed:\n${stdout ?? ''}${stderr ?? ''}`);
  }
}
