export { makeNodeCertCommand } from './commands/generateNodeCert';
export { makeGenerateParcelCommand } from './commands/generateParcel';
export { makeGenerateCargoCommand } from './commands/generateCargo';
export { makeInspectMessageCommand } from './commands/inspectMessage';
