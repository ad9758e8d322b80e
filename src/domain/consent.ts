/** How an opt-out came about: the API, a keyword the person wrote, or the provider (a blocked bot). */
export const OPT_OUT_SOURCES = ['api', 'keyword', 'provider'] as const;
export type OptOutSource = (typeof OPT_OUT_SOURCES)[number];
