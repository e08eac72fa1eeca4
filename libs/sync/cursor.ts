import { raiseSync } from './transport.ts';

/** Opaque cursors: JSON in base64url, tagged with the app, so one app's cursor is refused by another. */
export function encodeCursor(app: string, state: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify({ app, ...state }), 'utf8').toString('base64url');
}

export function decodeCursor<T extends Record<string, unknown>>(app: string, cursor: string, check: (v: Record<string, unknown>) => v is T): T {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    v = undefined;
  }
  if (typeof v !== 'object' || v === null || (v as { app?: unknown }).app !== app || !check(v as Record<string, unknown>)) {
    throw raiseSync('SYNC_CURSOR_INVALID', `not a ${app} sync cursor: ${cursor.slice(0, 40)}`);
  }
  return v as T;
}
