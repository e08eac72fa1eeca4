import type { FastifyRequest } from 'fastify';

/** Known URL patterns and their methods, to tell 405 from 404. Filled from every route registered. */
export class RouteTable {
  private readonly patterns = new Map<string, { re: RegExp; methods: Set<string> }>();

  add(method: string | string[], url: string): void {
    let entry = this.patterns.get(url);
    if (!entry) {
      const re = new RegExp(`^${url.split('/').map((part) => (part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/')}/?$`);
      entry = { re, methods: new Set() };
      this.patterns.set(url, entry);
    }
    for (const m of Array.isArray(method) ? method : [method]) {
      entry.methods.add(m);
      if (m === 'GET') entry.methods.add('HEAD');
    }
  }

  methodsFor(path: string): string[] {
    const out = new Set<string>();
    for (const { re, methods } of this.patterns.values()) if (re.test(path)) for (const m of methods) out.add(m);
    return [...out].sort();
  }
}

export function routeLabel(request: FastifyRequest): string {
  return request.routeOptions.url ?? 'unmatched';
}
