/** Shard 3 of the union's property test (test/support/union-cases.ts): a file of its own, so the pool runs the shards side by side. */
import { unionCasesSuite } from '../support/union-cases.js';

unionCasesSuite(2);
