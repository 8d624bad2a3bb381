export { Supervisor, type ProcessSpec, type SupervisorResult, type SupervisorOptions } from './supervisor';
