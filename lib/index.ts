/** affect-lab's public API: what notebooks and users import from 'affect-lab'. */
export * from './backend';
export * as paths from './paths';
