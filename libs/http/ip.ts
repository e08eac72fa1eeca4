import { isIPv4, isIPv6 } from 'node:net';

/** An address as bytes: 4 for IPv4, 16 for IPv6. */
export type IpBytes = readonly number[];

export interface Cidr {
  readonly bytes: IpBytes;
  readonly prefix: number;
}

/** Strips URL brackets and an IPv6 zone id ("fe80::1%eth0"). */
export function bareHost(host: string): string {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const zone = h.indexOf('%');
  return zone === -1 ? h : h.slice(0, zone);
}

/** Canonical IPv4 (dotted decimal, as WHATWG URL and resolvers produce) or IPv6 text → bytes. */
export function parseIp(text: string): number[] | undefined {
  const t = bareHost(text);
  if (isIPv4(t)) return t.split('.').map(Number);
  if (!isIPv6(t)) return undefined;
  // A dotted IPv4 tail ("::ffff:127.0.0.1") counts as the last two groups.
  let body = t;
  let tail: number[] = [];
  const dotted = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(t);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(2).map(Number) as [number, number, number, number];
    tail = [a * 256 + b, c * 256 + d];
    body = dotted[1]!.endsWith('::') ? dotted[1]! : dotted[1]!.slice(0, -1);
  }
  const [head = '', rest] = body.split('::');
  const left = head === '' ? [] : head.split(':').map((g) => parseInt(g, 16));
  const right = rest === undefined || rest === '' ? [] : rest.split(':').map((g) => parseInt(g, 16));
  const fill = 8 - left.length - right.length - tail.length;
  const groups = rest === undefined ? [...left, ...tail] : [...left, ...new Array<number>(fill).fill(0), ...right, ...tail];
  if (groups.length !== 8) return undefined;
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

export function formatIpv4(bytes: IpBytes): string {
  return bytes.join('.');
}

export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const bytes = parseIp(slash === -1 ? text : text.slice(0, slash));
  if (!bytes) return undefined;
  const max = bytes.length * 8;
  if (slash === -1) return { bytes, prefix: max };
  const p = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p) || Number(p) > max) return undefined;
  return { bytes, prefix: Number(p) };
}

export function inCidr(bytes: IpBytes, cidr: Cidr): boolean {
  if (bytes.length !== cidr.bytes.length) return false;
  for (let bit = 0; bit < cidr.prefix; bit += 8) {
    const take = Math.min(8, cidr.prefix - bit);
    const mask = (0xff << (8 - take)) & 0xff;
    if (((bytes[bit / 8]! ^ cidr.bytes[bit / 8]!) & mask) !== 0) return false;
  }
  return true;
}

/** True when the address has bits set beyond the prefix ("10.0.0.1/8"). */
export function hasHostBits(cidr: Cidr): boolean {
  return cidr.bytes.some((b, i) => {
    const keep = Math.max(0, Math.min(8, cidr.prefix - i * 8));
    return (b & (0xff >> keep)) !== 0;
  });
}
