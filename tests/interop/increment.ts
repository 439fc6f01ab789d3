// increment.ts - add 1 to the number at ["count"] N times, each time by an
// optimistic update (get, then commit with a check on what was read), as
// a Deno program sharing the key with other writers would.
//
//   deno run --unstable-kv -A increment.ts DATABASE N READY WAIT
//
// Creates READY once the database is open and starts when WAIT exists.
// Prints the number of commits that had to be tried again on stdout.

import { rendezvous } from "./rendezvous.ts";

const [path, n, ready, wait] = Deno.args;
const kv = await Deno.openKv(path);
await rendezvous(ready, wait);
let conflicts = 0;
for (let i = 0; i < Number(n); i++) {
	for (let locked = 0; ; ) {
		const e = await kv.get<number>(["count"]);
		try {
			const r = await kv.atomic().check(e).set(["count"], (e.value ?? 0) + 1).commit();
			if (r.ok) break;
		} catch (err) {
			// Deno's commit reads before it writes; when another process
			// committed in between, SQLite refuses the write at once and
			// Deno throws this instead of answering ok: false. Nothing was
			// applied, so trying again keeps the count exact.
			if (!String(err).includes("database is locked") || ++locked > 1000)
				throw err;
		}
		conflicts++;
	}
	// about the pace of the shell's side, so that the two overlap
	await new Promise((r) => setTimeout(r, 2 + Math.random() * 4));
}
kv.close();
console.log(conflicts);
