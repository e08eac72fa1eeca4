export interface CodeLimits {
  /**
   * Heap for the call (default 64 MiB). Enforced by the size of the engine's WebAssembly
   * memory, which cannot grow past memoryBytes + 16 MiB (the engine's own data, C stack
   * and first heap): QuickJS's own counter (runtime.setMemoryLimit, also set) misses most
   * of what large strings and buffers take in this build.
   */
  memoryBytes: number;
  /**
   * Wall-clock budget (default 1000). QuickJS's interrupt handler stops the code at the
   * deadline; a thread kill backs it up `hardKillGraceMs` later, for code that spends its
   * time inside long built-in calls, where the handler is consulted too rarely.
   */
  timeoutMs: number;
  /** Size of the result's JSON text with the logs, checked before it is copied out (default 1 MiB). */
  maxOutputBytes: number;
  /** QuickJS's stack limit (default 256 KiB: ~1,300 plain recursive calls). */
  maxStackBytes?: number;
}

export type ResolvedCodeLimits = Readonly<Required<CodeLimits>>;

const KiB = 1024;
const MiB = 1024 * KiB;

export const defaultCodeLimits: ResolvedCodeLimits = Object.freeze({
  memoryBytes: 64 * MiB,
  timeoutMs: 1000,
  maxOutputBytes: MiB,
  maxStackBytes: 256 * KiB,
});

/** How long after the deadline a call still running is stopped by terminating its thread. */
export const hardKillGraceMs = 250;

const limitRanges: { readonly [K in keyof CodeLimits]-?: readonly [number, number] } = {
  memoryBytes: [MiB, 1024 * MiB],
  timeoutMs: [1, 60_000],
  maxOutputBytes: [16, 64 * MiB],
  // Above ~1 MiB QuickJS's frames would outgrow the thread's 4 MiB native stack first.
  maxStackBytes: [32 * KiB, MiB],
};

/** Merges and checks limits once; a bad value is a programming error, named in a RangeError. */
export function compileCodeLimits(limits: Partial<CodeLimits> = {}, base: ResolvedCodeLimits = defaultCodeLimits): ResolvedCodeLimits {
  const out = { ...base };
  for (const key of Object.keys(limitRanges) as (keyof CodeLimits)[]) {
    const value = limits[key];
    if (value === undefined) continue;
    const [min, max] = limitRanges[key];
    if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`code limit ${key} must be an integer from ${min} to ${max}, got ${String(value)}`);
    out[key] = value;
  }
  return Object.freeze(out);
}
