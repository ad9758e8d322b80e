import type { Logger } from 'pino';
import type { Config } from './config.js';

/**
 * Says at start-up that the development key written in the source seals the channel secrets
 * (SECRETS_KEY unset, outside production): fine to try the service, wrong for real credentials.
 */
export function warnOfDevelopmentSecretsKey(config: Pick<Config, 'secretsKeyIsDevelopment'>, logger: Pick<Logger, 'warn'>): void {
  if (!config.secretsKeyIsDevelopment) return;
  logger.warn('SECRETS_KEY is not set: channel secrets are sealed with the development key written in the source. Set SECRETS_KEY before storing real credentials.');
}
