import type { FastifyBaseLogger } from 'fastify';
import type { TemplateService } from './service.js';

/** How often a replica looks for catalogues due for their periodic sync. */
export const SYNC_CHECK_INTERVAL_MS = 60_000;

/**
 * The periodic template sync, in every replica: every minute (or the sync interval, if
 * shorter) it claims the catalogues that are due — each by one replica only — and syncs them.
 * A sync that fails keeps the catalogue as it was and is tried again an interval later.
 */
export class TemplateSyncScheduler {
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;

  constructor(
    private readonly templates: TemplateService,
    private readonly log: FastifyBaseLogger,
    private readonly checkEveryMs: number,
  ) {}

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.runOnce(), this.checkEveryMs);
    this.#timer.unref();
  }

  /** Syncs what is due now (skipped while a run goes on). */
  runOnce(): Promise<void> {
    this.#running ??= this.templates
      .syncDue((liveChatId, error) => this.log.warn({ err: error, liveChatId }, 'periodic template sync failed; the catalogue is kept'))
      .then(
        () => undefined,
        (error: unknown) => this.log.warn({ err: error }, 'could not claim template syncs'),
      )
      .finally(() => (this.#running = null));
    return this.#running;
  }

  /** Stops the timer and waits for a run in progress (the database must stay open until then). */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }
}
