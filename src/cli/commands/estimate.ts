import type { CommandModule } from './types.js';
import { UsageError } from '../errors.js';

// Placeholder until this command is built; it refuses clearly rather than pretending to work.
export const command: CommandModule = {
  register: (program) => program.command('estimate').description('(not implemented yet)').allowUnknownOption(),
  run: async () => {
    throw new UsageError('the estimate command is not implemented yet');
  },
};
