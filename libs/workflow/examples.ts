/**
 * Example workflows (examples/*.json): a workflow definition plus what must be filled
 * in to import it. Addresses of the external systems differ per installation, so a
 * definition may hold `${NAME}` placeholders, each declared under `variables` with a
 * description (and an optional default); `npm run hub -- workflow import` fills them
 * from `--var NAME=value` (or the environment). Secrets are never variables: they go
 * in stored credentials, which the example lists under `credentials`.
 */
export interface ExampleFile {
  /** Which use case of the mission this is, and what it does. */
  title: string;
  description: string;
  variables: Record<string, { description: string; default?: string }>;
  credentials: { name: string; type: string; description: string }[];
  workflow: unknown;
}

const PLACEHOLDER = /\$\{([A-Z][A-Z0-9_]*)\}/g;

export class ExampleError extends Error {}

export function parseExample(text: string): ExampleFile {
  let value: unknown;
  try { value = JSON.parse(text); } catch (err) { throw new ExampleError(`not JSON: ${(err as Error).message}`); }
  const e = value as Partial<ExampleFile> | null;
  if (!e || typeof e !== 'object' || typeof e.title !== 'string' || typeof e.workflow !== 'object' || e.workflow === null) {
    throw new ExampleError('an example is {"title", "description", "variables", "credentials", "workflow"}');
  }
  return { title: e.title, description: e.description ?? '', variables: e.variables ?? {}, credentials: e.credentials ?? [], workflow: e.workflow };
}

/** The workflow with every placeholder filled; throws naming each missing or undeclared variable. */
export function instantiate(example: ExampleFile, values: Readonly<Record<string, string | undefined>>): unknown {
  const missing = new Set<string>();
  const undeclared = new Set<string>();
  const fill = (v: unknown): unknown => {
    if (typeof v === 'string') {
      return v.replace(PLACEHOLDER, (_, name: string) => {
        const declared = example.variables[name];
        if (!declared) { undeclared.add(name); return ''; }
        const value = values[name] ?? declared.default;
        if (value === undefined) { missing.add(name); return ''; }
        return value;
      });
    }
    if (Array.isArray(v)) return v.map(fill);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)]));
    return v;
  };
  const workflow = fill(example.workflow);
  if (undeclared.size > 0) throw new ExampleError(`the example uses undeclared variables: ${[...undeclared].join(', ')}`);
  if (missing.size > 0) {
    throw new ExampleError(`set ${[...missing].map((n) => `${n} (${example.variables[n]!.description})`).join('; ')} with --var NAME=value`);
  }
  return workflow;
}
