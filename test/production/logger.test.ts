import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/http/logging.js';

/** A destination that collects what is written, and says whether it is a terminal. */
function sink(isTTY: boolean): Writable & { isTTY: boolean; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return Object.assign(stream, { isTTY, text: () => chunks.join('') });
}

describe('the service logger', () => {
  it('writes readable lines to a terminal outside production, secrets still redacted and numbers masked', () => {
    const out = sink(true);
    createLogger({ level: 'info', nodeEnv: 'development' }, out).info({ channel: { accessToken: 'EAAG-secret' }, to: '+4915123456789' }, 'message sent');
    const text = out.text();
    expect(text).toContain('message sent');
    expect(() => JSON.parse(text.trim())).toThrow();
    expect(text).not.toContain('EAAG-secret');
    expect(text).not.toContain('+4915123456789');
  });

  it('writes JSON lines when the destination is not a terminal, or in production', () => {
    for (const [isTTY, nodeEnv] of [[false, 'development'], [true, 'production']] as const) {
      const out = sink(isTTY);
      createLogger({ level: 'info', nodeEnv }, out).info({ apiKeyId: 'k1' }, 'request');
      expect(JSON.parse(out.text().trim())).toMatchObject({ msg: 'request', apiKeyId: 'k1', level: 30 });
    }
  });
});
