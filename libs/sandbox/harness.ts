/**
 * JavaScript evaluated in each fresh QuickJS context before the user's code. It captures
 * the built-ins it needs first, so code that later replaces `JSON.stringify` or
 * `Array.prototype.push` can only spoil its own result, never the host: whatever it
 * returns is one string that the host size-checks and parses as JSON.
 */
export const HARNESS_FILE = 'sandbox-harness.js';
/** The user's code is compiled under this name; stack frames naming it locate errors. */
export const USER_FILE = 'code.js';

/** Nesting cap of results and logged values. QuickJS's JSON.stringify recurses on the host's native stack without a check. */
export const MAX_RESULT_DEPTH = 200;
export const MAX_LOG_LINES = 100;
export const MAX_LOG_LINE_CHARS = 2000;

/** Prepended to the user's source: one line, so reported lines are shifted by exactly one. */
export const WRAPPER_PREFIX = '(async function (input) {\n';
export const WRAPPER_SUFFIX = '\n})';
export const WRAPPER_LINES = 1;

export const HARNESS_SOURCE = `(() => {
  'use strict';
  const stringify = JSON.stringify, parse = JSON.parse, create = Object.create, toText = String;
  const apply = Reflect.apply, sliceText = String.prototype.slice, TypeErr = TypeError, RangeErr = RangeError;
  const cut = (s, n) => (s.length > n ? apply(sliceText, s, [0, n]) + '…' : s);

  // JSON text of a value, refusing what JSON.stringify would drop or choke on. The
  // replacer sees values after toJSON; \`this\` is the holder, always on the current path.
  const toJson = (value) => {
    const path = create(null);
    let depth = 0;
    return stringify(value, function (key, v) {
      while (depth > 0 && path[depth - 1] !== this) depth--;
      const t = typeof v;
      if (t === 'function' || t === 'symbol' || t === 'bigint') {
        throw new TypeErr('a ' + (t === 'bigint' ? 'BigInt' : t) + (key === '' ? ' is not JSON' : ' at key "' + cut(key, 100) + '" is not JSON'));
      }
      if (v !== null && t === 'object') {
        if (depth >= ${MAX_RESULT_DEPTH}) throw new RangeErr('nested deeper than ${MAX_RESULT_DEPTH} levels');
        path[depth++] = v;
      }
      return v;
    });
  };

  const show = (v) => {
    if (typeof v === 'string') return v;
    try { const j = toJson(v); if (j !== undefined) return j; } catch { /* not JSON: show it as text */ }
    try { return toText(v); } catch { return '[unprintable]'; }
  };

  const logs = create(null);
  let logCount = 0;
  const log = (...args) => {
    if (logCount >= ${MAX_LOG_LINES}) return;
    let line = '';
    for (let i = 0; i < args.length; i++) line += (i === 0 ? '' : ' ') + cut(show(args[i]), ${MAX_LOG_LINE_CHARS});
    logs[logCount++] = cut(line, ${MAX_LOG_LINE_CHARS});
  };
  globalThis.console = { log, info: log, warn: log, error: log, debug: log };

  return {
    input: (text) => parse(text),
    output: (value) => {
      const result = toJson(value === undefined ? null : value);
      let lines = '';
      for (let i = 0; i < logCount; i++) lines += (i === 0 ? '' : ',') + stringify(logs[i]);
      return '{"result":' + (result === undefined ? 'null' : result) + ',"logs":[' + lines + ']}';
    },
    // [name, message, stack] of anything thrown, each read on its own: a throwing getter spoils only its part.
    describe: (err) => {
      let name = '', message = '', stack = '';
      if (err !== null && (typeof err === 'object' || typeof err === 'function')) {
        try { name = cut(toText(err.name), 100); } catch { /* keep the default */ }
        try { message = cut(toText(err.message), 1000); } catch { /* keep the default */ }
        try { const s = err.stack; if (typeof s === 'string') stack = cut(s, 4000); } catch { /* keep the default */ }
      } else {
        message = cut(show(err), 1000);
      }
      return stringify([name, message, stack]);
    },
  };
})()`;
