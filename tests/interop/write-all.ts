// write-all.ts - Deno writes every key type and every value type it can store.
//
//   deno run --unstable-kv -A write-all.ts DATABASE
//
// Keys ["k", part] hold one entry per kind of key part, ["m", ...] keys with
// several parts, ["v", name] one entry per kind of value. Nothing expires.

export const keyParts: Deno.KvKeyPart[] = [
	new Uint8Array([]), new Uint8Array([1, 2, 0, 7, 8]), new Uint8Array([255, 0]),
	new Uint8Array([0]), new Uint8Array(300).fill(0xab),
	"", "a\0b", "\0", "hello", "é", "ÿ", "€", "😀", "\uffff", "日本語",
	"\u0001\u001f\u007f", "tab\tnl\ncr\r", 'quote"back\\slash/', "a/b", ".x",
	"\u2028\u2029", "\ud800x", "42", "true",
	0n, 1n, -1n, 255n, 256n, -255n, -256n, -257n, 2n ** 63n - 1n, 2n ** 64n - 1n,
	2n ** 64n, -(2n ** 64n) + 1n, -(2n ** 64n), -(2n ** 64n) - 1n, 2n ** 100n,
	-(2n ** 100n), 2n ** 2000n, -(2n ** 2000n),
	0, -0, 1, -1, 1.5, -1.5, 0.1, 1 / 3, 5e-324, -5e-324, 1e-7, 1.5e-7, 1e21, 1e20,
	123456789.125, -1e300, 2 ** 31, -(2 ** 31), Number.MAX_SAFE_INTEGER, 2 ** 53 + 2,
	Number.MAX_VALUE, Infinity, -Infinity, NaN,
	false, true,
];

export const multiKeys: Deno.KvKey[] = [
	["m", "users", "alice"], ["m", "users", "bob"], ["m", "a", 1, true],
	["m", new Uint8Array([1]), 1n, -0, "x", false],
	["m", "users"],
];

function sparse(): unknown[] {
	const a = [1, , 3]; // eslint-disable-line no-sparse-arrays
	return a;
}

function errors() {
	const plain = new Error("boom");
	const range = new RangeError("r");
	delete (range as { stack?: string }).stack;
	const type = new TypeError("t", { cause: 42 });
	delete (type as { stack?: string }).stack;
	const noMessage = new Error();
	delete (noMessage as { stack?: string }).stack;
	const others = [new EvalError("e"), new ReferenceError("f"), new SyntaxError("s"),
		new URIError("u")];
	for (const e of others) delete (e as { stack?: string }).stack;
	return { plain, range, type, noMessage, others };
}

