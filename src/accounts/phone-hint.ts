import { type CountryCode, type PhoneNumber, getCountries, parsePhoneNumberFromString } from 'libphonenumber-js/max';

// The adjective for the countries people most often write national numbers from; others are
// named "a number in <country>".
const ADJECTIVES: Partial<Record<CountryCode, string>> = {
  AR: 'Argentine', AT: 'Austrian', AU: 'Australian', BE: 'Belgian', BR: 'Brazilian', CH: 'Swiss', CN: 'Chinese',
  CZ: 'Czech', DE: 'German', DK: 'Danish', EG: 'Egyptian', ES: 'Spanish', FI: 'Finnish', FR: 'French',
  GB: 'British', GR: 'Greek', HU: 'Hungarian', ID: 'Indonesian', IE: 'Irish', IN: 'Indian', IT: 'Italian',
  JP: 'Japanese', KR: 'South Korean', MA: 'Moroccan', MX: 'Mexican', NG: 'Nigerian', NL: 'Dutch', NO: 'Norwegian',
  NZ: 'New Zealand', PK: 'Pakistani', PL: 'Polish', PT: 'Portuguese', RO: 'Romanian', RU: 'Russian', SE: 'Swedish',
  TH: 'Thai', TR: 'Turkish', UA: 'Ukrainian', US: 'US', VN: 'Vietnamese', ZA: 'South African',
};
const MOBILE_TYPES = new Set(['MOBILE', 'FIXED_LINE_OR_MOBILE']);
const regionNames = new Intl.DisplayNames(['en'], { type: 'region' });
// The country the rule is shown for when the writing names none (the contract's example).
const EXAMPLE_COUNTRY: CountryCode = 'DE';

/**
 * The hint for a phone number written without `+`. `+` and the digits are offered as the number
 * meant only when that is a valid number (`4915123456789`, or `0049…`); a national number with a
 * leading 0 gets the rule, shown for the country whose own writing is exactly what was typed,
 * else for Germany when the length fits (an example of the rule, as the API contract gives it),
 * else the rule alone. Never a non-number such as `+0151…`.
 */
export function phoneFormatHint(input: string): string {
  const digits = input.replace(/\D/g, '');
  const intro = 'Phone numbers need the full international format with + and country code';
  const international = digits.startsWith('00') ? digits.slice(2) : digits.startsWith('0') ? null : digits;
  if (international && parsePhoneNumberFromString(`+${international}`)?.isValid()) {
    return `${intro}: write +${international} if that is the number meant.`;
  }
  if (!digits.startsWith('0') || digits.startsWith('00')) return `${intro}, e.g. +4915123456789.`;
  const example = writtenAsIn(input, digits) ?? exampleIn(EXAMPLE_COUNTRY, input, digits);
  const rule = `${intro}: add the country code after + and drop the leading 0`;
  return example ? `${rule} — for ${countryPhrase(example.code)}, ${example.number}.` : `${rule}.`;
}

/**
 * A country where `digits` is a valid national number written exactly as typed (`06 12 34 56
 * 78` is how France writes its mobiles): mobiles first. Merely valid somewhere is no sign of the
 * country: `0151 2345678`, a German mobile one digit short, is valid in Bangladesh.
 */
function writtenAsIn(input: string, digits: string): { code: CountryCode; number: string } | null {
  const spacing = input.trim().replace(/\s+/g, ' ');
  let best: { mobile: boolean; code: CountryCode; number: string } | null = null;
  for (const code of getCountries()) {
    const parsed = nationalNumberIn(code, digits);
    if (!parsed?.isValid() || parsed.formatNational() !== spacing) continue;
    const mobile = MOBILE_TYPES.has(parsed.getType() ?? '');
    if (!best || (mobile && !best.mobile)) best = { mobile, code, number: parsed.formatInternational() };
  }
  return best;
}

/** The digits as a national number of `code` with its trunk 0: as that country writes it when valid there, else as typed. */
function exampleIn(code: CountryCode, input: string, digits: string): { code: CountryCode; number: string } | null {
  const parsed = nationalNumberIn(code, digits);
  if (!parsed?.isPossible()) return null;
  if (parsed.isValid()) return { code, number: parsed.formatInternational() };
  const typed = input.trim().replace(/^\D*0/, '').replace(/\D+/g, ' ').trim();
  return { code, number: `+${parsed.countryCallingCode} ${typed}` };
}

/** `digits` read as a national number of `code` with its trunk 0 (all digits after it national), or null. */
function nationalNumberIn(code: CountryCode, digits: string): PhoneNumber | null {
  const parsed = parsePhoneNumberFromString(digits, code);
  return parsed && parsed.country === code && parsed.nationalNumber === digits.slice(1) ? parsed : null;
}

function countryPhrase(code: CountryCode): string {
  const adjective = ADJECTIVES[code];
  return adjective ? `a${/^[AEIOU]/.test(adjective) ? 'n' : ''} ${adjective} number` : `a number in ${regionNames.of(code) ?? code}`;
}
