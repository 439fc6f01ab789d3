// values-roundtrip.ts - every kind of value Deno stores survives kvfs.
//
//   deno run --unstable-kv -A values-roundtrip.ts KVFS_BIN
//
// Deno writes each value under ["deno", i]; `kvfs dump` shows them as
// $-tagged JSON; the same lines, keyed ["kvfs", i], go back through
// `kvfs load`; Deno then reads both keys and they must be the same value,
// identity of repeated and circular objects included. Prints TAP.

const kvfs = Deno.args[0];
if (!kvfs) {
	console.error("usage: values-roundtrip.ts KVFS_BIN");
	Deno.exit(2);
}
const dir = await Deno.makeTempDir();
const DB = `${dir}/db.sqlite3`;

// deno-lint-ignore no-explicit-any
function eq(a: any, b: any, seen = new Map()): string | null {
	if (typeof a !== typeof b) return `type ${typeof a} vs ${typeof b}`;
	if (typeof a !== "object" || a === null || b === null) {
		if (Object.is(a, b)) return null;
		return `value ${String(a)} vs ${String(b)}`;
	}
	if (seen.has(a)) return seen.get(a) === b ? null : "identity differs";
	seen.set(a, b);
	const ta = Object.prototype.toString.call(a), tb = Object.prototype.toString.call(b);
	if (ta !== tb) return `class ${ta} vs ${tb}`;
	if (a.constructor?.name !== b.constructor?.name) return `ctor ${a.constructor?.name} vs ${b.constructor?.name}`;
	if (a instanceof Date) return Object.is(a.getTime(), b.getTime()) ? null : `date ${a.getTime()} vs ${b.getTime()}`;
	if (a instanceof RegExp) return a.source === b.source && a.flags === b.flags ? null : `regexp ${a} vs ${b}`;
	if (a instanceof Error) {
		for (const k of ["name", "message", "stack"]) if (a[k] !== b[k]) return `error ${k}: ${a[k]} vs ${b[k]}`;
		if (("cause" in a) !== ("cause" in b)) return "error cause presence";
		return "cause" in a ? eq(a.cause, b.cause, seen) : null;
	}
	if (a instanceof ArrayBuffer) {
		if (a.resizable !== b.resizable || a.maxByteLength !== b.maxByteLength) return "buffer resizable";
		return eq(new Uint8Array(a), new Uint8Array(b), new Map());
	}
	if (ArrayBuffer.isView(a)) {
		const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength), y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
		if (x.length !== y.length) return "view length";
		for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return `view byte ${i}`;
		return null;
	}
	if (a instanceof Map) {
		if (a.size !== b.size) return "map size";
		const ea = [...a], eb = [...b];
		for (let i = 0; i < ea.length; i++) { const r = eq(ea[i][0], eb[i][0], seen) ?? eq(ea[i][1], eb[i][1], seen); if (r) return `map[${i}] ${r}`; }
		return null;
	}
	if (a instanceof Set) {
		const ea = [...a], eb = [...b];
		if (ea.length !== eb.length) return "set size";
		for (let i = 0; i < ea.length; i++) { const r = eq(ea[i], eb[i], seen); if (r) return `set[${i}] ${r}`; }
		return null;
	}
	if (a instanceof Boolean || a instanceof Number || a instanceof String || a instanceof BigInt)
		return Object.is(a.valueOf(), b.valueOf()) ? null : "boxed";
	if (Array.isArray(a) && a.length !== b.length) return `array length ${a.length} vs ${b.length}`;
	const ka = Object.keys(a), kb = Object.keys(b);
	if (ka.join("\0") !== kb.join("\0")) return `keys [${ka}] vs [${kb}]`;
	for (const k of ka) { const r = eq(a[k], b[k], seen); if (r) return `.${k}: ${r}`; }
	return null;
}

const cases: [string, () => any][] = [];
const add = (n: string, f: () => any) => cases.push([n, f]);
add("null", () => null); add("undefined", () => undefined); add("true", () => true);
add("ints", () => [0, 1, -1, 300, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 53, -(2 ** 53) - 2]);
add("doubles", () => [1.5, -0, NaN, Infinity, -Infinity, 5e-324, 1e21, 1e-7, 0.1 + 0.2]);
add("bigints", () => [0n, 1n, -1n, 2n ** 64n, -(2n ** 200n) + 7n, 255n, 256n]);
add("strings", () => ["", "abc", "é", "ÿ", "€", "aé€", "😀", "\0", "\ud800", "x\udc00y", "a".repeat(200), "\u0001\n\"\\"]);
add("slice two-byte", () => "€abc".slice(1));
add("object", () => ({ a: 1, b: { c: {} }, 1: "x", 4294967294: 2, 4294967295: 3, "01": 4, "$": 5 }));
add("lone $ key", () => ({ $bigint: "1" }));
add("two $ keys", () => ({ $a: 1, $b: 2 }));
add("null proto", () => Object.assign(Object.create(null), { q: 1 }));
add("arrays", () => [[], [1, 2, 3], [1, "a", null, true], [1.5, 2]]);
add("array props", () => Object.assign([1, 2], { foo: "bar" }));
add("holes", () => [1, , 3]);
add("sparse", () => { const a: any[] = []; a[5] = 1; return a; });
add("sparse props", () => { const a: any = []; a[3] = 1; a.x = { y: 1 }; return a; });
add("big sparse", () => { const a: any[] = []; a[4294967294] = 1; return a; });
add("new Array(3)", () => new Array(3));
add("dates", () => [new Date(0), new Date(1700000000000), new Date(NaN), new Date(8.64e15), new Date(-8.64e15), new Date(-1), new Date(Date.UTC(-1, 0, 1)), new Date(253402300800000)]);
add("regexps", () => [/ab+c/gi, /x/dgimsuy, /a/v, new RegExp(""), /a\/b/, /é+/]);
add("map", () => new Map<any, any>([["a", 1], [1, new Set(["b"])], [{}, []]]));
add("set", () => new Set([1, "a", 2n, null]));
add("u8 nested", () => ({ b: new Uint8Array([1, 2, 3]) }));
add("u8 subarray nested", () => ({ b: new Uint8Array([0, 1, 2, 3, 4]).subarray(1, 3) }));
add("buffer", () => new Uint8Array([1, 2, 3]).buffer);
add("resizable", () => { const b = new ArrayBuffer(2, { maxByteLength: 8 }); new Uint8Array(b).set([7, 8]); return b; });
add("views", () => [new Int8Array([-1]), new Uint8ClampedArray([255]), new Int16Array([1, -1]), new Uint16Array([65535]),
	new Int32Array([-5]), new Uint32Array([4e9]), new Float16Array([1.5]), new Float32Array([1.5]), new Float64Array([1.5, NaN]),
	new BigInt64Array([-1n]), new BigUint64Array([2n ** 64n - 1n]), new DataView(new ArrayBuffer(2)), new Uint8Array(0)]);
