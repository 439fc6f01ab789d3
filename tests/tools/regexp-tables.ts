// Print the tables at the end of engine/regexp.c as this Deno's V8 has
// them, to compare with (or replace) the ones there:
//   deno run -A tests/tools/regexp-tables.ts engine/regexp.c [NAME...]
// Names are those of the file's tables plus any NAME given (a new script,
// say), each kept in every table whose form V8 accepts it in.
const [file, ...extra] = Deno.args;
const text = Deno.readTextFileSync(file);
const words = (name: string) => {
	const m = text.match(new RegExp(`${name}\\[\\] = \\{([^}]*)\\}`));
	return m ? [...m[1].matchAll(/"([^"]+)"/g)].map((x) => x[1]) : [];
};
const names = [...new Set(["gc_values", "binary_props", "script_values", "string_props"].flatMap(words).concat(extra))];
const ok = (s: string, f: string) => {
	try {
		new RegExp(s, f);
		return true;
	} catch {
		return false;
	}
};
const sorted = (a: string[]) => [...new Set(a)].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
const gc = sorted(names.filter((n) => ok(`\\p{gc=${n}}`, "u")));
const sc = sorted(names.filter((n) => ok(`\\p{sc=${n}}`, "u")));
const bin = sorted(names.filter((n) => ok(`\\p{${n}}`, "u") && !gc.includes(n)));
const str = sorted(names.filter((n) => ok(`\\p{${n}}`, "v") && !ok(`\\p{${n}}`, "u")));
function wordTable(name: string, a: string[]) {
	let out = `static const char *const ${name}[] = {\n`, line = "\t";
	for (const w of a) {
		const t = `"${w}", `;
		if (line.length + t.length > 88) {
			out += line.trimEnd() + "\n";
			line = "\t";
		}
		line += t;
	}
	return out + line.trimEnd() + "\n};\n";
}
// the characters V8 takes in a group name, past ASCII
const start: [number, number][] = [], part: [number, number][] = [];
const add = (o: [number, number][], c: number) => {
	if (o.length && o[o.length - 1][1] == c - 1) o[o.length - 1][1] = c;
	else o.push([c, c]);
};
for (let c = 0x80; c <= 0x10ffff; c++) {
	const s = String.fromCodePoint(c);
	if (ok(`(?<${s}>)`, "")) add(start, c);
	if (ok(`(?<a${s}>)`, "")) add(part, c);
}
function rangeTable(name: string, a: [number, number][]) {
	let out = `static const uint32_t ${name}[][2] = {\n`, line = "\t";
	for (const [x, y] of a) {
		const t = `{0x${x.toString(16).toUpperCase()},0x${y.toString(16).toUpperCase()}},`;
		if (line.length + t.length > 88) {
			out += line + "\n";
			line = "\t";
		}
		line += t;
	}
	return out + line + "\n};\n";
}
console.log([wordTable("gc_values", gc), wordTable("binary_props", bin), wordTable("script_values", sc),
	wordTable("string_props", str), rangeTable("id_start", start), rangeTable("id_part", part)].join("\n"));
