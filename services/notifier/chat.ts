/**
 * Chat messages: a Slack-compatible JSON body ({text, blocks?}) POSTed to an incoming
 * webhook, through the SSRF-guarded HTTP client. The webhook URL is a secret (it
 * carries the token): it is revealed only to the client, and the client's errors name
 * the host, never the path.
 */
import { HubError, errorMessage } from '../../libs/errors/index.ts';
import { HttpStatusError, type HttpClient } from '../../libs/http/index.ts';
import type { Secret } from '../../libs/secrets/crypto.ts';
import { raiseNotifier } from './errors.ts';

export interface ChatContent {
  text: string;
  blocks?: unknown[];
}

export interface PostedChat {
  httpStatus: number;
  response: string;
}

const REPLY_CHARS = 300;

function replyText(body: unknown): string {
  const text = typeof body === 'string' ? body : JSON.stringify(body) ?? '';
  return text.slice(0, REPLY_CHARS);
}

/** Posts once; a failure is the client's HubError (retriable for 429, 5xx, timeouts, dropped connections). */
export async function postChat(http: HttpClient, webhook: Secret, content: ChatContent, timeoutMs: number): Promise<PostedChat> {
  try {
    // No redirects: a webhook that moves is misconfigured, and a redirect is where SSRF hides.
    const res = await http.request({ method: 'POST', url: webhook.reveal(), body: content, timeoutMs, maxRedirects: 0, maxResponseBytes: 64 * 1024 });
    return { httpStatus: res.status, response: `${res.status} ${replyText(res.body)}`.trim() };
  } catch (err) {
    if (err instanceof HttpStatusError) {
      const spec = { status: err.status, retriable: err.retriable };
      throw new HubError(err.code, spec, `${err.message}: ${replyText(err.response.body)}`, { cause: err });
    }
    if (err instanceof HubError) throw err;
    throw raiseNotifier('CHAT_DELIVERY_FAILED', errorMessage(err), { cause: err });
  }
}
