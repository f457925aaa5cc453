/** affect-lab's public API: what notebooks and users import from 'affect-lab'. */
export * from './backend';
export * from './errors';
export * as paths from './paths';
export * as data from './data';
export * as viz from './viz';
export * as notebook from './notebook';
export * as train from './train';
export * as runner from './runner';
export * as sweep from './sweep';
export * as predict from './predict';
export * as models from './models';
export * as experiments from './experiments';
export * as kernels from './kernels/wasm';
