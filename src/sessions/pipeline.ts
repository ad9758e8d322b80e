import { Refusal } from '../domain/refusal.js';
import { type Ask, type FactName, type Facts, type Reach } from './checks.js';
import { Decision } from './decision.js';
import type { FactLoader } from './facts.js';
import type { TemplateLookup } from '../templates/service.js';

/** A write that guards some facts itself: it writes nothing (undefined) when one does not hold. */
export interface GuardedWrite<W> {
  /** The checks (by name) its conditions and unique indexes enforce, so they need no facts loaded first. */
  guards: readonly string[];
  write(reach: Required<Reach>, facts: Readonly<Facts>): Promise<W | undefined>;
}

/** Facts a guarded write may find changed; loaded again before another attempt. */
const CHANGING: readonly FactName[] = ['session', 'operatorAssigned', 'contact', 'holderId', 'template', 'optedOut'];
/**
 * Facts that may come from this replica's cache (marked `cached`): the template catalogue, by
 * its version, which every change moves on. A refusal that read a cached copy stands once a
 * fresh copy has the same version; on another version its check runs again.
 */
const CACHEABLE = { template: (fact: TemplateLookup) => fact.catalogueVersion };
type Cacheable = keyof typeof CACHEABLE;
const MAX_ATTEMPTS = 3;

/**
 * The pipeline every request that opens a session or queues a message goes through, after its
 * formats were checked: load facts → decide (the contract's checks, src/sessions/checks.ts) →
 * write (guarded against races) → the caller hands the result over. A refusal is thrown.
 *
 * When the write writes nothing, the checks it stood in for run on freshly loaded facts and
 * say why. If every rule holds even so, the person's other session was closed in between (or
 * the template catalogue changed): the request is decided, on fresh facts, and written again.
 * A refusal that rests on a cached fact is confirmed on a fresh copy of that fact before it
 * stands; only when the copy differs does its check run again (Decision.reconsider) — the
 * checks before it read nothing cached, so a refused request runs each of them once.
 */
export class Pipeline {
  constructor(private readonly facts: FactLoader) {}

  async run<W>(ask: Ask, write: GuardedWrite<W>): Promise<W> {
    let known: Facts = {};
    let guarded = true;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const decision = new Decision(ask, { guarded: guarded ? write.guards : [], facts: known });
      // Another attempt follows a write that found a fact changed: nothing comes from a cache then.
      const reach = await this.#decide(decision, attempt > 0);
      const written = await write.write(reach, decision.facts);
      if (written !== undefined) return written;
      decision.supply(await this.facts.load(decision.guards, decision, { fresh: true }));
      await this.#decide(decision, true);
      known = without(decision.facts, CHANGING);
      guarded = false;
    }
    throw new Refusal('session_already_open', 'A concurrent request holds this person; try again.');
  }

  /**
   * Steps the decision, loading what it asks for (with `fresh`, nothing from a cache), until it
   * decides or refuses (thrown). A refusal by a check that read a cached fact is confirmed first.
   */
  async #decide(decision: Decision, fresh: boolean): Promise<Required<Reach>> {
    for (;;) {
      const step = decision.step();
      if (step.outcome === 'decided') return step.reach;
      if (step.outcome === 'load') {
        decision.supply(await this.facts.load(step.facts, decision, { fresh }));
        continue;
      }
      // The facts the refused check read from this replica's cache.
      const cached = step.reads.filter((name): name is Cacheable => name in CACHEABLE && decision.facts[name as Cacheable]?.cached === true);
      if (cached.length === 0) throw step.refusal;
      const copy = await this.facts.load(cached, decision, { fresh: true });
      if (cached.every((name) => CACHEABLE[name](decision.facts[name]!) === CACHEABLE[name](copy[name]!))) throw step.refusal;
      decision.reconsider(copy);
    }
  }
}

function without(facts: Readonly<Facts>, names: readonly FactName[]): Facts {
  return Object.fromEntries(Object.entries(facts).filter(([name]) => !names.includes(name as FactName)));
}
