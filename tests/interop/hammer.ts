// hammer.ts - write and delete keys under ["other"] as fast as Deno can,
// for MS milliseconds, while something else uses the same file.
//
//   deno run --unstable-kv -A hammer.ts DATABASE MS
//
// Prints the number of writes. A commit refused with "database is locked"
// (another process committed between its read and its write) is skipped.

const [path, ms] = Deno.args;
const kv = await Deno.openKv(path);
const end = Date.now() + Number(ms);
let n = 0;
while (Date.now() < end) {
	try {
		await kv.set(["other", n % 50], { n });
		if (n % 7 == 0)
			await kv.delete(["other", (n * 3) % 50]);
	} catch (err) {
		if (!String(err).includes("database is locked"))
			throw err;
	}
	n++;
}
kv.close();
console.log(n);
