// Validate CSAF 2.0 documents with the BSI validator (npm @secvisogram/csaf-validator-lib, the
// engine Secvisogram runs): the strict CSAF 2.0 schema test and every mandatory test of CSAF 2.0
// section 6.1, the VEX profile's 6.1.27.x among them, through the library's strict mode.
//
// Usage: node csaf_validate.mjs FILE...
// Exit 0 if every file is valid; 1 if any is not, each failure printed as
// `FILE: test: instancePath: message`; 2 if a file cannot be read as JSON.
import { readFileSync } from 'node:fs'
import * as mandatory from '@secvisogram/csaf-validator-lib/mandatoryTests.js'
import { csaf_2_0_strict } from '@secvisogram/csaf-validator-lib/schemaTests.js'
import validateStrict from '@secvisogram/csaf-validator-lib/validateStrict.js'

const files = process.argv.slice(2)
if (files.length === 0) {
  console.error('usage: node csaf_validate.mjs FILE...')
  process.exit(2)
}
const tests = [csaf_2_0_strict, ...Object.values(mandatory)]
let status = 0
for (const file of files) {
  let doc
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'))
  } catch (e) {
    console.error(`${file}: ${e.message}`)
    process.exit(2)
  }
  const result = await validateStrict(tests, doc)
  if (!result.isValid) {
    status = 1
    for (const t of result.tests.filter((t) => !t.isValid)) {
      for (const e of t.errors) {
        console.log(`${file}: ${t.name}: ${e.instancePath}: ${e.message}`)
      }
    }
  }
}
process.exit(status)
