// check-load.ts - Deno reads back what `kvfs load` stored from load-all.ndjson
// and compares it with the JavaScript values those lines stand for, with a
// strict structural equality: types and classes, -0, NaN, holes, Map and Set
// contents in order, typed array classes and bytes, Date, RegExp, errors,
// and the sharing of objects (repeated and circular references).
//
//   deno run --unstable-kv -A check-load.ts DATABASE
//
// Prints one line per mismatch and exits 1 when there is any.

export function strictEqual(a: unknown, b: unknown, path = "value"): string[] {
	const errs: string[] = [];
	const ab = new Map<object, object>(), ba = new Map<object, object>();

	function eq(x: unknown, y: unknown, p: string) {
		if (typeof x !== typeof y) {
			errs.push(`${p}: type ${typeof x} != ${typeof y}`);
			return;
		}
		if (x === null || y === null || typeof x !== "object") {
			if (!Object.is(x, y)) errs.push(`${p}: ${fmt(x)} != ${fmt(y)}`);
			return;
		}
		const xo = x as object, yo = y as object;
		// Same sharing on both sides: x was met with y and only with y.
		if (ab.has(xo) || ba.has(yo)) {
			if (ab.get(xo) !== yo || ba.get(yo) !== xo) errs.push(`${p}: object identity differs`);
			return;
		}
		ab.set(xo, yo);
		ba.set(yo, xo);
		if (Object.getPrototypeOf(xo) !== Object.getPrototypeOf(yo)) {
			errs.push(`${p}: class ${xo.constructor?.name} != ${yo.constructor?.name}`);
			return;
		}
		if (xo instanceof Date) {
			if (!Object.is(xo.getTime(), (yo as Date).getTime()))
				errs.push(`${p}: date ${xo.getTime()} != ${(yo as Date).getTime()}`);
			return;
		}
		if (xo instanceof RegExp) {
			const yr = yo as RegExp;
			if (xo.source !== yr.source || xo.flags !== yr.flags)
				errs.push(`${p}: ${String(xo)} != ${String(yr)}`);
			return;
		}
		if (xo instanceof Map) {
			const xe = [...xo], ye = [...(yo as Map<unknown, unknown>)];
			if (xe.length !== ye.length) errs.push(`${p}: map size ${xe.length} != ${ye.length}`);
			else xe.forEach(([k, v], i) => {
				eq(k, ye[i][0], `${p}.key[${i}]`);
				eq(v, ye[i][1], `${p}.get(${fmt(k)})`);
			});
			return;
		}
		if (xo instanceof Set) {
			const xe = [...xo], ye = [...(yo as Set<unknown>)];
			if (xe.length !== ye.length) errs.push(`${p}: set size ${xe.length} != ${ye.length}`);
			else xe.forEach((v, i) => eq(v, ye[i], `${p}[item ${i}]`));
			return;
		}
		if (ArrayBuffer.isView(xo) || xo instanceof ArrayBuffer) {
			const bytes = (o: object) => o instanceof ArrayBuffer ? new Uint8Array(o)
				: new Uint8Array((o as ArrayBufferView).buffer, (o as ArrayBufferView).byteOffset,
					(o as ArrayBufferView).byteLength);
			const xb = bytes(xo), yb = bytes(yo);
			if (xb.length !== yb.length || xb.some((v, i) => v !== yb[i]))
				errs.push(`${p}: bytes [${xb}] != [${yb}]`);
			return;
		}
		if (xo instanceof Boolean || xo instanceof Number || xo instanceof String ||
		    xo instanceof BigInt) {
			if (!Object.is(xo.valueOf(), (yo as Number).valueOf()))
				errs.push(`${p}: boxed ${fmt(xo.valueOf())} != ${fmt((yo as Number).valueOf())}`);
			return;
		}
		if (xo instanceof Error) {
			const ye = yo as Error;
			for (const f of ["name", "message", "stack", "cause"] as const) {
				if (Object.hasOwn(xo, f) !== Object.hasOwn(ye, f) && f !== "stack")
					errs.push(`${p}: error own property ${f} differs`);
			}
			eq(xo.name, ye.name, `${p}.name`);
			eq(xo.message, ye.message, `${p}.message`);
			if (Object.hasOwn(xo, "stack")) eq(xo.stack, ye.stack, `${p}.stack`);
			if (Object.hasOwn(xo, "cause")) eq(xo.cause, ye.cause, `${p}.cause`);
			return;
		}
		if (Array.isArray(xo)) {
			const ya = yo as unknown[];
			if (xo.length !== ya.length) errs.push(`${p}: length ${xo.length} != ${ya.length}`);
			for (let i = 0; i < Math.min(xo.length, ya.length); i++) {
				if ((i in xo) !== (i in ya)) errs.push(`${p}[${i}]: hole differs`);
			}
		}
		const xk = Object.keys(xo), yk = Object.keys(yo);
		if (xk.join("\0") !== yk.join("\0")) {
			errs.push(`${p}: keys [${xk}] != [${yk}]`);
			return;
		}
		for (const k of xk) eq((xo as never)[k], (yo as never)[k], `${p}.${k}`);
	}
	eq(a, b, path);
	return errs;
}

