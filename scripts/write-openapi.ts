import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { connectDatabase } from '../src/db/connection.js';
import { writeOrCheck } from './generated-file.js';

// Writes openapi/openapi.json from the route schemas; with --check, fails when it is stale.
const target = new URL('../openapi/openapi.json', import.meta.url);

const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DISPATCHER_ENABLED: 'false' });
// Building the app needs a database handle but runs no query: an unopened in-memory PGlite.
const database = await connectDatabase({ dataDir: 'memory://' });
const app = await buildApp({ config, database });
await app.ready();
const document = `${JSON.stringify(app.swagger(), null, 2)}\n`;
await app.close();
await database.close();

await writeOrCheck(target, document, 'npm run openapi');
