/**
 * The claim loop's sleep: a wake cuts it short, and a wake that comes while the loop is awake
 * (claiming) makes the next sleep return at once, so no wake is lost. Stopping cuts every
 * sleep short, also the error backoff that ignores wakes.
 */
export class LoopSleep {
  #wakeRequested = false;
  #wakeUp: ((stopping: boolean) => void) | null = null;

  /** Forget wakes before this point (the loop is about to look at the outbox). */
  awake(): void {
    this.#wakeRequested = false;
  }

  wake(stopping = false): void {
    this.#wakeRequested = true;
    this.#wakeUp?.(stopping);
  }

  /** Sleeps up to `ms`, or until woken (with `ignoreWake`: until stopped). */
  sleep(ms: number, options: { ignoreWake?: boolean } = {}): Promise<void> {
    if (this.#wakeRequested && !options.ignoreWake) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakeUp = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wakeUp = (stopping) => (!options.ignoreWake || stopping ? done() : undefined);
    });
  }
}

/** Waits for the promises to settle for up to `ms`: true when they all did. */
export async function settleWithin(promises: readonly Promise<unknown>[], ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const finished = await Promise.race([Promise.allSettled(promises).then(() => true), timedOut]);
  clearTimeout(timer);
  return finished;
}