function fmt(v: unknown): string {
	if (typeof v === "bigint") return `${v}n`;
	if (Object.is(v, -0)) return "-0";
	if (typeof v === "string") return JSON.stringify(v);
	return String(v);
}

function withStack<T extends Error>(e: T, stack?: string): T {
	if (stack === undefined) delete (e as { stack?: string }).stack;
	else Object.defineProperty(e, "stack", { value: stack, writable: true, configurable: true });
	return e;
}

function typed() {
	// deno-lint-ignore no-explicit-any
	const F16 = (globalThis as any).Float16Array;
	return F16 ? new F16([1.5]) : undefined;
}

export function expected(): Record<string, unknown> {
	const x = { x: 1 };
	const cyc: Record<string, unknown> = { name: "c" };
	cyc.self = cyc;
	const arr: unknown[] = [1];
	arr.push(arr);
	const u8 = new Uint8Array([1, 2, 3]);
	const m = new Map<unknown, unknown>();
	m.set("me", m);
	const sparse = new Array(5);
	sparse[1] = "b";
	sparse[3] = NaN;
	return {
		null: null, undefined: undefined, true: true, false: false,
		int: 42, negint: -7, int32min: -(2 ** 31), int2p31: 2 ** 31, double: 1.5, big: 1e21,
		exp: 0.0025, maxsafe: Number.MAX_SAFE_INTEGER,
		negzero: -0, nan: NaN, inf: Infinity, neginf: -Infinity,
		bigint: -12345678901234567890123n, bigint0: 0n,
		str_empty: "", str_ascii: "hello", str_latin1: "café ÿ", str_twobyte: "€ 日本語",
		str_emoji: "😀😀", str_escapes: "\0\b\f\n\r\t\"\\/\u001f", str_lone: "a\ud800b",
		obj_empty: {}, obj: { a: 1, b: [true, null], c: { d: "e" } },
		obj_intkeys: { 0: "y", 1: "x", a: 2 },
		obj_dollar: { $bigint: "5" }, obj_dollar2: { $x: 1, $y: 2 },
		arr: [1, "a", null, undefined, 1.5], arr_empty: [],
		sparse, sparse_empty: new Array(3),
		date: new Date(Date.UTC(2024, 0, 1)), date_far: new Date(8.64e15),
		date_neg: new Date("-000001-01-01T00:00:00.000Z"),
		regexp: /a+b/gi, regexp_all: /x/dgimsuy, regexp_v: /[a]/v,
		map: new Map<unknown, unknown>([["a", 1], [2n, new Set(["x"])], [null, undefined]]),
		map_empty: new Map(),
		set: new Set<unknown>([1, "a", NaN]),
		bytes: new Uint8Array([0, 1, 2, 255]), bytes_empty: new Uint8Array(0),
		bytes_nested: { b: new Uint8Array([1, 2, 3]) },
		i8: new Int8Array([-1, 127]), u8c: new Uint8ClampedArray([0, 255]),
		i16: new Int16Array([1, -1]), u16: new Uint16Array([65535]),
		i32: new Int32Array([-5]), u32: new Uint32Array([4000000000]),
		f16: typed(), f32: new Float32Array([1.5]), f64: new Float64Array([NaN]),
		bi64: new BigInt64Array([-1n]), bu64: new BigUint64Array([2n ** 64n - 1n]),
		ab: new Uint8Array([1, 2, 3]).buffer, ab_empty: new ArrayBuffer(0),
		dv: new DataView(new Uint8Array([7, 8]).buffer),
		u64: new Deno.KvU64(2n ** 64n - 1n), u64_zero: new Deno.KvU64(0n),
		boxed_true: new Boolean(true), boxed_false: new Boolean(false),
		boxed_num: new Number(-0), boxed_str: new String("s"), boxed_bigint: Object(5n),
		error: withStack(new RangeError("r")),
		error_plain: withStack(new Error("boom")),
		error_stack: withStack(new TypeError("t"), "TypeError: t\n    at nowhere"),
		error_cause: withStack(new SyntaxError("s", { cause: 42n })),
		ref_repeat: { p: x, q: x }, ref_cycle: cyc, ref_arr: arr,
		ref_u8: { a: u8, b: u8 }, ref_map: m,
		expiring: "later", no_expiry: "always",
	};
}

