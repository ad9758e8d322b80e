import type { Refusal } from '../domain/refusal.js';
import { peerOf } from '../accounts/peer.js';
import { type Ask, CHECKS, type Check, type FactName, type Facts, type Reach } from './checks.js';

/** Where deciding stands: facts to load, a refusal, or the reach to write with. */
export type Step =
  | { outcome: 'load'; facts: readonly FactName[] }
  | { outcome: 'refused'; refusal: Refusal; check: string; reads: readonly FactName[] }
  | { outcome: 'decided'; reach: Required<Reach>; guards: readonly FactName[] };

/**
 * Decides a request by the contract's checks, in the contract's order, over facts the caller
 * loads when asked: `step()` runs the checks as far as the facts allow and says what is
 * missing. No I/O here, and each check runs at most once per decision — unless the caller,
 * after a refusal, hands it a fresher copy of a fact it read (`reconsider`).
 *
 * A check the write enforces itself (`guarded`, by name: the operator's assignment, the
 * contact's existence, the one-open-session indexes) is left to the write while its facts are
 * not loaded, so the common case needs no reads. Should a later check refuse, or the guarded write write nothing, the
 * caller supplies those facts and the deferred checks run then — first, as their place in the
 * order demands.
 */
export class Decision {
  readonly #checks: readonly Check[];
  readonly #facts: Facts = {};
  readonly #reach: Reach = {};
  readonly #guarded: ReadonlySet<string>;
  #next = 0;
  #deferred: Check[] = [];
  /** A refusal found behind deferred checks (and its check): it stands only if they all hold. */
  #behindDeferred: { refusal: Refusal; check: Check } | null = null;
  /** The check whose refusal `step()` returned last. */
  #refused: Check | null = null;

  constructor(
    readonly ask: Ask,
    options: { guarded?: readonly string[]; facts?: Facts } = {},
  ) {
    this.#checks = CHECKS[ask.kind];
    this.#guarded = new Set(options.guarded);
    Object.assign(this.#facts, options.facts);
  }

  /** What the checks established so far (for loading facts: the account, the person). */
  get reach(): Readonly<Reach> {
    return this.#reach;
  }

  /** The facts supplied so far. */
  get facts(): Readonly<Facts> {
    return this.#facts;
  }

  /** Adds loaded facts; a fact given again replaces the old value. */
  supply(facts: Facts): void {
    Object.assign(this.#facts, facts);
  }

  /** The facts of the checks left to the write, to load when it wrote nothing. */
  get guards(): readonly FactName[] {
    return this.#deferredFacts();
  }

  /**
   * After a refusal: takes fresher copies of facts its check read (a cached fact, read again)
   * and lets that check alone run again, first, at the next `step()`. Should it hold now,
   * deciding goes on where it stopped; the checks before it are not run again.
   */
  reconsider(facts: Facts): void {
    const check = this.#refused;
    if (!check) throw new Error('reconsider() follows a refusal');
    this.#refused = null;
    this.supply(facts);
    this.#deferred.unshift(check);
  }

  step(): Step {
    // Deferred checks come before everything that ran after them: once their facts are
    // here, they run first, and their refusal wins.
    while (this.#deferred.length > 0 && this.#missing(this.#deferred[0]!).length === 0) {
      const check = this.#deferred.shift()!;
      const refusal = this.#run(check);
      if (refusal) return this.#refuse(refusal, check);
    }
    if (this.#deferred.length > 0 && this.#behindDeferred) return { outcome: 'load', facts: this.#deferredFacts() };
    if (this.#behindDeferred) {
      const { refusal, check } = this.#behindDeferred;
      this.#behindDeferred = null;
      return this.#refuse(refusal, check);
    }

    while (this.#next < this.#checks.length) {
      const check = this.#checks[this.#next]!;
      const missing = this.#missing(check);
      if (missing.length > 0) {
        if (this.#guarded.has(check.name)) {
          this.#deferred.push(check);
          this.#next += 1;
          continue;
        }
        return { outcome: 'load', facts: missing };
      }
      this.#next += 1;
      const refusal = this.#run(check);
      if (!refusal) continue;
      if (this.#deferred.length === 0) return this.#refuse(refusal, check);
      this.#behindDeferred = { refusal, check };
      return { outcome: 'load', facts: this.#deferredFacts() };
    }
    const reach = this.#reach as Required<Reach>;
    reach.peer ??= peerOf(reach.channel, reach.account);
    return { outcome: 'decided', reach, guards: this.guards };
  }

  #run(check: Check): Refusal | undefined {
    return check.run(this.ask, this.#facts, this.#reach);
  }

  #missing(check: Check): FactName[] {
    return check.reads(this.ask, this.#reach).filter((fact) => this.#facts[fact] === undefined);
  }

  #deferredFacts(): FactName[] {
    return [...new Set(this.#deferred.flatMap((check) => this.#missing(check)))];
  }

  // What is left to run (deferred checks, a refusal behind them) stays: a reconsidered check
  // that holds hands over to it.
  #refuse(refusal: Refusal, check: Check): Step {
    this.#refused = check;
    return { outcome: 'refused', refusal, check: check.name, reads: check.reads(this.ask, this.#reach) };
  }
}
