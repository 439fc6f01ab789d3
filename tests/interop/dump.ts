// dump.ts - what `kvfs dump DATABASE [PATH]` prints, computed by Deno itself.
//
//   deno run --unstable-kv -A dump.ts DATABASE [PREFIX]
//
// PREFIX is a key in the $-tagged JSON form (e.g. '["v"]'). One line per
// entry, in key order: {"key":[...],"value":...,"versionstamp":"..."}.
// The $-tagged JSON is written here from the JavaScript values that
// kv.list() returns, independently of the C code. Deno's API does not
// expose expiry times, so "expires_at" is never written: use this only on
// databases without expiring entries.

const enc = new TextEncoder();

async function writeAll(bytes: Uint8Array) {
	while (bytes.length > 0) bytes = bytes.subarray(await Deno.stdout.write(bytes));
}

function base64(bytes: Uint8Array): string {
	let s = "";
	for (let i = 0; i < bytes.length; i += 0x8000)
		s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
	return btoa(s);
}

function fromBase64(text: string): Uint8Array {
	const s = atob(text);
	const out = new Uint8Array(s.length);
	for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
	return out;
}

// A number: a JSON number when JSON can carry it, else {"$number":...}.
function number(n: number): string {
	if (Object.is(n, -0)) return '{"$number":"-0"}';
	if (!Number.isFinite(n)) return `{"$number":"${String(n)}"}`;
	return String(n);
}

