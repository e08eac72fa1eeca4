/** Command-line options of the hub's CLI commands. */

/**
 * `--name value` options (`flags`), `--name` switches and the positional arguments, in
 * order; an unknown option or a missing value is an error naming it.
 */
export function parseOptions(args: readonly string[], flags: readonly string[], switches: readonly string[] = []): { positional: string[]; options: Record<string, string | true> } {
  const positional: string[] = [];
  const options: Record<string, string | true> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) { positional.push(a); continue; }
    const name = a.slice(2);
    if (switches.includes(name)) { options[name] = true; continue; }
    if (!flags.includes(name)) throw new Error(`unknown option ${a}; expected ${[...flags, ...switches].map((f) => `--${f}`).join(', ')}`);
    const value = args[++i];
    if (value === undefined || value.startsWith('--')) throw new Error(`${a} needs a value`);
    options[name] = value;
  }
  return { positional, options };
}
