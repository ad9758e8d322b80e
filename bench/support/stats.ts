/** The value below which p % of `values` lie (nearest rank); NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const median = (values: readonly number[]): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/** A whole number with thousands separators: 12,345. */
export const whole = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');

/** Milliseconds, to one decimal below 10 ms. */
export const ms = (n: number): string => (Number.isFinite(n) ? (Math.abs(n) < 10 ? n.toFixed(1) : whole(n)) : '-');

/** The wall clock in milliseconds since the epoch, to the microsecond (Date.now() is whole milliseconds). */
export const wallClockMs = (): number => performance.timeOrigin + performance.now();

export const sleep = (milliseconds: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, milliseconds));
