/**
 * FerretDB 1.x refuses documents holding an array directly inside an array
 * ("nested arrays are not supported"), which JSON allows and users send (a matrix, a
 * list of pairs, JSON Logic's `{"in": [x, ["a", "b"]]}`). Such values are stored
 * wrapped as `{__hubJson: "<JSON text>"}` and unwrapped on read; every other value
 * is stored as it is, so queries on plain fields keep working.
 */
const WRAP = '__hubJson';

function hasNestedArray(value: unknown, inArray: boolean): boolean {
  if (Array.isArray(value)) return inArray || value.some((v) => hasNestedArray(v, true));
  if (value && typeof value === 'object') return Object.values(value).some((v) => hasNestedArray(v, false));
  return false;
}

/** The value as the store can hold it. */
export function encodeForStore<T>(value: T): T {
  if (!hasNestedArray(value, false)) return value;
  const encode = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.some((x) => hasNestedArray(x, true)) ? { [WRAP]: JSON.stringify(v) } : v;
    if (v && typeof v === 'object' && !(v instanceof Date)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encode(x)]));
    return v;
  };
  return encode(value) as T;
}

/** The value as it was before encodeForStore. */
export function decodeFromStore<T>(value: T): T {
  const decode = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(decode);
    if (v && typeof v === 'object' && !(v instanceof Date)) {
      const entries = Object.entries(v);
      if (entries.length === 1 && entries[0]![0] === WRAP && typeof entries[0]![1] === 'string') return JSON.parse(entries[0]![1]) as unknown;
      return Object.fromEntries(entries.map(([k, x]) => [k, decode(x)]));
    }
    return v;
  };
  return decode(value) as T;
}
