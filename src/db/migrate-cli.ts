import { ConfigError, loadConfig } from '../config.js';
import { connectDatabase } from './connection.js';
import { migrate } from './migrate.js';

// `npm run migrate`: applies pending migrations and exits non-zero when one fails.
try {
  const config = loadConfig();
  const database = await connectDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 1 });
  try {
    const { applied } = await migrate(database);
    console.warn(applied.length > 0 ? `Applied: ${applied.join(', ')}` : 'Nothing to apply; the schema is current.');
  } finally {
    await database.close();
  }
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : `Migration failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
