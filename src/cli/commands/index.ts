import type { Command } from 'commander';
import { registerArchive } from './archive.js';
import { registerAthenaDdl } from './athena-ddl.js';
import { registerCat } from './cat.js';
import { registerReplay } from './replay.js';
import { registerRun } from './run.js';
import { registerQuery } from './query.js';
import { registerScoreSeries } from './score-series.js';
import { registerSimulate } from './simulate.js';
import { registerDoctor } from './doctor.js';
import { registerSetup } from './setup.js';
import { registerTeardown } from './teardown.js';

/** Every sub-command registers itself here; each lives in its own module under cli/commands. */
export function registerCommands(program: Command): void {
  registerCat(program);
  registerSimulate(program);
  registerRun(program);
  registerReplay(program);
  registerScoreSeries(program);
  registerArchive(program);
  registerQuery(program);
  registerAthenaDdl(program);
  registerSetup(program);
  registerTeardown(program);
  registerDoctor(program);
}