// The keys of the ["k", ...] lines, in Deno's key order, and their values.
export const keys: [Deno.KvKey, string][] = [
	[["k", new Uint8Array(0)], "bytes_empty"],
	[["k", new Uint8Array([1, 2, 0, 7, 8])], "bytes"],
	[["k", ""], "str_empty"],
	[["k", "a\0b"], "str_nul"],
	[["k", "multi", 1, 2n, true, new Uint8Array([0])], "multi"],
	[["k", "é"], "str_latin1"],
	[["k", "😀"], "str_emoji"],
	[["k", -(2n ** 64n)], "bigint_neg_2p64"],
	[["k", 0n], "bigint_zero"],
	[["k", 2n ** 100n], "bigint_2p100"],
	[["k", -Infinity], "num_neginf"],
	[["k", -1.5], "num_neg"],
	[["k", -0], "num_negzero"],
	[["k", 0], "num_zero"],
	[["k", 1e21], "num_big"],
	[["k", Infinity], "num_inf"],
	[["k", NaN], "num_nan"],
	[["k", false], "false"],
	[["k", true], "true"],
];

if (import.meta.main) {
	const kv = await Deno.openKv(Deno.args[0]);
	const errs: string[] = [];
	const want = expected();
	const seen = new Set<string>();
	for await (const e of kv.list({ prefix: ["t"] })) {
		const name = e.key[1] as string;
		seen.add(name);
		if (!(name in want)) {
			errs.push(`unexpected key ["t","${name}"]`);
			continue;
		}
		errs.push(...strictEqual(want[name], e.value, name));
	}
	for (const name of Object.keys(want))
		if (!seen.has(name)) errs.push(`missing key ["t","${name}"]`);

	const listed = [];
	for await (const e of kv.list({ prefix: ["k"] })) listed.push(e);
	if (listed.length !== keys.length)
		errs.push(`["k"]: ${listed.length} keys listed, ${keys.length} expected`);
	for (const [i, [key, label]] of keys.entries()) {
		const got = await kv.get(key);
		if (got.versionstamp === null) errs.push(`${label}: key not found`);
		else if (got.value !== label) errs.push(`${label}: value ${fmt(got.value)}`);
		if (listed[i]) errs.push(...strictEqual(key, listed[i].key, `order[${i}] (${label})`));
	}
	kv.close();
	for (const e of errs) console.log(e);
	if (errs.length) Deno.exit(1);
	console.log("ok");
}
