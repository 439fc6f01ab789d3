// kvbench.ts - Deno KV doing the phases of bench/kvbench.c.
//
//   deno run --unstable-kv -A bench/kvbench.ts [--reps R] [--batches B] [--conc C] DATABASE N
//
// Same keys ["bench", i], same values {i, name: "user"+i, tags: ["a","b"]},
// Deno's defaults (WAL, synchronous=FULL: one durable commit per write).
// Prints one JSON line per phase, like kvbench.c with impl "deno".

const GET_MANY = 10;
const BATCH = 1000;
const IN_FLIGHT = 64;

function usage(): never {
  console.error(
    "usage: kvbench.ts [--reps R] [--batches B] [--conc C] DATABASE N",
  );
  Deno.exit(2);
}

function positive(s: string | undefined): number {
  const v = Number(s);
  if (!Number.isInteger(v) || v <= 0) usage();
  return v;
}

const args = [...Deno.args];
let reps = 20, batches = 0, conc = 0;
while (args.length && args[0].startsWith("--")) {
  const [opt, val] = args.splice(0, 2);
  if (opt === "--reps") reps = positive(val);
  else if (opt === "--batches") batches = positive(val);
  else if (opt === "--conc") conc = positive(val);
  else usage();
}
if (args.length !== 2) usage();
const path = args[0];
const n = positive(args[1]);
if (!batches) batches = Math.max(3, Math.floor(n / 200));
if (!conc) conc = 2 * n;

const value = (i: number) => ({ i, name: "user" + i, tags: ["a", "b"] });

function report(phase: string, count: number, seconds: number) {
  console.log(JSON.stringify({
    impl: "deno",
    phase,
    n: count,
    seconds: Number(seconds.toFixed(6)),
    ops_per_s: Number((seconds > 0 ? count / seconds : 0).toFixed(1)),
  }));
}

function fail(msg: string): never {
  console.error("kvbench.ts: " + msg);
  Deno.exit(1);
}

async function timed(phase: string, count: number, fn: () => Promise<void>) {
  const t0 = performance.now();
  await fn();
  report(phase, count, (performance.now() - t0) / 1000);
}

const kv = await Deno.openKv(path);

await timed("set", n, async () => {
  for (let i = 0; i < n; i++) await kv.set(["bench", i], value(i));
});

await timed("get", n * reps, async () => {
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < n; i++) {
      const e = await kv.get(["bench", i]);
      if (e.versionstamp === null) fail("get missed key " + i);
    }
  }
});

const manyCalls = Math.floor(n * reps / GET_MANY);
await timed("get_many", manyCalls, async () => {
  for (let c = 0; c < manyCalls; c++) {
    const keys = [];
    for (let j = 0; j < GET_MANY; j++) keys.push(["bench", (c * GET_MANY + j) % n]);
    const es = await kv.getMany(keys);
    for (const e of es) if (e.versionstamp === null) fail("get_many missed a key");
  }
});

let listed = 0;
await timed("list", n * reps, async () => {
  for (let r = 0; r < reps; r++) {
    for await (const _ of kv.list({ prefix: ["bench"] })) listed++;
  }
});
if (listed !== n * reps) fail(`list returned ${listed} entries, want ${n * reps}`);

await timed("check_set", n, async () => {
  for (let i = 0; i < n; i++) {
    const e = await kv.get(["bench", i]);
    const r = await kv.atomic().check(e).set(["bench", i], value(i)).commit();
    if (!r.ok) fail("check failed");
  }
});

await timed("sum", n, async () => {
  for (let i = 0; i < n; i++) {
    await kv.atomic().sum(["counter"], 1n).commit();
  }
});
const counter = (await kv.get<Deno.KvU64>(["counter"])).value;
if (counter?.value !== BigInt(n)) fail(`counter is ${counter}, want ${n}`);

await timed("atomic_1000", batches, async () => {
  for (let c = 0; c < batches; c++) {
    const a = kv.atomic();
    for (let j = 0; j < BATCH; j++) {
      const k = c * BATCH + j;
      a.set(["batch", k], value(k % n));
    }
    const r = await a.commit();
    if (!r.ok) fail("atomic commit failed");
  }
});

await timed("delete", n, async () => {
  for (let i = 0; i < n; i++) await kv.delete(["bench", i]);
});
for await (const _ of kv.list({ prefix: ["bench"] })) fail("keys left after delete");

await timed("set_64", conc, async () => {
  let next = 0;
  const worker = async () => {
    for (let k = next++; k < conc; k = next++) {
      await kv.set(["conc", k], value(k % n));
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
});

kv.close();
