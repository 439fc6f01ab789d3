// read_sized.js PATH SECONDS
//
// Read PATH with Node's fs.readFileSync again and again for SECONDS. Without
// an encoding it reads as many bytes as fstat gives, so it sees a value cut
// when the size it was told is not that of the text it reads. Prints the
// number of reads and of reads that were not one whole JSON document;
// exits 1 when any was not, or nothing was read.
const fs = require("fs");
const [path, seconds] = process.argv.slice(2);
const end = Date.now() + Number(seconds) * 1000;
let reads = 0, broken = 0, first = null;
while (Date.now() < end) {
	let data;
	try {
		data = fs.readFileSync(path);
	} catch (err) {
		if (err.code === "ENOENT")
			continue;
		throw err;
	}
	reads++;
	try {
		JSON.parse(data.toString());
	} catch {
		broken++;
		if (first === null)
			first = data.toString().slice(0, 200);
	}
}
console.log(`reads ${reads} broken ${broken}`);
if (first !== null)
	console.error(`first broken read: ${JSON.stringify(first)}`);
process.exit(broken || !reads ? 1 : 0);