function viewBytes(v: ArrayBufferView): Uint8Array {
	return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function keyPart(p: Deno.KvKeyPart): string {
	if (p instanceof Uint8Array) return `{"$bytes":"${base64(p)}"}`;
	switch (typeof p) {
	case "string": return JSON.stringify(p);
	case "number": return number(p);
	case "bigint": return `{"$bigint":"${p.toString()}"}`;
	case "boolean": return p ? "true" : "false";
	}
	throw new Error(`unexpected key part ${String(p)}`);
}

export function keyJson(key: Deno.KvKey): string {
	return "[" + key.map(keyPart).join(",") + "]";
}

// A key from its $-tagged JSON (for the PREFIX argument).
export function keyFromJson(text: string): Deno.KvKey {
	return (JSON.parse(text) as unknown[]).map((p) => {
		if (typeof p === "string" || typeof p === "number" || typeof p === "boolean")
			return p;
		const o = p as Record<string, string>;
		if ("$bigint" in o) return BigInt(o.$bigint);
		if ("$bytes" in o) return fromBase64(o.$bytes);
		if ("$number" in o) return Number(o.$number);
		throw new Error(`bad key part ${JSON.stringify(p)}`);
	});
}

const typedArrays: [Function, string][] = [
	[Int8Array, "Int8Array"], [Uint8ClampedArray, "Uint8ClampedArray"],
	[Int16Array, "Int16Array"], [Uint16Array, "Uint16Array"],
	[Int32Array, "Int32Array"], [Uint32Array, "Uint32Array"],
	[Float32Array, "Float32Array"], [Float64Array, "Float64Array"],
	[BigInt64Array, "BigInt64Array"], [BigUint64Array, "BigUint64Array"],
];
// deno-lint-ignore no-explicit-any
const F16 = (globalThis as any).Float16Array;
if (F16) typedArrays.push([F16, "Float16Array"]);

const regexpFlags = "dgimsuvy";

// A stored value as $-tagged JSON. Object-like values are numbered in the
// order they are first met, depth first, as V8's serializer numbers them
// (a view's buffer takes the number just before the view); a value met
// again is {"$ref":K}.
export function valueJson(value: unknown): string {
	if (value instanceof Deno.KvU64) return `{"$u64":"${value.value.toString()}"}`;
	const ids = new Map<object, number>();
	let next = 0;

	function enc(v: unknown): string {
		switch (typeof v) {
		case "undefined": return '{"$undefined":true}';
		case "boolean": return v ? "true" : "false";
		case "number": return number(v);
		case "bigint": return `{"$bigint":"${v.toString()}"}`;
		case "string": return JSON.stringify(v);
		}
		if (v === null) return "null";
		const o = v as object;
		const seen = ids.get(o);
		if (seen !== undefined) return `{"$ref":${seen}}`;
		if (ArrayBuffer.isView(o)) {
			if (!ids.has(o.buffer)) ids.set(o.buffer, next++);
		}
		ids.set(o, next++);

		if (Array.isArray(o)) {
			let holes = false;
			for (let i = 0; i < o.length; i++) if (!(i in o)) holes = true;
			if (!holes) return "[" + o.map(enc).join(",") + "]";
			const items = Object.keys(o).map((k) => JSON.stringify(k) + ":" + enc((o as never)[k]));
			return `{"$sparse":{"length":${o.length},"items":{${items.join(",")}}}}`;
		}
		if (o instanceof Date) {
			const t = o.getTime();
			return `{"$date":${Number.isNaN(t) ? "null" : JSON.stringify(o.toISOString())}}`;
		}
		if (o instanceof RegExp) {
			const flags = [...regexpFlags].filter((f) => o.flags.includes(f)).join("");
			return `{"$regexp":{"source":${JSON.stringify(o.source)},"flags":"${flags}"}}`;
		}
		if (o instanceof Map) {
			const items = [...o].map(([k, x]) => "[" + enc(k) + "," + enc(x) + "]");
			return `{"$map":[${items.join(",")}]}`;
		}
		if (o instanceof Set)
			return `{"$set":[${[...o].map(enc).join(",")}]}`;
		if (o instanceof Uint8Array) return `{"$bytes":"${base64(o)}"}`;
		if (o instanceof DataView) return `{"$DataView":"${base64(viewBytes(o))}"}`;
		for (const [cls, name] of typedArrays)
			if (o instanceof cls)
				return `{"$${name}":"${base64(viewBytes(o as ArrayBufferView))}"}`;
		if (o instanceof ArrayBuffer)
			return `{"$ArrayBuffer":"${base64(new Uint8Array(o))}"}`;
		if (o instanceof Boolean || o instanceof Number || o instanceof String ||
		    o instanceof BigInt)
			return `{"$boxed":${enc(o.valueOf())}}`;
		if (o instanceof Error) {
			const parts = [`"name":${JSON.stringify(o.name)}`];
			if (Object.hasOwn(o, "message"))
				parts.push(`"message":${JSON.stringify(o.message)}`);
			if (typeof o.stack === "string")
				parts.push(`"stack":${JSON.stringify(o.stack)}`);
			if (Object.hasOwn(o, "cause"))
				parts.push(`"cause":${enc(o.cause)}`);
			return `{"$error":{${parts.join(",")}}}`;
		}
		const keys = Object.keys(o);
		const body = keys.map((k) => JSON.stringify(k) + ":" + enc((o as never)[k])).join(",");
		if (keys.length === 1 && keys[0].startsWith("$")) return `{"$object":{${body}}}`;
		return "{" + body + "}";
	}
	return enc(value);
}

if (import.meta.main) {
	const [path, prefixText] = Deno.args;
	if (!path) {
		console.error("usage: dump.ts DATABASE [PREFIX]");
		Deno.exit(2);
	}
	const kv = await Deno.openKv(path);
	const prefix = prefixText ? keyFromJson(prefixText) : [];
	const out: string[] = [];
	const line = (e: Deno.KvEntry<unknown>) =>
		`{"key":${keyJson(e.key)},"value":${valueJson(e.value)},"versionstamp":"${e.versionstamp}"}\n`;
	if (prefix.length > 0) {
		const self = await kv.get(prefix);
		if (self.versionstamp !== null) out.push(line(self as Deno.KvEntry<unknown>));
	}
	for await (const e of kv.list({ prefix }, { batchSize: 1000 })) {
		out.push(line(e));
		if (out.length >= 1000) {
			await writeAll(enc.encode(out.join("")));
			out.length = 0;
		}
	}
	await writeAll(enc.encode(out.join("")));
	kv.close();
}
