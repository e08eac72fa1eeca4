import { raiseSync } from './transport.ts';

/** A webhook body read as JSON; a body that is not JSON is the app's malformed payload. */
export function webhookJson(app: string, body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw raiseSync('SYNC_WEBHOOK_PAYLOAD_INVALID', `the ${app} webhook body is not JSON`);
  }
}
