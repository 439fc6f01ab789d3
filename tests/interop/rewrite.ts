// rewrite.ts - set one key again and again for MS milliseconds, each value
// of another length, while the mount reads it.
//
//   deno run --unstable-kv -A rewrite.ts DATABASE MS
//
// Prints the number of writes. A commit refused with "database is locked"
// (another process committed between its read and its write) is skipped.

const [path, ms] = Deno.args;
const kv = await Deno.openKv(path);
const end = Date.now() + Number(ms);
let n = 0;
while (Date.now() < end) {
	try {
		await kv.set(["k"], { n, pad: "x".repeat((n * 37) % 300) });
	} catch (err) {
		if (!String(err).includes("database is locked"))
			throw err;
	}
	n++;
}
kv.close();
console.log(n);
