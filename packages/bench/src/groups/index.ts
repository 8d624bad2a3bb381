/**
 * The registry of benchmark groups, in the order they run. To add one (pipeline, scale, relay…),
 * write a module exporting a `BenchGroup` whose figures are named `<group>.…`, and list it here.
 */
import type { BenchGroup } from '../harness';
import { coreGroup } from './core';

export const GROUPS: readonly BenchGroup[] = [coreGroup];