export function values(): [string, unknown][] {
	const shared = { x: 1 };
	const cyc: Record<string, unknown> = { name: "cyc" };
	cyc.self = cyc;
	const cycArr: unknown[] = [1];
	cycArr.push(cycArr);
	const u8 = new Uint8Array([1, 2, 3]);
	const e = errors();
	const mapCyc = new Map<unknown, unknown>();
	mapCyc.set("me", mapCyc);
	return [
		["null", null], ["undefined", undefined], ["true", true], ["false", false],
		["int0", 0], ["int1", 1], ["intneg", -1], ["int300", 300],
		["int32max", 2 ** 31 - 1], ["int32min", -(2 ** 31)], ["int2p31", 2 ** 31],
		["negzero", -0], ["half", 1.5], ["third", 1 / 3], ["tiny", 5e-324],
		["big", 1e21], ["nan", NaN], ["inf", Infinity], ["neginf", -Infinity],
		["maxsafe", Number.MAX_SAFE_INTEGER], ["maxvalue", Number.MAX_VALUE],
		["computed", 1.5 * 2],
		["bigint0", 0n], ["bigint1", 1n], ["bigintneg", -1n], ["bigint2p64", 2n ** 64n],
		["bigintneg2p100", -(2n ** 100n)], ["bigint2p1000", 2n ** 1000n],
		["str_empty", ""], ["str_ascii", "abc"], ["str_latin1", "é ÿ ü"],
		["str_twobyte", "€ and 日本語"], ["str_emoji", "😀 ok"],
		["str_sliced", "€abcdef".slice(1)], ["str_long", "a".repeat(300)],
		["str_ctl", "\0\u0001\b\f\n\r\t\u001f\u007f\"\\/"], ["str_lsep", "\u2028\u2029"],
		["str_lone", "a\ud800b"], ["str_nul", "\0"], ["str_num", "42"],
		["obj_empty", {}], ["obj", { a: 1, b: "two", c: [true, null] }],
		["obj_nested", { a: { b: { c: {} } } }], ["obj_intkeys", { 1: "x", a: 2, 0: "y" }],
		["obj_bigkey", { 4294967294: 1, 4294967295: 2 }],
		["obj_dollar", { $bigint: "5" }], ["obj_dollar2", { $x: 1, $y: 2 }],
		["obj_dollar_nested", { a: { $date: "nope" } }],
		["obj_kvu64", { n: new Deno.KvU64(5n) }],
		["arr_empty", []], ["arr", [1, "a", null, true]], ["arr_double", [1.5, 2]],
		["arr_nested", [[1], [[2]], []]], ["arr_sparse", sparse()],
		["arr_sparse_end", new Array(5)], ["arr_undef", [undefined, 1]],
		["date0", new Date(0)], ["date", new Date(1700000000123)],
		["date_old", new Date(-62198755200000)], ["date_far", new Date(8.64e15)],
		["regexp", /ab+c/gi], ["regexp_flags", /x/dgimsy], ["regexp_v", /a/v],
		["regexp_u", /\u{1F600}/u],
		["map_empty", new Map()], ["map", new Map<unknown, unknown>([["a", 1], [2, { b: 3n }], [null, [1]]])],
		["set_empty", new Set()], ["set", new Set<unknown>([1, "a", 2n, undefined])],
		["map_of_set", new Map([["a", new Set(["b"])]])],
		["u8_top", new Uint8Array([0, 1, 2, 255])], ["u8_empty", new Uint8Array(0)],
		["u8_nested", { b: new Uint8Array([1, 2, 3]) }],
		["u8_in_arr", [new Uint8Array([9]), new Uint8Array(0)]],
		["i8", new Int8Array([-1, 127])], ["u8c", new Uint8ClampedArray([0, 255])],
		["i16", new Int16Array([1, -1])], ["u16", new Uint16Array([65535])],
		["i32", new Int32Array([-5])], ["u32", new Uint32Array([4000000000])],
		["f32", new Float32Array([1.5, -0])], ["f64", new Float64Array([1.5, NaN])],
		["bi64", new BigInt64Array([-1n])], ["bu64", new BigUint64Array([2n ** 64n - 1n])],
		["ab", new Uint8Array([1, 2, 3]).buffer], ["ab_empty", new ArrayBuffer(0)],
		["dv", new DataView(new Uint8Array([7, 8]).buffer)],
		["kvu64", new Deno.KvU64(258n)], ["kvu64_max", new Deno.KvU64(2n ** 64n - 1n)],
		["kvu64_zero", new Deno.KvU64(0n)],
		["boxed_true", new Boolean(true)], ["boxed_false", new Boolean(false)],
		["boxed_num", new Number(1.5)], ["boxed_nan", new Number(NaN)],
		["boxed_str", new String("s")], ["boxed_bigint", Object(5n)],
		["error", e.plain], ["error_range", e.range], ["error_type_cause", e.type],
		["error_nomsg", e.noMessage], ["error_others", e.others],
		["ref_repeat", { p: shared, q: shared }], ["ref_cycle", cyc],
		["ref_arr_cycle", cycArr], ["ref_u8", { a: u8, b: u8 }],
		["ref_map_cycle", mapCyc],
		["ref_after_u8", { a: u8, s: shared, t: shared }],
	];
}

if (import.meta.main) {
	const kv = await Deno.openKv(Deno.args[0]);
	let i = 0;
	for (const p of keyParts) await kv.set(["k", p], i++);
	for (const k of multiKeys) await kv.set(k, k.length);
	for (const [name, v] of values()) await kv.set(["v", name], v);
	kv.close();
}
