import { makeNodeCertCommand } from '../commands/generateNodeCert';
import { runTool } from '../io';

runTool('generate-public-node-cert', makeNodeCertCommand('public'));
