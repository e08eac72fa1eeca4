/**
 * What the notifier delivers with, and the lookups it needs from elsewhere. Stored
 * credentials (a workspace's own SMTP server or chat webhook) come through the
 * resolvers, so this service never reads another service's collections.
 */
import type { Secret } from '../../libs/secrets/crypto.ts';

/** An SMTP server to deliver through. */
export interface SmtpSettings {
  host: string;
  port: number;
  /** TLS from the first byte (smtps, port 465); otherwise STARTTLS when the server offers it. */
  secure: boolean;
  username?: string;
  password?: Secret;
  /** The From header; the hub's HUB_SMTP_FROM when absent. */
  from?: string;
  /**
   * A workspace's own server (a stored credential): connected through the address guard
   * (no private, loopback or metadata addresses unless the operator's allowlist names
   * them). The operator's HUB_SMTP_URL is not guarded: the operator chose it.
   */
  guarded?: boolean;
}

export interface CredentialResolvers {
  /** The SMTP server a workspace stored under `name`, or null when it has none by that name. */
  resolveSmtp(workspaceId: string, name: string): Promise<SmtpSettings | null>;
  /** The chat webhook URL (a secret: it carries the token) stored under `name`, or null. */
  resolveChatWebhook(workspaceId: string, name: string): Promise<Secret | null>;
}

/** Until stored credentials exist, no workspace has any: a named credential fails the notification. */
export const noStoredCredentials: CredentialResolvers = {
  resolveSmtp: async () => null,
  resolveChatWebhook: async () => null,
};
