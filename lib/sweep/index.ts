/** Trials as jobs: the local sequential sweep, the BullMQ queue and its workers, and a sweep's status and report, all recorded in the run store. */
export * from './definition';
export * from './local';
export * from './progress';
export * from './queue';
export * from './redact';
export * from './seeds';
export * from './report';
export * from './run-sweep';
export * from './status';
export * from './store';
export * from './trial';
export * from './worker';
