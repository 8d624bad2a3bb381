import { makeGenerateCargoCommand } from '../commands/generateCargo';
import { runTool } from '../io';

runTool('generate-cargo', makeGenerateCargoCommand());
