/** How long a period the demand for slots is counted over, to size the next reservation. */
const DEMAND_PERIOD_MS = 100;
/** A reserved slot this far past is still used; an older one is dropped (sending on it would bunch messages). */
const LATE_SLOT_TOLERANCE_MS = 5;
/** Handed-over messages that may wait for a slot of a live chat whose rate is not known yet. */
const UNKNOWN_RATE_WAITING = 8;

/**
 * Where one live chat's sending stands in this replica (see Pacer): slots reserved ahead and
 * not used yet, handed-over messages waiting for one, what claims saw of it, and the demand.
 */
export class ChatPacing {
  ratePerSecond: number | null = null;
  /** Its next free slot, as last seen (epoch ms). */
  nextSlotAt = 0;
  /** Until then (epoch ms), a claim saw its due messages left waiting in the outbox. */
  backlogUntil = 0;
  /** Handed-over messages waiting for a slot, oldest first. */
  readonly waiting: ((at: number | null) => void)[] = [];
  reserving = false;
  retry: NodeJS.Timeout | null = null;
  /** Reserved slots no message has taken yet (epoch ms, ascending). */
  #free: number[] = [];
  /** Sends in flight, and those waiting for their turn. */
  #sending = 0;
  readonly #turns: (() => void)[] = [];
  #periodStart = 0;
  #demand = 0;
  #lastDemand = 0;

  /** Counts a message that wants a slot now. */
  noteDemand(now: number): void {
    if (now - this.#periodStart >= DEMAND_PERIOD_MS) {
      // A period without demand in between leaves nothing to expect.
      this.#lastDemand = now - this.#periodStart < 2 * DEMAND_PERIOD_MS ? this.#demand : 0;
      this.#periodStart = now;
      this.#demand = 0;
    }
    this.#demand += 1;
  }

  /** Slots worth reserving ahead: the last period's demand, at most a period's worth of the rate. */
  expectedDemand(): number {
    const perPeriod = this.ratePerSecond === null ? 1 : Math.ceil((this.ratePerSecond * DEMAND_PERIOD_MS) / 1000);
    return Math.max(0, Math.min(Math.max(this.#lastDemand, this.#demand) - 1, perPeriod));
  }

  hasFreeSlot(now: number): boolean {
    this.#dropStale(now);
    return this.#free.length > 0;
  }

  takeFreeSlot(now: number): number | undefined {
    this.#dropStale(now);
    return this.#free.shift();
  }

  /** How many handed-over messages may wait for a slot: half the horizon's worth of the rate. */
  maxWaiting(horizonMs: number): number {
    return this.ratePerSecond === null ? UNKNOWN_RATE_WAITING : Math.max(1, Math.floor((this.ratePerSecond * horizonMs) / 2000));
  }

  /** Gives reserved slots to the waiting messages, oldest first; the rest are kept for the next ones. */
  grant(slots: readonly number[], options: { all?: boolean } = {}): void {
    for (const slot of slots) {
      const next = this.waiting.shift();
      if (next) next(slot);
      else this.#free.push(slot);
    }
    if (options.all) for (const next of this.waiting.splice(0)) next(slots[0] ?? Date.now());
  }

  /** A slot missed by up to the tolerance, or half the spacing of slots if more, is still good. */
  lateTolerance(toleranceMs: number): number {
    return this.ratePerSecond === null ? toleranceMs : Math.max(toleranceMs, 500 / this.ratePerSecond);
  }

  /** Resolves once a send may start: fewer than one a tenth of the rate (at least one) are in flight. */
  async turn(signal: AbortSignal): Promise<void> {
    const most = Math.max(1, Math.floor((this.ratePerSecond ?? 0) / 10));
    if (this.#sending < most && this.#turns.length === 0) {
      this.#sending += 1;
      return;
    }
    signal.throwIfAborted();
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const i = this.#turns.indexOf(granted);
        if (i >= 0) this.#turns.splice(i, 1);
        reject(signal.reason);
      };
      const granted = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#turns.push(granted);
    });
  }

  /** A send's turn is over: the next waiting one gets it. */
  sent(): void {
    const next = this.#turns.shift();
    if (next) next();
    else this.#sending -= 1;
  }

  /** Nothing waits, nothing reserved, nothing in flight: safe to forget. */
  isIdle(): boolean {
    return this.waiting.length === 0 && !this.reserving && this.retry === null && this.#sending === 0;
  }

  stop(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    for (const next of this.waiting.splice(0)) next(null);
    this.#free = [];
  }

  #dropStale(now: number): void {
    while (this.#free.length > 0 && this.#free[0]! < now - LATE_SLOT_TOLERANCE_MS) this.#free.shift();
  }
}
