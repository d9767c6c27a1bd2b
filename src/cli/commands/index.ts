import type { Command } from 'commander';
import { registerArchive } from './archive.js';
import { registerCat } from './cat.js';
import { registerQuery } from './query.js';
import { registerScoreSeries } from './score-series.js';
import { registerSimulate } from './simulate.js';

/** Every sub-command registers itself here; each lives in its own module under cli/commands. */
export function registerCommands(program: Command): void {
  registerCat(program);
  registerSimulate(program);
  registerScoreSeries(program);
  registerArchive(program);
  registerQuery(program);
}
