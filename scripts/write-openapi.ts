import { readFile, writeFile } from 'node:fs/promises';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { connectDatabase } from '../src/db/connection.js';

// Writes openapi/openapi.json from the route schemas; with --check, fails when it is stale.
const target = new URL('../openapi/openapi.json', import.meta.url);
const check = process.argv.includes('--check');

const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DISPATCHER_ENABLED: 'false' });
// Building the app needs a database handle but runs no query: an unopened in-memory PGlite.
const database = await connectDatabase({ dataDir: 'memory://' });
const app = await buildApp({ config, database });
await app.ready();
const document = `${JSON.stringify(app.swagger(), null, 2)}\n`;
await app.close();
await database.close();

if (check) {
  const committed = await readFile(target, 'utf8').catch(() => '');
  if (committed !== document) {
    console.error('openapi/openapi.json is stale: run `npm run openapi` and commit the result.');
    process.exit(1);
  }
  console.log('openapi/openapi.json is current.');
} else {
  await writeFile(target, document);
  console.log('Wrote openapi/openapi.json');
}
