import type { Command } from 'commander';
import { addExportCommands } from './backup-export.js';

export function register(program: Command): void {
  const backup = program.command('backup').description('Backups: the thin client’s own state (export, import).');
  addExportCommands(backup);
}
