export * from './api';
export * from './audit';
export * from './context';
export * from './errors';
export * from './roles';
export * from './slugs';
export * from './tasks';
