// The project's own TypeScript sources, parsed once, for the checks that read the code's shape (layers, the provider seam).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export const SRC_DIR = path.resolve(import.meta.dirname, '..');

export interface SourceFile {
  /** Path from src/, with forward slashes: `fleet/fleet.ts`. */
  relative: string;
  ast: ts.SourceFile;
}

/** Every non-test .ts file under src/. */
export function productionSources(): SourceFile[] {
  const files: SourceFile[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts')) {
        const relative = path.relative(SRC_DIR, full).split(path.sep).join('/');
        files.push({ relative, ast: ts.createSourceFile(full, readFileSync(full, 'utf8'), ts.ScriptTarget.ES2022, true) });
      }
    }
  };
  walk(SRC_DIR);
  return files;
}

/** Where a node sits in its file, as `file:line`. */
export function locationOf(file: SourceFile, node: ts.Node): string {
  return `${file.relative}:${file.ast.getLineAndCharacterOfPosition(node.getStart(file.ast)).line + 1}`;
}

/** Calls `visit` on every node of the file. */
export function walkNodes(file: SourceFile, visit: (node: ts.Node) => void): void {
  const step = (node: ts.Node): void => {
    visit(node);
    ts.forEachChild(node, step);
  };
  step(file.ast);
}
