import { type CountryCode, getCountries, parsePhoneNumberFromString } from 'libphonenumber-js/max';

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

/**
 * The hint for a phone number written without `+`. It shows only numbers that exist: `+` and
 * the digits when that is a valid number (`4915123456789`, or `0049…` with the international
 * prefix), else, for a national number with a leading 0, the international form in a country
 * where that national number is valid, written the way that country writes it. No such
 * country: the rule alone, never an invented number such as `+0151…`.
 */
export function phoneFormatHint(input: string): string {
  const digits = input.replace(/\D/g, '');
  const intro = 'Phone numbers need the full international format with + and country code';
  const international = digits.startsWith('00') ? digits.slice(2) : digits.startsWith('0') ? null : digits;
  if (international && parsePhoneNumberFromString(`+${international}`)?.isValid()) {
    return `${intro}: write +${international} if that is the number meant.`;
  }
  if (!digits.startsWith('0') || digits.startsWith('00')) return `${intro}, e.g. +4915123456789.`;
  const example = nationalExample(input, digits);
  const rule = `${intro}: add the country code after + and drop the leading 0`;
  return example ? `${rule} — for ${example.what}, ${example.number}.` : `${rule}.`;
}

/** A country where `digits` is a valid national number with its trunk 0: mobiles first, then as written. */
function nationalExample(input: string, digits: string): { what: string; number: string } | null {
  const spacing = input.trim().replace(/\s+/g, ' ');
  let best: { rank: number; code: CountryCode; number: string } | null = null;
  for (const code of getCountries()) {
    const parsed = parsePhoneNumberFromString(digits, code);
    // The country's own number, written there with the 0 given (its national form is exactly
    // these digits), and valid.
    if (!parsed || parsed.country !== code || parsed.nationalNumber !== digits.slice(1) || !parsed.isValid()) continue;
    if (parsed.formatNational().replace(/\D/g, '') !== digits) continue;
    const rank = (MOBILE_TYPES.has(parsed.getType() ?? '') ? 0 : 2) + (parsed.formatNational() === spacing ? 0 : 1);
    if (!best || rank < best.rank) best = { rank, code, number: parsed.formatInternational() };
  }
  if (!best) return null;
  const adjective = ADJECTIVES[best.code];
  const what = adjective ? `a${/^[AEIOU]/.test(adjective) ? 'n' : ''} ${adjective} number` : `a number in ${regionNames.of(best.code) ?? best.code}`;
  return { what, number: best.number };
}
