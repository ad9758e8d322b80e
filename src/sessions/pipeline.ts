import { Refusal } from '../domain/refusal.js';
import { type Ask, CHECKS, type FactName, type Facts, type Reach } from './checks.js';
import { Decision } from './decision.js';
import type { FactLoader } from './facts.js';

/** A write that guards some facts itself: it writes nothing (undefined) when one does not hold. */
export interface GuardedWrite<W> {
  /** The checks (by name) its conditions and unique indexes enforce, so they need no facts loaded first. */
  guards: readonly string[];
  write(reach: Required<Reach>, facts: Readonly<Facts>): Promise<W | undefined>;
}

/** Facts a guarded write may find changed; loaded again before another attempt. */
const CHANGING: readonly FactName[] = ['session', 'operatorAssigned', 'contact', 'holderId', 'template', 'optedOut'];
/** Facts that may come from this replica's cache (the template catalogue): a refusal on one is confirmed on a fresh one. */
const CACHEABLE: readonly FactName[] = ['template'];
const MAX_ATTEMPTS = 3;

/**
 * The pipeline every request that opens a session or queues a message goes through, after its
 * formats were checked: load facts → decide (the contract's checks, src/sessions/checks.ts) →
 * write (guarded against races) → the caller hands the result over. A refusal is thrown.
 *
 * When the write writes nothing, the checks it stood in for run on freshly loaded facts and
 * say why. If every rule holds even so, the person's other session was closed in between (or
 * the template catalogue changed): the request is decided, on fresh facts, and written again.
 * A refusal that rests on a cached fact is confirmed on a fresh one before it stands.
 */
export class Pipeline {
  constructor(private readonly facts: FactLoader) {}

  async run<W>(ask: Ask, write: GuardedWrite<W>): Promise<W> {
    let known: Facts = {};
    let guarded = true;
    let fresh = false;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const decision = new Decision(ask, { guarded: guarded ? write.guards : [], facts: known });
      const reach = await this.#decide(decision, fresh);
      fresh = true;
      if (reach === 'stale') {
        known = without(decision.facts, CACHEABLE);
        continue;
      }
      const written = await write.write(reach, decision.facts);
      if (written !== undefined) return written;
      decision.supply(await this.facts.load(decision.guards, decision, { fresh }));
      await this.#decide(decision, fresh);
      known = without(decision.facts, CHANGING);
      guarded = false;
    }
    throw new Refusal('session_already_open', 'A concurrent request holds this person; try again.');
  }

  /**
   * Steps the decision, loading what it asks for, until it refuses (thrown) or decides; 'stale'
   * when the refusal came from a check that read a cached fact (unless these facts are fresh).
   */
  async #decide(decision: Decision, fresh: boolean): Promise<Required<Reach> | 'stale'> {
    for (;;) {
      const step = decision.step();
      if (step.outcome === 'refused') {
        if (!fresh && this.#readCached(decision, step.check)) return 'stale';
        throw step.refusal;
      }
      if (step.outcome === 'decided') return step.reach;
      decision.supply(await this.facts.load(step.facts, decision, { fresh }));
    }
  }

  #readCached(decision: Decision, checkName: string): boolean {
    const check = CHECKS[decision.ask.kind].find((c) => c.name === checkName);
    return Boolean(check?.reads(decision.ask, decision.reach).some((name) => CACHEABLE.includes(name) && decision.facts[name] !== undefined));
  }
}

function without(facts: Readonly<Facts>, names: readonly FactName[]): Facts {
  return Object.fromEntries(Object.entries(facts).filter(([name]) => !names.includes(name as FactName)));
}
