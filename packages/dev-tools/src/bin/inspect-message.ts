import { makeInspectMessageCommand } from '../commands/inspectMessage';
import { runTool } from '../io';

runTool('inspect-message', async () => {
  await makeInspectMessageCommand().parseAsync(process.argv);
});
