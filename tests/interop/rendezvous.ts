// rendezvous.ts - start two processes' work at the same moment: each
// creates its READY file, then waits until the other's file exists.

export async function rendezvous(ready: string, wait: string): Promise<void> {
	await Deno.writeTextFile(ready, "");
	for (;;) {
		try {
			await Deno.stat(wait);
			return;
		} catch {
			await new Promise((r) => setTimeout(r, 5));
		}
	}
}
