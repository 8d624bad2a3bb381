import { makeNodeCertCommand } from '../commands/generateNodeCert';
import { runTool } from '../io';

runTool('generate-private-node-cert', async () => {
  await makeNodeCertCommand('private').parseAsync(process.argv);
});
