import { Refusal } from '../domain/refusal.js';
import type { Ask, FactName, Facts, Reach } from './checks.js';
import { Decision } from './decision.js';
import type { FactLoader } from './facts.js';

/** A write that guards some facts itself: it writes nothing (undefined) when one does not hold. */
export interface GuardedWrite<W> {
  /** The checks (by name) its conditions and unique indexes enforce, so they need no facts loaded first. */
  guards: readonly string[];
  write(reach: Required<Reach>, facts: Readonly<Facts>): Promise<W | undefined>;
}

/** Facts a guarded write may find changed; loaded again before another attempt. */
const CHANGING: readonly FactName[] = ['session', 'operatorAssigned', 'contact', 'holderId'];
const MAX_ATTEMPTS = 3;

/**
 * The pipeline every request that opens a session or queues a message goes through, after its
 * formats were checked: load facts → decide (the contract's checks, src/sessions/checks.ts) →
 * write (guarded against races) → the caller hands the result over. A refusal is thrown.
 *
 * When the write writes nothing, the checks it stood in for run on freshly loaded facts and
 * say why. If every rule holds even so, the person's other session was closed in between:
 * the request is decided and written again.
 */
export class Pipeline {
  constructor(private readonly facts: FactLoader) {}

  async run<W>(ask: Ask, write: GuardedWrite<W>): Promise<W> {
    let known: Facts = {};
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const decision = new Decision(ask, { guarded: attempt === 0 ? write.guards : [], facts: known });
      const reach = await this.#decide(decision);
      const written = await write.write(reach, decision.facts);
      if (written !== undefined) return written;
      decision.supply(await this.facts.load(decision.guards, decision));
      await this.#decide(decision);
      known = Object.fromEntries(Object.entries(decision.facts).filter(([name]) => !CHANGING.includes(name as FactName)));
    }
    throw new Refusal('session_already_open', 'A concurrent request holds this person; try again.');
  }

  /** Steps the decision, loading what it asks for, until it refuses (thrown) or decides. */
  async #decide(decision: Decision): Promise<Required<Reach>> {
    for (;;) {
      const step = decision.step();
      if (step.outcome === 'refused') throw step.refusal;
      if (step.outcome === 'decided') return step.reach;
      decision.supply(await this.facts.load(step.facts, decision));
    }
  }
}
