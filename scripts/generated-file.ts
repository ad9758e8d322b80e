import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/**
 * Writes a generated file, or with `--check` on the command line exits 1 when the committed
 * file differs from what the generator produces now (CI runs the checks).
 */
export async function writeOrCheck(target: URL, content: string, regenerate: string): Promise<void> {
  const name = fileURLToPath(target).replace(`${process.cwd()}/`, '');
  if (!process.argv.includes('--check')) {
    await writeFile(target, content);
    console.log(`Wrote ${name}`);
    return;
  }
  const committed = await readFile(target, 'utf8').catch(() => '');
  if (committed !== content) {
    console.error(`${name} is stale: run \`${regenerate}\` and commit the result.`);
    process.exit(1);
  }
  console.log(`${name} is current.`);
}
