// The kinds of argument the engine worker's requests take (worker.js), each with a check and the
// words an error uses, and the check of one request's arguments against its list.

const kind = (describe, test) => Object.freeze({ describe, test });

const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

export const STRING = kind('a string', (v) => typeof v === 'string');
export const NUMBER = kind('a finite number', (v) => typeof v === 'number' && Number.isFinite(v));
export const INTEGER = kind('a whole number of 0 or more', (v) => Number.isSafeInteger(v) && v >= 0);
export const BOOLEAN = kind('true or false', (v) => typeof v === 'boolean');
export const OBJECT = kind('an object', isObject);
export const STRINGS = kind('a list of strings', (v) => Array.isArray(v) && v.every((s) => typeof s === 'string'));
export const NUMBERS = kind('a list of numbers', (v) => (Array.isArray(v) || v instanceof Float32Array) && Array.prototype.every.call(v, (x) => typeof x === 'number'));
/** `{key, bytes?}`: the bytes cross over the first time a key is used (worker.js keeps them). */
export const IMAGE = kind('an image {key, bytes?}', (v) => isObject(v) && typeof v.key === 'string' && (v.bytes === undefined || v.bytes instanceof ArrayBuffer || ArrayBuffer.isView(v.bytes)));
export const WASM_MODULE = kind('a compiled WebAssembly.Module', (v) => v instanceof WebAssembly.Module);

export const oneOf = (...values) => kind(`one of ${values.join(', ')}`, (v) => values.includes(v));

/** `kind`, or absent. */
export const optional = (of) => kind(`${of.describe} (or left out)`, (v) => v === undefined || v === null || of.test(v));

/** Throws a readable error when `args` does not match `spec` ({name: kind}) exactly. */
export function checkArguments(type, spec, args) {
  for (const name of Object.keys(args)) {
    if (!(name in spec)) throw new Error(`the engine's "${type}" request takes no "${name}" (it takes ${Object.keys(spec).join(', ') || 'nothing'})`);
  }
  for (const [name, of] of Object.entries(spec)) {
    if (!of.test(args[name])) throw new Error(`the engine's "${type}" request needs ${name} as ${of.describe}`);
  }
}
