/** File-system rules every command follows: containment of what it writes, and one writer per folder. */
export * from './contain';
export * from './lock';