add("boxed", () => [new Boolean(true), new Boolean(false), new Number(1.5), new Number(-0), new String("s"), new String("€"), Object(5n), Object(-5n)]);
add("errors", () => { const e = new RangeError("r"); delete (e as any).stack; return e; });
add("error stack", () => new TypeError("t"));
add("error cause", () => new Error("e", { cause: { x: [1] } }));
add("error undefined cause", () => new Error("e", { cause: undefined }));
add("error kinds", () => [new EvalError(), new ReferenceError("x"), new SyntaxError("s"), new URIError("u"), new Error()]);
add("custom error", () => { class My extends Error {} ; return new My("m"); });
add("error inside its own cause", () => { const e = new Error("a"); e.cause = e; return e; });
add("error whose cause holds it", () => { const f = new TypeError("b"); f.cause = [f]; const g = new Error("c"); g.cause = { e: g }; return [f, g]; });
// deeper than the old limit of 1000 (Deno writes and reads 3596 arrays, 4979 Sets; eq below recurses too)
add("deep arrays", () => { let v: unknown = 1; for (let i = 0; i < 2000; i++) v = [v]; return v; });
add("deep sets", () => { let v: unknown = 1; for (let i = 0; i < 2000; i++) v = new Set([v]); return v; });
add("errors causing each other", () => { const i = new Error("i"), j = new Error("j", { cause: i }); i.cause = j; return { i, j }; });
add("refs", () => { const o = { x: 1 }; return { p: o, q: o }; });
add("cycle", () => { const o: any = { a: 1 }; o.self = o; return o; });
add("u8 twice", () => { const u = new Uint8Array([1, 2]); return { a: u, b: u }; });
add("map self", () => { const m = new Map(); m.set(m, m); return m; });
add("array cycle", () => { const a: any[] = [1]; a.push(a); return [a, { a }]; });
add("ref reorder", () => { const o = { z: 1 }; return { b: o, 1: o }; });
add("nested deep", () => { let v: any = 1; for (let i = 0; i < 300; i++) v = [v]; return v; });
add("kvu64", () => new Deno.KvU64(2n ** 64n - 1n));
add("top u8", () => new Uint8Array([0, 1, 2]));
add("top u8 empty", () => new Uint8Array(0));
add("kvu64 nested", () => ({ v: new Deno.KvU64(5n) }));
add("u8 and its buffer", () => { const u = new Uint8Array([1, 2]); return { a: u, b: u.buffer, c: u }; });
add("two views one buffer", () => { const b = new ArrayBuffer(4); return [new Uint8Array(b, 0, 2), new Int16Array(b, 2, 1), b]; });
add("invalid date", () => ({ d: new Date(NaN) }));
add("getter", () => ({ get g() { return 7; } }));


const kv = await Deno.openKv(DB);
for (let i = 0; i < cases.length; i++) await kv.set(["deno", i], cases[i][1]());
kv.close();

const dump = await new Deno.Command(kvfs, { args: ["dump", DB, "deno"], stdout: "piped" }).output();
if (!dump.success) throw new Error("kvfs dump failed");
const lines = new TextDecoder().decode(dump.stdout).trim().split("\n")
	.map((l) => l.replace(/^\{"key":\["deno",/, '{"key":["kvfs",'));
const load = new Deno.Command(kvfs, { args: ["load", DB], stdin: "piped" }).spawn();
const w = load.stdin.getWriter();
await w.write(new TextEncoder().encode(lines.join("\n") + "\n"));
await w.close();
if (!(await load.status).success) throw new Error("kvfs load failed");

const kv2 = await Deno.openKv(DB);
let failed = 0;
console.log(`1..${cases.length}`);
for (let i = 0; i < cases.length; i++) {
	const a = await kv2.get(["deno", i]), b = await kv2.get(["kvfs", i]);
	const r = b.versionstamp === null ? "not loaded" : eq(a.value, b.value);
	if (r) failed++;
	console.log(`${r ? "not ok" : "ok"} ${i + 1} - ${cases[i][0]}${r ? `\n# ${r}\n# ${lines[i]}` : ""}`);
}
kv2.close();
await Deno.remove(dir, { recursive: true });
Deno.exit(failed ? 1 : 0);
