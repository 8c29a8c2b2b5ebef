#!/usr/bin/env node
// Part of `npm run build`: writes dist/catalog-template.tar.gz, a migrated PGlite data directory,
// so a first start unpacks the catalog instead of running initdb (see src/store/catalog/db.ts).
const { writeFileSync } = require('node:fs');
const { buildCatalogTemplate, CATALOG_TEMPLATE_PATH } = require('../dist/store/catalog/db.js');

buildCatalogTemplate()
  .then((tarball) => writeFileSync(CATALOG_TEMPLATE_PATH, tarball))
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
