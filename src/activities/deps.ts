import type { Catalog } from '../store/catalog/db';
import type { Mailer } from '../store/mailer';

/** What activities are built from: injected, so tests and the worker pass real clients. */
export interface ActivityDeps {
  catalog: Catalog;
  dataDir: string;
  /** Where notifications go: SMTP, or `.eml` files in the data directory's outbox folder. */
  mailer: Mailer;
}
