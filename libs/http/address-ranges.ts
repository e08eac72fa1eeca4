import { formatIpv4, inCidr, parseCidr, parseIp, type Cidr, type IpBytes } from './ip.ts';

/**
 * Which addresses an outbound request may not reach unless an operator allows them: every
 * range that is not plain public unicast (IANA special-purpose registries), plus cloud
 * metadata endpoints. IPv6 forms that embed an IPv4 address are judged by that address.
 */
interface Range extends Cidr {
  readonly label: string;
}

function table(rows: ReadonlyArray<readonly [string, string]>): readonly Range[] {
  return rows.map(([cidr, label]) => ({ ...(parseCidr(cidr) as Cidr), label }));
}

// First match wins, so single addresses come before the ranges that hold them.
const V4 = table([
  ['169.254.169.254/32', 'a cloud metadata address'], // AWS, GCP, Azure, OpenStack …
  ['168.63.129.16/32', 'a cloud metadata address'], // Azure wire server
  ['100.100.100.200/32', 'a cloud metadata address'], // Alibaba
  ['192.0.0.192/32', 'a cloud metadata address'], // Oracle
  ['0.0.0.0/8', 'an unspecified ("this network") address'],
  ['10.0.0.0/8', 'a private address'],
  ['100.64.0.0/10', 'a carrier-grade NAT address'],
  ['127.0.0.0/8', 'a loopback address'],
  ['169.254.0.0/16', 'a link-local address'],
  ['172.16.0.0/12', 'a private address'],
  ['192.0.0.0/24', 'an IETF protocol assignment address'],
  ['192.0.2.0/24', 'a documentation address'],
  ['192.88.99.0/24', 'a reserved (6to4 relay) address'],
  ['192.168.0.0/16', 'a private address'],
  ['198.18.0.0/15', 'a benchmarking address'],
  ['198.51.100.0/24', 'a documentation address'],
  ['203.0.113.0/24', 'a documentation address'],
  ['224.0.0.0/4', 'a multicast address'],
  ['255.255.255.255/32', 'a broadcast address'],
  ['240.0.0.0/4', 'a reserved address'],
]);

const V6 = table([
  ['::/128', 'an unspecified address'],
  ['::1/128', 'a loopback address'],
  ['64:ff9b:1::/48', 'a local-use NAT64 address'],
  ['100::/64', 'a discard-only address'],
  ['2001::/32', 'a Teredo tunnel address'],
  ['2001:2::/48', 'a benchmarking address'],
  ['2001:db8::/32', 'a documentation address'],
  ['2001::/23', 'an IETF protocol assignment address'],
  ['3fff::/20', 'a documentation address'],
  ['5f00::/16', 'a reserved (SRv6) address'],
  ['fd00:ec2::254/128', 'a cloud metadata address'], // AWS over IPv6
  ['fc00::/7', 'a private (unique local) address'],
  ['fe80::/10', 'a link-local address'],
  ['fec0::/10', 'a site-local address'],
  ['ff00::/8', 'a multicast address'],
]);

const GLOBAL_UNICAST_V6 = parseCidr('2000::/3') as Cidr;

/** IPv6 forms carrying an IPv4 address that the packet really goes to (or came from). */
const EMBEDDING = [
  { cidr: parseCidr('::ffff:0:0/96') as Cidr, at: 12, name: 'an IPv4-mapped address' },
  { cidr: parseCidr('64:ff9b::/96') as Cidr, at: 12, name: 'a NAT64 address' },
  { cidr: parseCidr('2002::/16') as Cidr, at: 2, name: 'a 6to4 address' },
  // Refused even around a public IPv4 address: nothing legitimate uses these forms.
  { cidr: parseCidr('::ffff:0:0:0/96') as Cidr, at: 12, name: 'an IPv4-translated address', otherwise: 'an IPv4-translated address' },
  { cidr: parseCidr('::/96') as Cidr, at: 12, name: 'an IPv4-compatible address', otherwise: 'a deprecated IPv4-compatible address' },
] as const satisfies ReadonlyArray<{ cidr: Cidr; at: number; name: string; otherwise?: string }>;

function classifyV4(bytes: IpBytes): string | undefined {
  return V4.find((r) => inCidr(bytes, r))?.label;
}

function classifyV6(bytes: IpBytes): string | undefined {
  // "::" and "::1" first: the IPv4-compatible range below would hold them.
  const own = V6.slice(0, 2).find((r) => inCidr(bytes, r));
  if (own) return own.label;
  for (const e of EMBEDDING) {
    if (!inCidr(bytes, e.cidr)) continue;
    const v4 = bytes.slice(e.at, e.at + 4);
    const inner = classifyV4(v4);
    if (inner) return `${e.name} of ${formatIpv4(v4)}, ${inner}`;
    return 'otherwise' in e ? e.otherwise : undefined;
  }
  const label = V6.find((r) => inCidr(bytes, r))?.label;
  if (label) return label;
  return inCidr(bytes, GLOBAL_UNICAST_V6) ? undefined : 'a reserved address (outside global unicast 2000::/3)';
}

/**
 * Why an address may not be reached ("a loopback address", "an IPv4-mapped address of
 * 127.0.0.1, a loopback address"), or undefined for a public address. Text that is not an
 * IP address is refused too: the guard only ever lets through what it understood.
 */
export function classifyAddress(address: string): string | undefined {
  const bytes = parseIp(address);
  if (!bytes) return 'not an IP address';
  return bytes.length === 4 ? classifyV4(bytes) : classifyV6(bytes);
}

/** The IPv4 address inside "::ffff:a.b.c.d", so an allowlist of IPv4 entries matches it. */
export function unmapped(bytes: IpBytes): IpBytes {
  return bytes.length === 16 && inCidr(bytes, EMBEDDING[0].cidr) ? bytes.slice(12) : bytes;
}
