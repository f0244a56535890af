/**
 * The paced client as a process of its own: `node --import tsx paced-main.ts '<PacedPlan JSON>'`; prints
 * the LoadResult as one JSON line. See paced-child.ts for why it does not run inside the bench runner.
 */
import { type PacedPlan, runPaced } from './paced-load.js';

const plan = JSON.parse(process.argv[2] ?? '') as PacedPlan;
const result = await runPaced(plan);
process.stdout.write(`${JSON.stringify(result)}\n`);
