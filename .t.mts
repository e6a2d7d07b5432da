import { z } from "/work/main/node_modules/zod/index.js";
import { parseDocument, LineCounter } from "/work/main/node_modules/yaml/dist/index.js";
const num = () => z.number({ error: (issue) => issue.code === 'invalid_type' ? `expected a number, not ${typeof issue.input === 'string' ? JSON.stringify(issue.input) : String(issue.input)}` : undefined });
const s = z.strictObject({ a: num().int().min(0), b: num().min(1).default(3) });
for (const v of [{a: 'x'}, {a: -1}, {a: 1.5}, {a: NaN}, {b: 0}, {a: 1, c: 1, d: 2}]) console.log(JSON.stringify(s.safeParse(v).error?.issues.map(i => [i.path, i.message, i.code])));
for (const src of ['name: ok\nhead: { cpus: 1\n', 'a: 1\na: 2\n', 'a: [1\n', 'a:\n  - b\n c: 1\n', '---\na: 1\n---\nb: 2\n', 'a: "x\n', '\tx: 1']) {
  const lc = new LineCounter();
  const d = parseDocument(src, { lineCounter: lc, prettyErrors: false });
  console.log(JSON.stringify(src), d.errors.map(e => [e.code, e.message, e.pos, e.linePos, lc.linePos(e.pos[0])]));
}
