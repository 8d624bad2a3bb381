import { makeInspectMessageCommand } from '../commands/inspectMessage';
import { runTool } from '../io';

runTool('inspect-message', makeInspectMessageCommand());
