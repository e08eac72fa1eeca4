import type { JsonSchema } from './compile.ts';

/** A value as JSON, cut at 100 characters. */
export function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}

const orList = (items: readonly string[]): string => (items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`);

function range(min: unknown, max: unknown, unit = ''): string {
  const u = unit ? ` ${unit}` : '';
  if (typeof min === 'number' && typeof max === 'number') return ` from ${min} to ${max}${u}`;
  if (typeof min === 'number') return ` of at least ${min}${u}`;
  if (typeof max === 'number') return ` of at most ${max}${u}`;
  return '';
}

/**
 * What a schema accepts, in words: "an integer from 1 to 1000", "a non-empty string of at
 * most 200 characters". A whole document (`root`) that must be an object is "a JSON object".
 */
export function describe(s: JsonSchema, root = false): string {
  if (Array.isArray(s.enum)) return `one of ${s.enum.map((v) => (typeof v === 'string' ? v : show(v))).join(', ')}`;
  if (s.const !== undefined) return show(s.const);
  const types = Array.isArray(s.type) ? (s.type as string[]) : typeof s.type === 'string' ? [s.type] : [];
  const words = types.map((type) => {
    switch (type) {
      case 'string': {
        const min = typeof s.minLength === 'number' ? s.minLength : 0;
        const head = min === 1 || s.pattern === '\\S' ? 'a non-empty string' : 'a string';
        const length = min > 1 ? range(min, s.maxLength, 'characters').replace(' from ', ' of ') : range(undefined, s.maxLength, 'characters');
        return `${head}${length}`;
      }
      case 'integer': return `an integer${range(s.minimum, s.maximum)}`;
      case 'number': return `a number${range(s.minimum, s.maximum)}`;
      case 'boolean': return 'true or false';
      case 'array': {
        const min = typeof s.minItems === 'number' && s.minItems > 0 ? s.minItems : undefined;
        return `an array${range(min, s.maxItems, 'items').replace(/^ from (\d+) to/, ' of $1 to')}`;
      }
      case 'object': return root ? 'a JSON object' : 'an object';
      default: return type;
    }
  });
  return words.length > 0 ? orList(words) : 'valid';
}

const article = (word: string) => (/^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`);

/** Only the types a schema allows: "an integer", "a string or a null". */
export function describeType(types: string, root = false): string {
  return types.split(',').map((t) => article(t === 'object' && root ? 'JSON object' : t)).join(' or ');
}
