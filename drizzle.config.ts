import { defineConfig } from 'drizzle-kit';

// Used only to generate SQL migrations from src/store/catalog/schema.ts; they are applied by src/store/catalog/migrate.ts.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/store/catalog/schema.ts',
  out: './src/store/catalog/migrations',
});
