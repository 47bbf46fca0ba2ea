export * from './periodic-job';
export * from './start-service';
