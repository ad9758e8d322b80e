import fc from 'fast-check';
import { getCountries, getExampleNumber, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import examples from 'libphonenumber-js/mobile/examples';
import { describe, expect, it } from 'vitest';
import { accountFitsChannel, allowPhonePrefixes, defaultAccountKind, maskAccount, normaliseEmail, normalisePhone, parseAccount, whatsAppPeer } from '../../src/accounts/accounts.js';

/** Every country's example mobile number, in E.164: real shapes from many numbering plans. */
const E164_EXAMPLES = getCountries()
  .map((country) => getExampleNumber(country, examples)?.number)
  .filter((n): n is NonNullable<typeof n> => n !== undefined)
  .map(String);

const SEPARATORS = [' ', '-', '.', '(', ')', '  '];

/** The number written the way people write it: separators sprinkled between its digits. */
const formatted = fc
  .record({
    number: fc.constantFrom(...E164_EXAMPLES),
    gaps: fc.array(fc.option(fc.constantFrom(...SEPARATORS), { nil: undefined, freq: 2 }), { minLength: 20, maxLength: 20 }),
  })
  .map(({ number, gaps }) => ({
    number,
    written: '+' + [...number.slice(1)].map((digit, i) => (i > 0 && gaps[i] ? gaps[i] : '') + digit).join(''),
  }));

describe('normalisePhone', () => {
  it('turns a number in full international format into E.164', () => {
    expect(normalisePhone('+49 151 23456789')).toEqual({ ok: true, value: '+4915123456789' });
    expect(normalisePhone('+49 (151) 234-567.89')).toEqual({ ok: true, value: '+4915123456789' });
    expect(normalisePhone(' +1 202 555 0143 ')).toEqual({ ok: true, value: '+12025550143' });
  });

  it('refuses a number without + and shows the + form in its message', () => {
    const result = normalisePhone('49 151 23456789');
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_phone_number' } });
    expect(!result.ok && result.error.message).toContain('+4915123456789');
  });

  it.each(['+49 1', '+4915123456789012345', '+999 123456', '+00 123', '++49151', '+49 151 2345678a', 'call me', '', '+'])(
    'refuses %j as invalid_phone_number',
    (input) => {
      expect(normalisePhone(input)).toMatchObject({ ok: false, error: { code: 'invalid_phone_number', message: expect.any(String) } });
    },
  );

  it('property: a valid number written with spaces, dashes, dots or parentheses normalises to its E.164 form', () => {
    expect(E164_EXAMPLES.length).toBeGreaterThan(200);
    fc.assert(
      fc.property(formatted, ({ number, written }) => {
        expect(normalisePhone(written)).toEqual({ ok: true, value: number });
      }),
      { numRuns: 500 },
    );
  });

  it('property: normalising is idempotent', () => {
    fc.assert(
      fc.property(formatted, ({ written }) => {
        const once = normalisePhone(written);
        expect(once.ok).toBe(true);
        if (once.ok) expect(normalisePhone(once.value)).toEqual(once);
      }),
    );
  });

  it('property: digits without + are refused, and the message shows only + forms that are real numbers or the rule’s German example', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^0{0,2}[1-9][\d ]{6,14}$/), (digits) => {
        const result = normalisePhone(digits);
        expect(result.ok).toBe(false);
        if (!result.ok) {
          expect(result.error.code).toBe('invalid_phone_number');
          // A national number (one leading 0) may be shown as the German number it could be: +49 and the digits after the 0.
          const germanExample = /^0[1-9]/.test(digits) ? `+49${digits.replace(/\D/g, '').slice(1)}` : null;
          for (const shown of result.error.message.match(/\+\d[\d ]*\d/g) ?? []) {
            expect(shown.replace(/ /g, '') === germanExample || parsePhoneNumberFromString(shown)?.isValid(), shown).toBe(true);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('shows the + form of digits given without it when that is a valid number', () => {
    expect(normalisePhone('4915123456789')).toMatchObject({ ok: false, error: { message: expect.stringContaining('write +4915123456789 if that is the number meant') } });
    expect(normalisePhone('0049 151 23456789')).toMatchObject({ ok: false, error: { message: expect.stringContaining('write +4915123456789') } });
  });

  it('answers a national number with the rule and a real example, never an invented +0…', () => {
    const german = normalisePhone('0151 23456789');
    expect(!german.ok && german.error.message).toBe(
      'Phone numbers need the full international format with + and country code: add the country code after + and drop the leading 0 — for a German number, +49 1512 3456789.',
    );
    // 0151 2345678 is one digit short for a German mobile, and valid only in countries whose writing
    // it is not (Bangladesh, Britain…): the rule is shown for Germany, with the digits as typed.
    const short = normalisePhone('0151 2345678');
    expect(!short.ok && short.error.message).toBe(
      'Phone numbers need the full international format with + and country code: add the country code after + and drop the leading 0 — for a German number, +49 151 2345678.',
    );
    // Written exactly as Britain writes it, it is the British number.
    const british = normalisePhone('0151 234 5678');
    expect(!british.ok && british.error.message).toContain('for a British number, +44 151 234 5678.');
    const french = normalisePhone('06 12 34 56 78');
    expect(!french.ok && french.error.message).toContain('for a French number, +33 6 12 34 56 78.');
    // No country where it is a number: the rule alone.
    const none = normalisePhone('0 1');
    expect(!none.ok && none.error.message).toBe('Phone numbers need the full international format with + and country code: add the country code after + and drop the leading 0.');
  });

  it('refuses numbers that are possible by length but not valid in their country’s plan', () => {
    for (const input of ['+49 151 23', '+1 000 000 0000', '+55 11 8765 4321']) {
      expect(normalisePhone(input), input).toMatchObject({ ok: false, error: { code: 'invalid_phone_number' } });
      expect(normalisePhone(input, 'possible').ok, input).toBe(true);
    }
  });

  it('accepts the WhatsApp Cloud API test numbers (+1 555 …) and the prefixes of PHONE_ALLOW_PREFIXES', () => {
    expect(normalisePhone('+1 555 012 3456')).toEqual({ ok: true, value: '+15550123456' });
    expect(normalisePhone('+1 000 000 0000').ok).toBe(false);
    allowPhonePrefixes(['+1000']);
    try {
      expect(normalisePhone('+1 000 000 0000')).toEqual({ ok: true, value: '+10000000000' });
      // Still a possible length: a prefix does not admit any digits at all.
      expect(normalisePhone('+1 000 0').ok).toBe(false);
    } finally {
      allowPhonePrefixes([]);
    }
  });

  it('property: never throws, and whatever it accepts is E.164', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (input) => {
        const result = normalisePhone(input);
        if (result.ok) expect(result.value).toMatch(/^\+[1-9]\d{6,14}$/);
        else expect(result.error.code).toBe('invalid_phone_number');
      }),
      { numRuns: 1000 },
    );
  });
});

describe('normaliseEmail', () => {
  it('lower-cases the domain and keeps the local part as given', () => {
    expect(normaliseEmail(' Ann.Smith+crm@Example.COM ')).toEqual({ ok: true, value: 'Ann.Smith+crm@example.com' });
  });

  it.each(['ann', 'ann@', '@example.com', 'ann@example', 'an n@example.com', 'ann@@example.com', 'ann@example.com.', `${'a'.repeat(65)}@example.com`, `a@${'b'.repeat(250)}.com`])(
    'refuses %j as invalid_email',
    (input) => {
      expect(normaliseEmail(input)).toMatchObject({ ok: false, error: { code: 'invalid_email' } });
    },
  );

  it('property: the domain’s case does not matter, and normalising is idempotent', () => {
    const label = fc.stringMatching(/^[a-z][a-z0-9]{0,10}$/);
    const address = fc.record({ local: fc.stringMatching(/^[A-Za-z0-9._%+-]{1,20}$/), domain: fc.array(label, { minLength: 2, maxLength: 4 }) });
    fc.assert(
      fc.property(address, fc.boolean(), ({ local, domain }, upper) => {
        fc.pre(!local.startsWith('.') && !local.endsWith('.'));
        const plain = `${local}@${domain.join('.')}`;
        const shouted = `${local}@${upper ? domain.join('.').toUpperCase() : domain.join('.')}`;
        const a = normaliseEmail(plain);
        const b = normaliseEmail(shouted);
        expect(a).toEqual({ ok: true, value: plain });
        expect(b).toEqual(a);
        if (a.ok) expect(normaliseEmail(a.value)).toEqual(a);
      }),
    );
  });
});

describe('parseAccount', () => {
  it('tells a @username, an email address and a phone number apart', () => {
    expect(parseAccount('@Ann_Smith')).toEqual({ ok: true, value: { kind: 'username', value: '@ann_smith' } });
    expect(parseAccount('Ann@Example.com')).toEqual({ ok: true, value: { kind: 'email', value: 'Ann@example.com' } });
    expect(parseAccount('+49 151 23456789')).toEqual({ ok: true, value: { kind: 'phone', value: '+4915123456789' } });
  });

  it('refuses a username that Telegram would not allow', () => {
    for (const input of ['@ann', '@1annsmith', '@ann-smith', '@', `@${'a'.repeat(33)}`]) {
      expect(parseAccount(input)).toMatchObject({ ok: false, error: { code: 'invalid_username' } });
    }
  });

  it('reports the phone or email reason for a malformed account', () => {
    expect(parseAccount('4915123456789')).toMatchObject({ ok: false, error: { code: 'invalid_phone_number' } });
    expect(parseAccount('ann@localhost')).toMatchObject({ ok: false, error: { code: 'invalid_email' } });
  });
});

describe('which accounts fit which channel', () => {
  it('reaches people by phone on WhatsApp, by phone or @username on Telegram and by email on an inbox', () => {
    expect(accountFitsChannel('phone', 'whatsapp')).toBe(true);
    expect(accountFitsChannel('username', 'whatsapp')).toBe(false);
    expect(accountFitsChannel('email', 'whatsapp')).toBe(false);
    expect(accountFitsChannel('phone', 'telegram')).toBe(true);
    expect(accountFitsChannel('username', 'telegram')).toBe(true);
    expect(accountFitsChannel('email', 'telegram')).toBe(false);
    expect(accountFitsChannel('email', 'email')).toBe(true);
    expect(accountFitsChannel('phone', 'email')).toBe(false);
    expect(accountFitsChannel('username', 'email')).toBe(false);
  });

  it('falls back to a phone on messengers and an email on an inbox', () => {
    expect(defaultAccountKind('whatsapp')).toBe('phone');
    expect(defaultAccountKind('telegram')).toBe('phone');
    expect(defaultAccountKind('email')).toBe('email');
  });
});

describe('whatsAppPeer', () => {
  it('gives a Brazilian mobile known without the ninth digit its ninth digit', () => {
    expect(whatsAppPeer('+551187654321')).toBe('+5511987654321');
    expect(whatsAppPeer('+552196543210')).toBe('+5521996543210');
    // Already in today's form.
    expect(whatsAppPeer('+5511987654321')).toBe('+5511987654321');
  });

  it('leaves Brazilian landlines (2–5 first) as they are', () => {
    expect(whatsAppPeer('+551132654321')).toBe('+551132654321');
    expect(whatsAppPeer('+552125551234')).toBe('+552125551234');
  });

  it('drops the old 1 after 52 from a Mexican mobile', () => {
    expect(whatsAppPeer('+5215512345678')).toBe('+525512345678');
    expect(whatsAppPeer('+525512345678')).toBe('+525512345678');
  });

  it('leaves every other number as it is, and gives every number one form', () => {
    for (const n of ['+4915123456789', '+16505551234', '+5491123456789', '+447700900123']) expect(whatsAppPeer(n)).toBe(n);
    fc.assert(
      fc.property(fc.stringMatching(/^\+[1-9]\d{7,14}$/), (n) => {
        expect(whatsAppPeer(whatsAppPeer(n))).toBe(whatsAppPeer(n));
      }),
    );
  });
});

describe('maskAccount', () => {
  it('keeps enough to recognise an account and hides the rest', () => {
    expect(maskAccount('+4915123456789')).toBe('+4915******789');
    expect(maskAccount('ann@example.com')).toBe('a***@example.com');
    expect(maskAccount('@annsmith')).toBe('@an***');
  });

  it('shows at most eight characters of any country’s number', () => {
    for (const number of E164_EXAMPLES) {
      const masked = maskAccount(number);
      expect(masked).not.toBe(number);
      expect([...masked].filter((c) => c !== '*').length).toBeLessThanOrEqual(Math.min(8, number.length - 1));
    }
  });
});
