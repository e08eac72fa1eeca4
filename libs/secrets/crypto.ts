import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { errorFactory, pickErrors } from '../errors/index.ts';

export const secretErrors = pickErrors('SECRET_KEY_UNKNOWN', 'SECRET_UNREADABLE');
const raise = errorFactory(secretErrors);

/** A secret value that never reaches a log line or a JSON body by accident. */
export class Secret {
  readonly #value: string;
  constructor(value: string) { this.#value = value; }
  reveal(): string { return this.#value; }
  toString(): string { return '[secret]'; }
  toJSON(): string { return '[secret]'; }
  [Symbol.for('nodejs.util.inspect.custom')](): string { return '[secret]'; }
}

export interface EncryptionKey {
  id: string;
  key: Buffer;
}

/** Stored form: `<keyId>.<iv>.<tag>.<ciphertext>`, base64url parts. */
export type Sealed = string;

/**
 * AES-256-GCM with a versioned key id. The owner (e.g. `hook:<id>`) is bound as
 * associated data, so a sealed value copied onto another record does not open.
 */
export class SecretBox {
  private readonly byId: Map<string, Buffer>;

  constructor(private readonly current: EncryptionKey, older: EncryptionKey[] = []) {
    this.byId = new Map([current, ...older].map((k) => [k.id, k.key]));
  }

  seal(plaintext: string, owner: string): Sealed {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    cipher.setAAD(Buffer.from(owner, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [this.current.id, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
  }

  open(sealed: Sealed, owner: string): Secret {
    const [keyId, iv, tag, body] = sealed.split('.');
    const key = keyId === undefined ? undefined : this.byId.get(keyId);
    if (!key || iv === undefined || tag === undefined || body === undefined) {
      throw raise('SECRET_KEY_UNKNOWN', `sealed secret uses key "${keyId}", which is not configured`);
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(owner, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return new Secret(Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8'));
    } catch (err) {
      throw raise('SECRET_UNREADABLE', 'sealed secret does not open with its key and owner', { cause: err });
    }
  }
}

/** Parses `<keyId>:<base64 of 32 bytes>`; returns null with a reason when malformed. */
export function parseEncryptionKey(text: string): EncryptionKey | string {
  const m = /^([A-Za-z0-9_-]{1,32}):([A-Za-z0-9+/=_-]+)$/.exec(text.trim());
  if (!m) return 'must look like <keyId>:<base64 of 32 random bytes>';
  const key = Buffer.from(m[2]!, 'base64');
  if (key.length !== 32) return `key must be 32 bytes, got ${key.length}`;
  return { id: m[1]!, key };
}
