#!/usr/bin/env node
/**
 * Checks that every package declares what it imports and imports what it declares (README, "Dependencies").
 *
 * For each workspace package: modules imported by its production code (src/, less *.spec.ts) must be in its
 * `dependencies`; modules imported only by its tests (src/**\/*.spec.ts, test/) in its `dependencies` or
 * `devDependencies`; each of its `dependencies` must be imported by its production code and each of its
 * `devDependencies` by its tests (an `@types/x` package counts as used where `x` is, and a sibling package where
 * its executable is named); no file may reach into another package by a relative path. The root package's development tools must each be used by a root script or
 * configuration file. Imports are read with TypeScript's own scanner, so type-only imports count too.
 *
 * Exits 1 listing every problem, 0 when there is none.
 */
const fs = require('node:fs');
const path = require('node:path');
const { builtinModules } = require('node:module');
const ts = require('typescript');

// The workspace to check: this repository, or the folder given as the first argument (the script's tests).
const ROOT = path.resolve(process.argv[2] ?? path.join(__dirname, '..'));
const PACKAGES = path.join(ROOT, 'packages');
const BUILTINS = new Set(builtinModules);
// Root devDependencies used by name rather than by import: how each is used.
const ROOT_TOOL_USES = {
  typescript: 'tsc in the build scripts',
  jest: 'jest in the test scripts',
  'ts-jest': 'the transform in jest.config.js',
  lerna: 'lerna run in the per-package scripts',
  eslint: 'npm run lint',
  '@eslint/js': 'eslint.config.mjs',
  'typescript-eslint': 'eslint.config.mjs',
  prettier: 'npm run format:check',
  '@types/node': 'the "types" of tsconfig.json',
  '@types/jest': 'the "types" of tsconfig.json',
};

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function listTsFiles(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => path.join(entry.parentPath ?? entry.path, entry.name));
}

