// counter.ts - add 1 to the KvU64 at ["counter"] N times, one atomic sum per
// commit, printing each commit's versionstamp (the Deno side of counter.c).
//
//   deno run --unstable-kv -A counter.ts DATABASE N [READY WAIT]
//
// With READY and WAIT: create READY once the database is open, start only
// when WAIT exists, so that both processes commit at the same time.

import { rendezvous } from "./rendezvous.ts";

const [path, n, ready, wait] = Deno.args;
const kv = await Deno.openKv(path);
if (ready)
	await rendezvous(ready, wait);
const stamps: string[] = [];
for (let i = 0; i < Number(n); i++) {
	for (let tries = 0; ; tries++) {
		try {
			const r = await kv.atomic().sum(["counter"], 1n).commit();
			if (!r.ok) throw new Error("commit not ok");
			stamps.push(r.versionstamp);
			break;
		} catch (e) {
			// "database is locked": the other process held the lock for 5 s;
			// nothing was applied, so trying again keeps the count exact.
			if (tries < 100 && String(e).includes("database is locked")) {
				console.error(`counter.ts: commit ${i}: busy, retrying`);
				continue;
			}
			throw e;
		}
	}
}
kv.close();
let out = new TextEncoder().encode(stamps.join("\n") + "\n");
while (out.length > 0) out = out.subarray(await Deno.stdout.write(out));
