// compat.ts - small Deno steps for 40-file.bats.
//
//   deno run --unstable-kv -A compat.ts read-write DATABASE
//       read what 40-file.bats loaded with kvfs, write ["deno"], read it back
//   deno run --unstable-kv -A compat.ts enqueue DATABASE
//       set ["made-by","deno"] and enqueue a message due in an hour
//   deno run --unstable-kv -A compat.ts check-after-load DATABASE
//       read ["made-by","deno"] and the ["x", n] keys kvfs loaded
// Each prints "ok" or what went wrong (exit 1).

const [step, path] = Deno.args;
const kv = await Deno.openKv(path);
const errs: string[] = [];
const expect = (what: string, got: unknown, want: unknown) => {
	const g = JSON.stringify(got, (_k, v) => typeof v === "bigint" ? `${v}n` : v);
	const w = JSON.stringify(want, (_k, v) => typeof v === "bigint" ? `${v}n` : v);
	if (g !== w) errs.push(`${what}: got ${g}, want ${w}`);
};

if (step === "read-write") {
	expect("a", (await kv.get(["a"])).value, { n: 1, s: "é" });
	const b = (await kv.get(["b", 2])).value;
	expect("b is a KvU64", b instanceof Deno.KvU64, true);
	expect("b", (b as Deno.KvU64).value, 7n);
	const r = await kv.set(["deno"], { from: "deno", n: 5n });
	expect("set ok", r.ok, true);
	const got = await kv.get(["deno"]);
	expect("deno", got.value, { from: "deno", n: 5n });
	expect("versionstamp", got.versionstamp, r.versionstamp);
	const sum = await kv.atomic().sum(["b", 2], 1n).commit();
	expect("sum ok", sum.ok, true);
	expect("b after sum", ((await kv.get(["b", 2])).value as Deno.KvU64).value, 8n);
	await kv.atomic().sum(["b", 2], 2n ** 64n - 1n).commit(); // back to 7
	const keys = [];
	for await (const e of kv.list({ prefix: [] })) keys.push(e.key);
	expect("keys", keys, [["a"], ["b", 2], ["deno"]]);
} else if (step === "enqueue") {
	await kv.set(["made-by", "deno"], [1, 2, 3]);
	const r = await kv.enqueue({ msg: "hello", n: 1n }, {
		delay: 3600_000,
		keysIfUndelivered: [["undelivered", 1]],
		backoffSchedule: [1000, 2000],
	});
	expect("enqueue ok", r.ok, true);
} else if (step === "check-after-load") {
	expect("made-by", (await kv.get(["made-by", "deno"])).value, [1, 2, 3]);
	for (const n of [1, 2, 3]) expect(`x ${n}`, (await kv.get(["x", n])).value, `v${n}`);
} else {
	errs.push(`unknown step ${step}`);
}
kv.close();
for (const e of errs) console.log(e);
if (errs.length) Deno.exit(1);
console.log("ok");
