import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import { type Page, pageOf } from '../db/keyset.js';
import type { Database } from '../db/types.js';
import { Refusal, validationFailed } from '../domain/refusal.js';
import type { FieldError } from '../domain/refusal.js';
import { operatorAssigned } from './checks.js';
import { parseAccountField } from './formats.js';
import { type Session, toSession } from './model.js';
import type { Pipeline } from './pipeline.js';
import * as repo from './repository.js';

export const sessionNotFound = (id: string) => new Refusal('session_not_found', `Session ${id} does not exist.`);

/** Reading, listing and closing sessions (opening them is SessionInitiation's). */
export class SessionService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly pipeline: Pipeline,
    private readonly clock: Clock,
  ) {}

  /** Returns the session or throws session_not_found. */
  async get(id: string): Promise<Session> {
    const row = await repo.findSession(this.db, id);
    if (!row) throw sessionNotFound(id);
    return toSession(row);
  }

  /** Newest first, a page at a time; `account` is matched in its normalised form. */
  async list(query: repo.SessionQuery): Promise<Page<Session>> {
    let account = query.account;
    if (account !== undefined) {
      const errors: FieldError[] = [];
      account = parseAccountField(account, errors)?.value;
      if (errors.length > 0) throw validationFailed(errors);
    }
    const page = pageOf(await repo.listSessions(this.db, { ...query, account }), query.limit);
    return { items: page.items.map(toSession), next: page.next };
  }

  /**
   * Assigns an open session to an operator of its live chat: taking one that waits in the
   * queue, or handing one over. Refuses an operator not assigned and a closed session.
   */
  async assign(sessionId: string, operatorId: string): Promise<Session> {
    const now = this.clock.now();
    const row = await this.pipeline.run(
      { kind: 'assign', sessionId, operatorId, now },
      { guards: [operatorAssigned.name], write: () => repo.assignSession(this.db, sessionId, operatorId, now) },
    );
    return toSession(row);
  }

  /** Closes the session; closing a closed one changes nothing. A given operator must be assigned. */
  async close(sessionId: string, operatorId: string | undefined): Promise<Session> {
    const row = await this.pipeline.run(
      { kind: 'close', sessionId, operatorId, now: this.clock.now() },
      { guards: [], write: async () => (await repo.closeSession(this.db, sessionId, this.clock.now())) ?? (await repo.findSession(this.db, sessionId)) },
    );
    return toSession(row);
  }
}
