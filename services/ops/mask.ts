/**
 * Masks what looks secret in a parked message before its copy is stored (the DLQ
 * listing), not only on screen: values of secret-like field names and header names,
 * strings that look like a known kind of secret, and the same inside JSON carried as
 * text (a record's fields travel as JSON in a string).
 */
import { findSecret } from '../../libs/workflow/secrets-scan.ts';
import { isSecretHeader } from '../../libs/http/redact.ts';

export const MASKED = '[masked]';

const SECRET_NAME = /pass(word|wd|phrase)?$|secret|token|api[_-]?key|apikey|authorization|^auth$|auth[_-]?token|credential|private[_-]?key|session|cookie|signature|ssn|social[_-]?security|card[_-]?(number|no)|cvv|cvc|iban|pin$/i;

export const isSecretName = (name: string): boolean => SECRET_NAME.test(name);

function maskString(text: string, depth: number): string {
  const trimmed = text.trim();
  if (depth < 20 && (trimmed.startsWith('{') || trimmed.startsWith('['))) {
    try {
      return JSON.stringify(maskValue(JSON.parse(trimmed), depth + 1));
    } catch {
      // Not JSON: checked as text below.
    }
  }
  return findSecret(text) ? MASKED : text;
}

export function maskValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return maskString(value, depth);
  if (Array.isArray(value)) return value.map((v) => maskValue(v, depth + 1));
  if (value && typeof value === 'object' && depth < 50) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = isSecretName(k) && v !== null && v !== '' ? MASKED : maskValue(v, depth + 1);
    return out;
  }
  return value;
}

export function maskHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = isSecretHeader(k) ? MASKED : maskString(v, 0);
  return out;
}
