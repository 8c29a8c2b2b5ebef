import type { Catalog } from '../store/catalog/db';

/** What activities are built from: injected, so tests and the worker pass real clients. */
export interface ActivityDeps {
  catalog: Catalog;
  dataDir: string;
}