/** The module specifiers a file imports: static and dynamic imports, re-exports, require() and require.resolve(). */
function specifiersOf(text) {
  const specifiers = ts.preProcessFile(text, true, true).importedFiles.map((imported) => imported.fileName);
  for (const match of text.matchAll(/require\.resolve\(\s*['"]([^'"]+)['"]/g)) specifiers.push(match[1]);
  return specifiers;
}

/** The package a bare specifier names ('@scope/name/sub' -> '@scope/name'), or null for builtins. */
function packageOf(specifier) {
  if (specifier.startsWith('node:') || BUILTINS.has(specifier.split('/')[0])) return null;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function typesPackageFor(name) {
  return name.startsWith('@') ? `@types/${name.slice(1).replace('/', '__')}` : `@types/${name}`;
}

/** Executable names of each workspace package: a package whose code runs a sibling's executable depends on it. */
function workspaceExecutables() {
  const executables = new Map();
  for (const name of fs.readdirSync(PACKAGES)) {
    const file = path.join(PACKAGES, name, 'package.json');
    if (!fs.existsSync(file)) continue;
    const manifest = readJson(file);
    const binDir = path.join(PACKAGES, name, 'src', 'bin');
    const scripts = fs.existsSync(binDir) ? fs.readdirSync(binDir).map((entry) => path.basename(entry, '.ts')) : [];
    executables.set(manifest.name, [...new Set([...Object.keys(manifest.bin ?? {}), ...scripts])]);
  }
  return executables;
}

/**
 * The package's build exclusions (`exclude` of its tsconfig.json, as `dir/**` or `dir/**\/*.suffix` patterns): what
 * they match is never shipped, so it counts as test code (core's src/testUtils, for example).
 */
function buildExclusions(dir) {
  const file = path.join(dir, 'tsconfig.json');
  if (!fs.existsSync(file)) return [];
  const patterns = readJson(file).exclude ?? [];
  return patterns.map((pattern) => {
    const source = pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*\*\//g, '\0')
      .replace(/\*\*/g, '.*')
      .replace(/\*/g, '[^/]*')
      .replace(/\0/g, '(?:.*/)?');
    return new RegExp(`^${source}$`);
  });
}

function checkPackage(dir, executables, problems) {
  const manifest = readJson(path.join(dir, 'package.json'));
  const excluded = buildExclusions(dir);
  const where = path.relative(ROOT, dir);
  const dependencies = new Set(Object.keys(manifest.dependencies ?? {}));
  const devDependencies = new Set(Object.keys(manifest.devDependencies ?? {}));
  const usedBy = { production: new Set(), tests: new Set() };
  const files = [...listTsFiles(path.join(dir, 'src')), ...listTsFiles(path.join(dir, 'test'))];
  for (const file of files) {
    const relative = path.relative(dir, file);
    const posix = relative.split(path.sep).join('/');
    const isTest =
      relative.startsWith(`test${path.sep}`) ||
      file.endsWith('.spec.ts') ||
      excluded.some((pattern) => pattern.test(posix));
    const text = fs.readFileSync(file, 'utf8');
    for (const [name, bins] of executables) {
      if (bins.some((bin) => text.includes(`'${bin}'`) || text.includes(`bin/${bin}`))) {
        (isTest ? usedBy.tests : usedBy.production).add(name);
      }
    }
    for (const specifier of specifiersOf(text)) {
      if (specifier.startsWith('.')) {
        const target = path.resolve(path.dirname(file), specifier);
        if (!target.startsWith(dir + path.sep)) {
          problems.push(
            `${where}/${relative} reaches into ${path.relative(ROOT, target)} by a relative path: import the package`,
          );
        }
        continue;
      }
      const name = packageOf(specifier);
      if (name === null || name === manifest.name) continue;
      if (isTest) {
        usedBy.tests.add(name);
        if (!dependencies.has(name) && !devDependencies.has(name)) {
          problems.push(
            `${where}/${relative} imports ${name}, which ${where}/package.json does not declare (devDependencies)`,
          );
        }
      } else {
        usedBy.production.add(name);
        if (!dependencies.has(name)) {
          const hint = devDependencies.has(name) ? 'is only a devDependency' : 'is not declared';
          problems.push(
            `${where}/${relative} imports ${name} at run time, which ${hint} in ${where}/package.json (dependencies)`,
          );
        }
      }
    }
  }
  const isUsed = (name, scope) =>
    scope.has(name) || (name.startsWith('@types/') && [...scope].some((used) => typesPackageFor(used) === name));
  for (const name of dependencies) {
    if (isUsed(name, usedBy.production)) continue;
    const hint = isUsed(name, usedBy.tests) ? 'only its tests use it: a devDependency' : 'nothing imports it';
    problems.push(`${where}/package.json declares ${name} in dependencies, but ${hint}`);
  }
  for (const name of devDependencies) {
    if (isUsed(name, usedBy.tests) || isUsed(name, usedBy.production)) continue;
    problems.push(`${where}/package.json declares ${name} in devDependencies, but nothing imports it`);
  }
}

function checkRoot(problems) {
  const manifest = readJson(path.join(ROOT, 'package.json'));
  for (const section of ['dependencies', 'devDependencies']) {
    for (const name of Object.keys(manifest[section] ?? {})) {
      if (!(name in ROOT_TOOL_USES)) {
        problems.push(
          `package.json declares ${name} (${section}): the root holds only the tools its scripts run; declare it in the package that imports it`,
        );
      }
    }
  }
  const scripts = Object.values(manifest.scripts ?? {}).join('\n');
  const bins = { typescript: /\btsc\b/, jest: /\bjest\b/, lerna: /\blerna\b/ };
  for (const [name, use] of Object.entries(bins)) {
    if (!use.test(scripts)) problems.push(`package.json: no root script runs ${name}: remove it from devDependencies`);
  }
}

function main() {
  const problems = [];
  checkRoot(problems);
  const executables = workspaceExecutables();
  for (const name of fs.readdirSync(PACKAGES).sort()) {
    const dir = path.join(PACKAGES, name);
    if (fs.existsSync(path.join(dir, 'package.json'))) checkPackage(dir, executables, problems);
  }
  if (problems.length > 0) {
    console.error(`check-dependencies: ${problems.length} problem(s):\n${problems.map((p) => `  ${p}`).join('\n')}`);
    process.exit(1);
  }
  console.log('check-dependencies: every import is declared by its package, and every declared package is used');
}

main();
