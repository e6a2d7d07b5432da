// Data flows down: a layer imports only from layers below it (ARCHITECTURE.md), read from each file's imports.
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { locationOf, productionSources, walkNodes, type SourceFile } from './source-files.js';

/**
 * Each top-level folder (or root file) of src/ and its height. A file may import its own folder and any lower
 * height; two folders of one height are independent of each other.
 */
const LAYER_HEIGHT: Record<string, number> = {
  index: 12,
  cli: 11,
  server: 10,
  simulate: 9,
  fleet: 8,
  watcher: 7,
  providers: 6,
  ray: 5,
  spec: 4,
  journal: 3,
  lock: 3,
  process: 2,
  fault: 1,
  fs: 1,
  log: 1,
  net: 1,
  time: 1,
  wait: 1,
  errors: 0,
  environment: 0,
  'package-version': 1,
  'package-files': 0,
};

function layerOf(relative: string): string {
  return relative.includes('/') ? (relative.split('/')[0] as string) : relative.replace(/\.ts$/, '');
}

/** The project files a source imports (static, re-exports and dynamic), as paths from src/. */
function importsOf(file: SourceFile): { target: string; node: ts.Node }[] {
  const found: { target: string; node: ts.Node }[] = [];
  walkNodes(file, (node) => {
    let specifier: ts.Expression | undefined;
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier !== undefined) specifier = node.moduleSpecifier;
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) specifier = node.arguments[0];
    if (specifier === undefined || !ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) return;
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file.relative), specifier.text)).replace(/\.js$/, '.ts');
    found.push({ target, node });
  });
  return found;
}

describe('layers', () => {
  const sources = productionSources().filter((file) => layerOf(file.relative) !== 'architecture');

  it('gives every folder of src/ a height', () => {
    expect([...new Set(sources.map((file) => layerOf(file.relative)))].filter((layer) => LAYER_HEIGHT[layer] === undefined)).toEqual([]);
  });

  it('has no import that runs up a layer or across to a folder of the same height', () => {
    const upward: string[] = [];
    for (const file of sources) {
      const from = layerOf(file.relative);
      for (const { target, node } of importsOf(file)) {
        const to = layerOf(target);
        if (to === from) continue;
        if ((LAYER_HEIGHT[to] ?? Infinity) >= (LAYER_HEIGHT[from] ?? -Infinity)) upward.push(`${locationOf(file, node)} imports ${target}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it("has the CLI take nothing from providers/ but the naming rule and the interface's types, outside a backend's own commands", () => {
    const allowed = new Set(['providers/node-names.ts', 'providers/node-provider.ts']);
    const reaching: string[] = [];
    for (const file of sources.filter((source) => layerOf(source.relative) === 'cli' && source.relative !== 'cli/commands/cai-commands.ts')) {
      for (const { target, node } of importsOf(file)) {
        if (layerOf(target) === 'providers' && !allowed.has(target)) reaching.push(`${locationOf(file, node)} imports ${target}`);
      }
    }
    expect(reaching).toEqual([]);
  });
});
