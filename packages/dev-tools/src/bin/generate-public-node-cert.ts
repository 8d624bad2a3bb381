import { makeNodeCertCommand } from '../commands/generateNodeCert';
import { runTool } from '../io';

runTool('generate-public-node-cert', async () => {
  await makeNodeCertCommand('public').parseAsync(process.argv);
});
