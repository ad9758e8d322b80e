import { ConfigError, loadConfig } from '../config.js';
import { connectDatabase } from '../db/connection.js';
import { resealSecrets } from './reseal.js';
import { SecretBox } from './secret-box.js';

// `npm run secrets:rotate`: re-seals every live chat's secrets with the first key in
// SECRETS_KEY. Exits non-zero when some live chat's secrets no listed key opens.
try {
  const config = loadConfig();
  if (config.secretsKeyIsDevelopment) throw new ConfigError('Set SECRETS_KEY (the new key first, then the old ones) to rotate to it.');
  const box = new SecretBox(config.secretsKeys);
  const database = await connectDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 2 });
  try {
    const report = await resealSecrets(database.db, box);
    console.warn(`Sealed with key ${box.currentKeyId}: ${report.resealed} live chats re-sealed, ${report.current} already were.`);
    if (report.unreadable.length > 0) {
      console.error(`No key in SECRETS_KEY opens the secrets of ${report.unreadable.length} live chats: ${report.unreadable.join(', ')}`);
      process.exitCode = 1;
    }
  } finally {
    await database.close();
  }
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : `Rotation failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
