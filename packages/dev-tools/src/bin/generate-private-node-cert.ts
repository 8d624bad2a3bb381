import { makeNodeCertCommand } from '../commands/generateNodeCert';
import { runTool } from '../io';

runTool('generate-private-node-cert', makeNodeCertCommand('private'));
