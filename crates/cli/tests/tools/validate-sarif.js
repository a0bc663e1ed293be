// Checks SARIF files against the SARIF 2.1.0 JSON schema (draft-04) with ajv, using the schema
// that Microsoft's SARIF matcher package (@microsoft/jest-sarif) ships; scripts/install-test-deps
// installs both into TOOLS_DIR. Exit 1, printing every error, if any file is invalid.
// Usage: node validate-sarif.js TOOLS_DIR FILE...
'use strict';
const fs = require('fs');
const path = require('path');

const modules = path.join(process.argv[2], 'node_modules');
const Ajv = require(path.join(modules, 'ajv'));
const schema = require(path.join(modules, '@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json'));
const ajv = new Ajv({ schemaId: 'auto', allErrors: true });
ajv.addMetaSchema(require(path.join(modules, 'ajv/lib/refs/json-schema-draft-04.json')));
const validate = ajv.compile(schema);
let invalid = 0;
for (const file of process.argv.slice(3)) {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!validate(doc)) {
    invalid += 1;
    console.error(`${file}: ${ajv.errorsText(validate.errors, { separator: '\n  ' })}`);
  }
}
process.exit(invalid ? 1 : 0);
