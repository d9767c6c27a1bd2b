import type { Command } from 'commander';

/** Every sub-command registers itself here; each lives in its own module under cli/commands. */
export function registerCommands(_program: Command): void {}
