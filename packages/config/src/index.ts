// Configuration shared by every executable (docs/runtime-layout.md): nothing protocol-specific lives here.
export { DATA_ROOT_VARIABLE, DATA_ROOT_FOLDER, defaultDataRoot, resolveDataRoot } from './dataRoot';
export { DotenvError, parseDotenv, readDotenv } from './dotenv';
