import { makeGenerateParcelCommand } from '../commands/generateParcel';
import { runTool } from '../io';

runTool('generate-parcel', makeGenerateParcelCommand());
