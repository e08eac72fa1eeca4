/**
 * Our JSON Schemas, compiled by Ajv (the Ajv fastify carries). They carry two annotations
 * (`x-` keywords, kept as extensions in OpenAPI), read by `schemaProblem`:
 * - `x-message`: what the value must be, as a sentence, used instead of the generated
 *   one; or per keyword `{ default?, pattern?, discriminator?, uniqueItems?, anyOf?, … }`.
 * - `x-report-on-parent`: a problem with an item is reported at its list (a list of
 *   statuses is one setting, not many).
 */
import { Ajv, type ValidateFunction } from 'ajv';

export type JsonSchema = { [keyword: string]: unknown };

const annotations = ['x-message', 'x-report-on-parent'] as const;

/**
 * A fresh Ajv per compiled schema: schemas keep their `$id`, compiled variants never
 * collide. Every error is collected (`schemaProblem` picks the first in document order).
 */
export function compileSchema(schema: JsonSchema): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, verbose: true, discriminator: true, allowUnionTypes: true, strict: true, strictRequired: false });
  ajv.addVocabulary([...annotations]);
  return ajv.compile(schema);
}
