// `npm run schema`: write the published JSON Schema. A unit test fails when the committed file is stale.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { protocolJsonSchemaText } from './json-schema.js';

export const SCHEMA_FILE = fileURLToPath(new URL('./tower-protocol.schema.json', import.meta.url));

writeFileSync(SCHEMA_FILE, protocolJsonSchemaText());
process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
