// The provider is the only place a backend is named: outside src/providers/, no code behaves differently by provider type.
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { PROVIDER_TYPES } from '../spec/schema.js';
import { SRC_DIR, locationOf, productionSources, walkNodes, type SourceFile } from './source-files.js';

const BACKENDS = new Set<string>(PROVIDER_TYPES);

/**
 * Whether the checker types an expression as one or more backend names and nothing else: `spec.provider.type`, a
 * `providerType` field, a variable holding either. Read from types, so an alias or a destructured field is caught too.
 */
function isBackendName(checker: ts.TypeChecker, expression: ts.Expression): boolean {
  const type = checker.getTypeAtLocation(expression);
  const members = type.isUnion() ? type.types : [type];
  return members.length > 0 && members.every((member) => member.isStringLiteral() && BACKENDS.has(member.value));
}

const COMPARISONS = new Set([ts.SyntaxKind.EqualsEqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsEqualsToken, ts.SyntaxKind.EqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsToken]);

/** Comparisons, switches and lookups keyed by a backend name: each is a branch on the backend. */
function backendBranches(checker: ts.TypeChecker, file: SourceFile): string[] {
  const found: string[] = [];
  walkNodes(file, (node) => {
    if (ts.isBinaryExpression(node) && COMPARISONS.has(node.operatorToken.kind) && (isBackendName(checker, node.left) || isBackendName(checker, node.right))) {
      found.push(`${locationOf(file, node)} compares ${node.getText(file.ast)}`);
    } else if (ts.isSwitchStatement(node) && isBackendName(checker, node.expression)) {
      found.push(`${locationOf(file, node)} switches on ${node.expression.getText(file.ast)}`);
    } else if (ts.isElementAccessExpression(node) && isBackendName(checker, node.argumentExpression)) {
      found.push(`${locationOf(file, node)} looks up ${node.getText(file.ast)}`);
    }
  });
  return found;
}

describe('the provider seam', () => {
  const sources = productionSources();
  const program = ts.createProgram(
    sources.map((file) => `${SRC_DIR}/${file.relative}`),
    { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, strict: true, skipLibCheck: true, noEmit: true, types: ['node'] },
  );
  const checker = program.getTypeChecker();
  const typed = (file: SourceFile): SourceFile => ({ relative: file.relative, ast: program.getSourceFile(`${SRC_DIR}/${file.relative}`) as ts.SourceFile });

  it('finds a branch where there is one (the check itself works)', () => {
    const factory = sources.find((file) => file.relative === 'providers/backend-of.ts');
    expect(factory).toBeDefined();
    expect(backendBranches(checker, typed(factory as SourceFile)).length).toBeGreaterThan(0);
  });

  it('has no branch on a provider type outside src/providers/', () => {
    const outside = sources.filter((file) => !file.relative.startsWith('providers/'));
    expect(outside.flatMap((file) => backendBranches(checker, typed(file)))).toEqual([]);
  }, 60_000);
});
