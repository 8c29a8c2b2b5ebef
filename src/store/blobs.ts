import { join } from 'node:path';
import { createLocalBlobStore, type BlobStore } from './blob-store';

/** The data directory's blob store, opened once per process and shared by the API and the worker. */
const stores = new Map<string, Promise<BlobStore>>();

export function blobStoreOf(dataDir: string): Promise<BlobStore> {
  const root = join(dataDir, 'blobs');
  let store = stores.get(root);
  if (!store) {
    store = createLocalBlobStore(root);
    store.catch(() => stores.delete(root));
    stores.set(root, store);
  }
  return store;
}
