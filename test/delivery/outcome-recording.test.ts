import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChannelRegistry, createChannelRegistry } from '../../src/channels/registry.js';
import { Dispatcher } from '../../src/delivery/dispatcher.js';
import { type TestApp, createTestApp, testConfig } from '../support/app.js';
import { type HttpStandIn, waitUntil } from '../support/http-stand-in.js';
import { startTelegramStandIn } from '../support/telegram-stand-in.js';
import { messageOf, telegramSession } from './helpers.js';

/**
 * Makes the next `failures` writes of a delivery outcome (the UPDATE that records a send) fail
 * as if the database connection had dropped, before they reach the database.
 */
class LostOutcomeWrites implements KyselyPlugin {
  failures = 0;

  transformQuery({ node }: PluginTransformQueryArgs): RootOperationNode {
    if (this.failures > 0 && isSentWrite(node)) {
      this.failures--;
      throw new Error('Connection terminated unexpectedly');
    }
    return node;
  }

  async transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return result;
  }
}

/** The statement that marks messages sent: an UPDATE that sets provider_message_id (built or raw SQL). */
function isSentWrite(node: RootOperationNode): boolean {
  const text = JSON.stringify(node);
  return text.includes('provider_message_id') && (node.kind === 'UpdateQueryNode' || (node.kind === 'RawNode' && /\bUPDATE\b/i.test(text)));
}

describe('recording a delivery outcome while the database is briefly out of reach', () => {
  let t: TestApp;
  let telegram: HttpStandIn;
  let channels: ChannelRegistry;

  beforeAll(async () => {
    telegram = await startTelegramStandIn();
    t = await createTestApp();
    channels = createChannelRegistry(testConfig({ telegramApiBaseUrl: telegram.url }));
  });
  afterAll(async () => {
    await channels.close();
    await t.close();
    await telegram.close();
  });

  it('waits for the database and records the send, instead of sending the message again once its lease runs out', async () => {
    const lost = new LostOutcomeWrites();
    const dispatcher = new Dispatcher({
      database: { db: t.database.handle.db.withPlugin(lost), kind: t.database.handle.kind, pool: null },
      channels,
      liveChats: t.app.services.liveChats,
      policy: { maxAttempts: 5, baseMs: 20, maxMs: 100 },
      providerTimeoutMs: 2_000,
      // Short, so that a message left claimed would soon be taken (and sent) again.
      leaseMs: 1_500,
      logger: pino({ level: 'silent' }),
      pollIntervalMs: 20,
    });
    lost.failures = 3;
    const session = await telegramSession(t.app, t.database.handle.db, { userId: 6_100_001, text: 'Sent once' });
    try {
      dispatcher.start();
      const message = await waitUntil(
        async () => {
          const m = await messageOf(t.app, session.sessionId, session.messageId!);
          return m?.status === 'sent' ? m : undefined;
        },
        { timeoutMs: 10_000, what: 'the message to be recorded as sent' },
      );
      expect(lost.failures).toBe(0);
      expect(message).toMatchObject({ attempts: 1 });
      expect(telegram.requests.map((r) => r.body.text)).toEqual(['Sent once']);
    } finally {
      await dispatcher.stop();
    }
  });
});
