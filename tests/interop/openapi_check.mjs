// Validates an OpenAPI document with an independent OpenAPI 3.1 validator
// (@seriousme/openapi-schema-validator), including that every $ref resolves.
// Usage: node openapi_check.mjs OPENAPI.json
import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';

const document = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const validator = new Validator();
const result = await validator.validate(document);
if (validator.version !== '3.1') {
  console.error(`expected an OpenAPI 3.1 document, found ${validator.version}`);
  process.exit(1);
}
if (!result.valid) {
  console.error(JSON.stringify(result.errors, null, 1));
  process.exit(1);
}
console.log(`valid OpenAPI ${validator.version}: ${Object.keys(document.paths).length} paths`);
