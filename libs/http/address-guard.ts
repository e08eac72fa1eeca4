import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { HubError } from '../errors/index.ts';
import { raise } from './errors.ts';
import { bareHost, hasHostBits, inCidr, parseCidr, parseIp, type Cidr } from './ip.ts';
import { classifyAddress, unmapped } from './address-ranges.ts';

/**
 * The SSRF guard. A host name is resolved once, inside the socket's own `lookup`, and the
 * addresses it yields are checked there: the address connected to is the address checked,
 * so DNS rebinding between a check and a connect cannot happen. IP literals never reach
 * `lookup` (Node connects to them directly), so they are checked before the request.
 */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to all its addresses; injectable so tests never touch real DNS. */
export type Resolve = (hostname: string) => Promise<ResolvedAddress[]>;

export const ALLOWLIST_VARIABLE = 'HUB_HTTP_ALLOWLIST';

interface Allowlist {
  readonly ranges: readonly Cidr[];
  readonly hosts: ReadonlySet<string>;
  /** From "*.corp.example": ".corp.example". */
  readonly suffixes: readonly string[];
}

const HOST_NAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

function normalizeHost(host: string): string {
  return bareHost(host).toLowerCase().replace(/\.$/, '');
}

/** One entry, validated and normalized: an IP, a CIDR, a host name or "*.suffix". */
function normalizeEntry(raw: string): string {
  const entry = raw.trim();
  if (/^[0-9.]+(\/.*)?$/.test(entry) || entry.includes(':')) {
    const cidr = parseCidr(entry);
    if (!cidr) return raiseEntry(entry, 'is not an IP address or CIDR (a.b.c.d, a.b.c.d/n, x:y::z, x:y::/n)');
    if (hasHostBits(cidr)) return raiseEntry(entry, 'has bits set beyond its prefix length; write the network address');
    return entry.toLowerCase().replace(/^\[|\](?=\/|$)/g, '');
  }
  const host = entry.toLowerCase().replace(/\.$/, '');
  const name = host.startsWith('*.') ? host.slice(2) : host;
  if (!HOST_NAME.test(name) || /^[0-9.]+$/.test(name)) {
    return raiseEntry(entry, 'is not an IP address, a CIDR, a host name or *.domain');
  }
  return host;
}

function raiseEntry(entry: string, why: string): never {
  throw raise('HTTP_ALLOWLIST_INVALID', `allowlist entry "${entry}" ${why}`);
}

/**
 * Parses the operator's comma-separated allowlist ("127.0.0.1, 10.0.0.0/8, ::1, localhost,
 * *.corp.example"). Throws HTTP_ALLOWLIST_INVALID naming the first bad entry.
 */
export function parseAllowlist(text: string): string[] {
  return text.split(',').map((e) => e.trim()).filter((e) => e !== '').map(normalizeEntry);
}

function compileAllowlist(entries: readonly string[]): Allowlist {
  const ranges: Cidr[] = [];
  const hosts = new Set<string>();
  const suffixes: string[] = [];
  for (const entry of entries.map(normalizeEntry)) {
    const cidr = parseCidr(entry);
    if (cidr) ranges.push(cidr);
    else if (entry.startsWith('*.')) suffixes.push(entry.slice(1));
    else hosts.add(entry);
  }
  return Object.freeze({ ranges: Object.freeze(ranges), hosts, suffixes: Object.freeze(suffixes) });
}

/**
 * Names answered here, never sent to DNS (RFC 6761 lets us; a resolver could answer anything
 * for them), then checked like any other answer.
 */
function localAnswer(host: string): ResolvedAddress[] | undefined {
  if (host === 'localhost' || host.endsWith('.localhost') || host === 'localhost.localdomain') return [{ address: '127.0.0.1', family: 4 }];
  if (host === 'ip6-localhost' || host === 'ip6-loopback') return [{ address: '::1', family: 6 }];
  if (['metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data', 'instance-data.ec2.internal'].includes(host)) {
    return [{ address: '169.254.169.254', family: 4 }];
  }
  return undefined;
}

