// Differential test of kvfs's RegExp check against V8: a seeded corpus of
// hand-picked and random patterns and flags, each judged by `new RegExp`
// here and by tests/tools/regexp_verdicts (kv_value_from_json of
// {"$regexp":...}). Prints "ok N patterns" or every disagreement and
// exits 1.
//   deno run -A regexp-diff.ts TOOL [COUNT] [SEED]
const [tool, countArg, seedArg] = Deno.args;
const count = Number(countArg ?? 20000);
let seed = Number(seedArg ?? 1);
function rnd(n: number) {
	seed = (seed * 1103515245 + 12345) % 2147483648;
	return Math.floor((seed / 2147483648) * n);
}
const tokens = [
	"a", "b", "z", "A", "_", "$", "0", "1", "2", "7", "8", "9", "-", ",", ":", "=", "!", "<", ">",
	"&", "#", "~", "%", "@", "`", ";", ".", "/", "é", "😀", "\u{1d4d0}", "\ud83d", "\ude00", "\0",
	"(", ")", "[", "]", "{", "}", "|", "*", "+", "?", "^", "$", "\\", "[^", "[]", "[^]",
	"(?:", "(?=", "(?!", "(?<=", "(?<!", "(?<a>", "(?<b>", "(?<$1>", "(?<1>", "(?<>", "(?<\\u0061>",
	"(?<\\u{1d4d0}>", "(?<\ud835\udcd0>", "(?<a\u200c>", "(?<€>", "(?i:", "(?-i:", "(?m-s:", "(?i-:", "(?ii:",
	"(?-:", "(?i", "(?g:", "\\k<a>", "\\k<b>", "\\k<c>", "\\k", "\\k<", "\\k<a", "\\1", "\\2", "\\10",
	"\\01", "\\0", "\\8", "\\9", "\\b", "\\B", "\\d", "\\D", "\\s", "\\w", "\\W", "\\p{Lu}", "\\P{Lu}",
	"\\p{L}", "\\p{lu}", "\\p{sc=Latn}", "\\p{Script_Extensions=Greek}", "\\p{gc=Nd}", "\\p{gc=Latin}",
	"\\p{Foo}", "\\p{ASCII}", "\\p{Any}", "\\p{RGI_Emoji}", "\\P{RGI_Emoji}", "\\p{Basic_Emoji}", "\\p{}",
	"\\p{Lu", "\\p", "\\P", "\\q{ab|c}", "\\q{a}", "\\q{}", "\\q{a|}", "\\q", "&&", "--", "\\-", "\\&", "\\!",
	"\\/", "\\.", "\\]", "\\[", "\\{", "\\}", "\\|", "\\^", "\\$", "\\*", "\\(", "\\)", "\\cA", "\\cz",
	"\\c1", "\\c_", "\\c", "\\c*", "\\x41", "\\x4", "\\x", "\\u0041", "\\u004", "\\u", "\\u{41}",
	"\\u{110000}", "\\u{}", "\\ud83d\\ude00", "\\ud83d", "\\ude00", "\\f", "\\n", "\\t", "\\v", "\\e",
	"\\a", "\\z", "\\é", "{1}", "{1,}", "{1,2}", "{2,1}", "{,1}", "{1", "{a}", "{2147483648,2147483647}",
	"{99999999999}", "*?", "+?", "??", "{1}?",
];
const flagsList = ["", "u", "v", "i", "iu", "gv", "dgimsy", "iv", "mu"];
const hand: [string, string][] = [
	["(", ""], ["\\", ""], ["*", ""], ["\\p{Foo}", "u"], [")", ""], ["[", ""], ["]", "u"], ["{", "u"],
	["a{2,1}", ""], ["(?<a>x)(?<a>y)", ""], ["(?<a>x)|(?<a>y)", ""], ["[\\k](?<a>.)", ""],
	["[".repeat(100) + "]".repeat(100), "v"], ["(".repeat(1000) + ")".repeat(1000), ""],
];
const corpus: [string, string][] = [...hand];
for (const t of tokens)
	for (const f of flagsList) corpus.push([t, f]);
for (const t of tokens)
	for (const u of tokens) corpus.push([t + u, flagsList[rnd(flagsList.length)]]);
// random sequences, a third of them inside a class (mostly with v)
const inClass = ["a", "z", "-", "&&", "--", "[", "]", "[^", "\\q{ab|c}", "\\q{a}", "\\p{RGI_Emoji}", "\\d",
	"\\p{Lu}", "&", "!!", "!", "\\-", "\\&", "\\b", "(", "\\(", "|", "\\|", "😀", "\\u{1F600}", "^", "a-z"];
while (corpus.length < count) {
	let s = "";
	const n = 1 + rnd(10);
	const cls = rnd(3) == 0;
	for (let i = 0; i < n; i++) s += cls && rnd(3) ? inClass[rnd(inClass.length)] : tokens[rnd(tokens.length)];
	if (cls)
		s = "[" + s + "]";
	corpus.push([s, cls && rnd(4) ? "v" : flagsList[rnd(flagsList.length)]]);
}
const v8 = corpus.map(([s, f]) => {
	try {
		new RegExp(s, f);
		return true;
	} catch {
		return false;
	}
});
const input = corpus.map(([s, f]) => JSON.stringify({ $regexp: { source: s, flags: f } })).join("\n") + "\n";
const file = await Deno.makeTempFile();
await Deno.writeTextFile(file, input);
const res = await new Deno.Command("sh", { args: ["-c", '"$0" <"$1"', tool, file], stdout: "piped" }).output();
await Deno.remove(file);
const out = new TextDecoder().decode(res.stdout).split("\n");
let bad = 0;
for (let i = 0; i < corpus.length; i++) {
	const ours = out[i] === "ok";
	if (ours !== v8[i]) {
		if (bad++ < 50)
			console.log(`differ: ${JSON.stringify(corpus[i][0])} /${corpus[i][1]}: V8 ${v8[i] ? "accepts" : "refuses"}, kvfs: ${out[i]}`);
	}
}
if (bad) {
	console.log(`${bad} of ${corpus.length} differ`);
	Deno.exit(1);
}
console.log(`ok ${corpus.length} patterns, ${v8.filter((x) => x).length} valid`);
