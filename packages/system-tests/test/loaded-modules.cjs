// Preload (NODE_OPTIONS=--require): at exit, write the files of every CommonJS module the process loaded
// to $LOADED_MODULES_REPORT, so a test can tell whether a dependency was loaded at all.
const { writeFileSync } = require('node:fs');

process.on('exit', () => {
  writeFileSync(process.env.LOADED_MODULES_REPORT, Object.keys(require.cache).join('\n') + '\n');
});
