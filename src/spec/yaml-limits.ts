// Reading YAML that may be hostile: bounds on size, nesting, collection length and alias expansion, checked before the costly steps.
import { CST, Lexer, Parser } from 'yaml';

/**
 * A spec is a few kilobytes, nested four levels, with a handful of entries per mapping. These bounds are far past
 * that, and low enough that no input within them keeps the loader busy for long: the `yaml` package's parse time
 * grows faster than linearly with nesting depth and, through its duplicate-key check, with the entries of one mapping.
 */
export const YAML_LIMITS = {
  /** Bytes of the file. */
  maxBytes: 256 * 1024,
  /** Mappings and lists inside one another. */
  maxDepth: 32,
  /** Entries of one mapping or list. */
  maxEntries: 256,
  /** The `yaml` package's guard against alias bombs ("billion laughs"): expansions of aliases it allows in all. */
  maxAliasCount: 100,
} as const;

/** What is wrong, and where in the text (a character offset). */
export interface LimitProblem {
  offset: number;
  message: string;
}

/** Lexer tokens that stand for no source text. */
const CONTROL_TOKENS = new Set([CST.BOM, CST.DOCUMENT, CST.FLOW_END, CST.SCALAR]);

/** The first bound the text breaks, or undefined; `[` and `{` nesting is checked on the raw tokens, before the parser, which is slowest on exactly that. */
export function checkYamlLimits(text: string): LimitProblem | undefined {
  const bytes = Buffer.byteLength(text);
  if (bytes > YAML_LIMITS.maxBytes) return { offset: 0, message: `the file is ${bytes} bytes; a spec may be at most ${YAML_LIMITS.maxBytes}` };
  return flowDepthProblem(text) ?? shapeProblem(text);
}

function flowDepthProblem(text: string): LimitProblem | undefined {
  let offset = 0;
  let depth = 0;
  for (const token of new Lexer().lex(text)) {
    if (token === '[' || token === '{') depth += 1;
    else if (token === ']' || token === '}') depth = Math.max(0, depth - 1);
    if (depth > YAML_LIMITS.maxDepth) return tooDeep(offset);
    if (!CONTROL_TOKENS.has(token)) offset += token.length;
  }
  return undefined;
}

/** Walks the syntax tree (iteratively: its depth is what is being checked) for collections nested too deep or too long. */
function shapeProblem(text: string): LimitProblem | undefined {
  const pending: Array<{ token: CST.Token; depth: number }> = [];
  for (const token of new Parser().parse(text)) pending.push({ token, depth: 0 });
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { token, depth } = next;
    if (token.type === 'document') {
      if (token.value !== undefined) pending.push({ token: token.value, depth });
      continue;
    }
    if (!CST.isCollection(token)) continue;
    if (depth + 1 > YAML_LIMITS.maxDepth) return tooDeep(token.offset);
    if (token.items.length > YAML_LIMITS.maxEntries) {
      return { offset: token.offset, message: `a mapping or list of ${token.items.length} entries; a spec's may hold at most ${YAML_LIMITS.maxEntries}` };
    }
    for (const item of token.items) {
      if (item.key !== undefined && item.key !== null) pending.push({ token: item.key, depth: depth + 1 });
      if (item.value !== undefined) pending.push({ token: item.value, depth: depth + 1 });
    }
  }
  return undefined;
}

function tooDeep(offset: number): LimitProblem {
  return { offset, message: `mappings and lists nested more than ${YAML_LIMITS.maxDepth} deep` };
}
