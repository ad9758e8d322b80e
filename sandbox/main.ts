import closeWithGrace from 'close-with-grace';
import { createLogger } from '../src/http/logging.js';
import { startSandbox } from './sandbox.js';

// `npm run sandbox`: the service with local provider stand-ins, to try every flow without
// provider accounts. Nothing is kept between runs.
const logger = createLogger({ level: process.env.LOG_LEVEL || 'info', nodeEnv: 'development' });
try {
  const sandbox = await startSandbox({ logger });
  console.warn(
    [
      '',
      `Sandbox running at ${sandbox.url} (in-memory database; WhatsApp, Telegram and SMTP are local stand-ins).`,
      `  Admin key:        ${sandbox.adminApiKey}`,
      `  Email live chats: SMTP host 127.0.0.1, port ${sandbox.smtpPort}`,
      `  A customer writes: curl -X POST ${sandbox.url}/sandbox/customer-messages -H "Authorization: Bearer ${sandbox.adminApiKey}" \\`,
      `                       -H "Content-Type: application/json" -d '{"liveChatId":"…","from":"+49 151 23456789","text":"Hi!"}'`,
      `  What the providers received: curl ${sandbox.url}/sandbox/deliveries -H "Authorization: Bearer ${sandbox.adminApiKey}"`,
      '',
    ].join('\n'),
  );
  closeWithGrace({ delay: 10_000 }, async () => sandbox.close());
} catch (error) {
  console.error(`Sandbox failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
