import type { FastifyInstance } from 'fastify';
import type { IngressDeps } from '../deps.ts';
import { raise } from '../../../libs/http-server/errors.ts';
import { ingressRoutes } from '../../../libs/contracts/ingress-routes.ts';
import { enabledObjects, type SyncConnection } from '../../../libs/sync/connections.ts';
import { appWebhooks } from '../../../libs/sync/webhooks.ts';
import { derivedId, inboundMessage } from '../../../libs/sync/messages.ts';
import type { Secret } from '../../../libs/secrets/crypto.ts';

const ID = /^sc_[A-Za-z0-9_-]{10,40}$/;
/** Connections and their signing secrets are read at most this often per connection (a rotation applies within it). */
const CACHE_MS = 2000;

/**
 * App webhooks of sync connections (`POST /hooks/sync/:connectionId`): verified with the
 * app's own signature against the connection's webhook-secret credential (bad or stale:
 * 401 with the WEBHOOK_* code and the header's path), parsed into change notices, and
 * published on sync.inbound (acks=all) for the owner of each (connection, object); answered
 * at once. A replayed or out-of-order webhook is harmless: each notice's id is derived
 * from the app's event id, and the owner reads the record (or drops an older snapshot).
 */
export function syncHookRoutes(app: FastifyInstance, d: IngressDeps): void {
  const cache = new Map<string, { at: number; connection: SyncConnection | null; secret: Secret | null }>();
  async function load(id: string) {
    const hit = cache.get(id);
    if (hit && d.now() - hit.at < CACHE_MS) return hit;
    const connection = await d.sync.connections.get(id);
    let secret: Secret | null = null;
    if (connection?.webhookCredential) {
      const found = await d.sync.credentials.resolve(connection.workspaceId, connection.webhookCredential);
      secret = found?.type === 'webhook-secret' ? found.secret : null;
    }
    const entry = { at: d.now(), connection, secret };
    cache.set(id, entry);
    if (cache.size > 10_000) cache.delete(cache.keys().next().value!);
    return entry;
  }

  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: d.maxHookBodyBytes }, (_req, body, done) => done(null, body));
    scope.route({
      ...ingressRoutes.syncDelivery,
      bodyLimit: d.maxHookBodyBytes,
      handler: async (request, reply) => {
        const { connectionId } = request.params as { connectionId: string };
        const { connection, secret } = ID.test(connectionId) ? await load(connectionId) : { connection: null, secret: null };
        if (!connection || connection.state === 'deleted') throw raise('NOT_FOUND', `no sync connection ${connectionId}`, { path: '/params/connectionId' });
        if (!secret) throw raise('WEBHOOK_SIGNATURE_REQUIRED', `sync connection ${connectionId} has no webhook-secret credential to check signatures with; set webhookCredential`, { path: '/params/connectionId' });
        const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const headers: Record<string, string | undefined> = {};
        for (const [k, v] of Object.entries(request.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
        const hooks = appWebhooks[connection.app];
        hooks.verify({ method: request.method, url: `${d.publicUrl}${request.url}`, headers, body: raw }, [secret], d.now());
        const synced = new Set<string>(enabledObjects(connection));
        const notices = hooks.parse(raw).filter((n) => synced.has(n.object));
        if (notices.length > 0) {
          await d.bus.publish(d.sync.inboundTopic, notices.map((n) => inboundMessage({
            workspaceId: connection.workspaceId, connectionId, object: n.object, type: 'app.changed', appId: n.id,
            eventId: derivedId('sync-webhook', connectionId, n.eventId), data: { notice: n },
          }, d.now())));
        }
        d.log.info({ workspaceId: connection.workspaceId, connectionId, notices: notices.length }, 'sync webhook accepted');
        return reply.code(200).send({ accepted: notices.length });
      },
    });
  });
}
