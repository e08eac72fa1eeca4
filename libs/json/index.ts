/**
 * Small helpers for JSON values, shared by every lib and service. This folder imports
 * nothing, so any lib may use it without forming a loop.
 */

/** An object made by `{}`, `JSON.parse` or `Object.create(null)`: not an array, a Date, a Map or a class instance. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** The JSON kind of a value for messages: `null`, `array`, or its `typeof`. */
export function kindOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

/** One JSON-pointer token (RFC 6901): `~` → `~0`, `/` → `~1`. */
export function escapePointer(key: string | number): string {
  return String(key).replace(/~/g, '~0').replace(/\//g, '~1');
}

export function unescapePointer(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** JSON pointer of `key` under `parent`. */
export function pointer(parent: string, key: string | number): string {
  return `${parent}/${escapePointer(key)}`;
}
