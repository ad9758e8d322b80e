import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { ConfigError, generateApiKey, loadConfig } from './config.js';
import { connectDatabase } from './db/connection.js';
import { migrate } from './db/migrate.js';
import { createLogger } from './http/logging.js';
import { warnOfDevelopmentSecretsKey } from './start-up-warnings.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger({ level: config.logLevel, nodeEnv: config.nodeEnv });

  warnOfDevelopmentSecretsKey(config, logger);
  if (!config.adminApiKey) {
    config.adminApiKey = generateApiKey();
    // Development only (production refuses to start without one): shown once, never stored.
    logger.warn(`ADMIN_API_KEY is not set; generated one for this run: ${config.adminApiKey}`);
  }

  const database = await connectDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolSize: config.databasePoolSize,
  });
  const { applied } = await migrate(database);
  if (applied.length > 0) logger.info({ applied }, 'migrations applied');

  const app = await buildApp({ config, database, logger });

  closeWithGrace({ delay: 25_000, logger }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'shutting down after an error');
    else logger.info({ signal }, 'shutting down');
    await app.close();
    await database.close();
  });

  await app.listen({ port: config.port, host: config.host });
}

main().catch((error: unknown) => {
  console.error('Start-up failed:', error instanceof Error ? error.message : error);
  process.exit(1);
});
