import type { KyselyPlugin } from 'kysely';
import type { DatabaseHandle } from '../../src/db/connection.js';

/**
 * Counts the statements sent through a Kysely instance: proof that a request did no database
 * work. It counts every statement, so the app must run no background work that polls the
 * database meanwhile (testConfig turns off the dispatcher, the webhook and the batch workers).
 */
export class StatementCounter implements KyselyPlugin {
  count = 0;
  transformQuery: KyselyPlugin['transformQuery'] = (args) => {
    this.count++;
    return args.node;
  };
  transformResult: KyselyPlugin['transformResult'] = async (args) => args.result;

  /** The handle with its Kysely instance counted by this counter. */
  wrap(handle: DatabaseHandle): DatabaseHandle {
    return { ...handle, db: handle.db.withPlugin(this) };
  }
}
