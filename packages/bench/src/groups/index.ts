/**
 * The registry of benchmark groups, in the order they run. To add one,
 * write a module exporting a `BenchGroup` whose figures are named `<group>.…`, and list it here.
 */
import type { BenchGroup } from '../harness';
import { coreGroup } from './core';

export { CORE_MEASUREMENTS } from './core';
import { latencyGroup } from './latency';
import { pipelineGroup } from './pipeline';
import { relayGroup } from './relay';
import { scaleGroup } from './scale';
import { scaleoutGroup } from './scaleout';

export const GROUPS: readonly BenchGroup[] = [
  coreGroup,
  relayGroup,
  scaleGroup,
  pipelineGroup,
  latencyGroup,
  scaleoutGroup,
];