const systemResolve: Resolve = async (hostname) => {
  const all = await dnsLookup(hostname, { all: true, verbatim: true });
  return all.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

export interface AddressGuard {
  /** Before a request: refuses an IP literal host that is not allowed. Host names pass to `lookup`. */
  checkHost(hostname: string): void;
  /** For http(s).request's `lookup` option: resolves, checks every address, then connects. */
  lookup(hostname: string, options: LookupOptions, callback: LookupCallback): void;
  /** Backstop once connected: the refusal, if the peer address is one we must not reach. */
  refusal(hostname: string, address: string | undefined): HubError | undefined;
}

export function createAddressGuard(options: { allowlist?: readonly string[]; resolve?: Resolve } = {}): AddressGuard {
  const allow = compileAllowlist(options.allowlist ?? []);
  const resolve = options.resolve ?? systemResolve;

  const hostAllowed = (host: string): boolean => allow.hosts.has(host) || allow.suffixes.some((s) => host.endsWith(s));

  function refusal(host: string, address: string, literal: boolean): HubError | undefined {
    const why = classifyAddress(address);
    if (why === undefined) return undefined;
    const bytes = parseIp(address);
    if (bytes && allow.ranges.some((r) => inCidr(bytes, r) || inCidr(unmapped(bytes), r))) return undefined;
    const what = literal ? `${address} is ${why}` : `${host} resolves to ${address}, ${why}`;
    return raise('HTTP_ADDRESS_BLOCKED', `refused to connect: ${what}; an operator can allow it with ${ALLOWLIST_VARIABLE}`);
  }

  async function resolveChecked(host: string): Promise<ResolvedAddress[]> {
    let addresses = localAnswer(host);
    if (!addresses) {
      try {
        addresses = await resolve(host);
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (code === 'ENOTFOUND' || code === 'ENODATA') throw raise('HTTP_HOST_NOT_FOUND', `${host} could not be resolved`, { cause: err });
        throw raise('HTTP_CONNECTION_FAILED', `${host} could not be resolved (${String(code ?? err)})`, { cause: err });
      }
    }
    if (addresses.length === 0) throw raise('HTTP_HOST_NOT_FOUND', `${host} has no address`);
    if (!hostAllowed(host)) {
      // Every answer is checked, not just the first: one private record among public ones is refused.
      for (const a of addresses) {
        const refused = refusal(host, a.address, false);
        if (refused) throw refused;
      }
    }
    return addresses;
  }

  return Object.freeze({
    checkHost(hostname: string): void {
      const host = normalizeHost(hostname);
      if (parseIp(host) === undefined || hostAllowed(host)) return;
      const refused = refusal(host, host, true);
      if (refused) throw refused;
    },
    lookup(hostname: string, opts: LookupOptions, callback: LookupCallback): void {
      const host = normalizeHost(hostname);
      const fail = (err: unknown): void => callback(err as NodeJS.ErrnoException, '');
      resolveChecked(host).then((addresses) => {
        const wanted = opts.family === 4 || opts.family === 6 ? addresses.filter((a) => a.family === opts.family) : addresses;
        const first = wanted[0];
        if (!first) fail(raise('HTTP_HOST_NOT_FOUND', `${host} has no IPv${String(opts.family)} address`));
        else if (opts.all) callback(null, wanted);
        else callback(null, first.address, first.family);
      }, fail);
    },
    refusal(hostname: string, address: string | undefined): HubError | undefined {
      const host = normalizeHost(hostname);
      if (hostAllowed(host)) return undefined;
      if (address === undefined) return raise('HTTP_ADDRESS_BLOCKED', `refused to connect: ${host} has no peer address`);
      return refusal(host, address, parseIp(host) !== undefined);
    },
  });
}
