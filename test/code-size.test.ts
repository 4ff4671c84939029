import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * Keeps the source readable in one sitting (docs/development.md, "Code size"): no file under a
 * package's or service's `src/` over FILE_LIMIT lines, no function over FUNCTION_LIMIT lines. The
 * functions are found by the TypeScript compiler's parser, so what counts is real code (a function
 * in a comment or a string is none), each from its first token to its closing brace. Tests
 * (`*.test.ts`) are not checked: a test file is a list of cases.
 */

const FILE_LIMIT = 250;
const FUNCTION_LIMIT = 60;

/**
 * Declarative tables: one long list of entries read top to bottom, where splitting would scatter
 * what belongs together without adding a single decision. Each entry says why it is one.
 * An entry that no longer exceeds the limit fails the test, so the list cannot outlive its reason.
 */
const ALLOWED_FUNCTIONS: readonly { file: string; name: string; why: string }[] = [
  {
    file: "packages/db/src/schema.ts",
    name: "createTables",
    why: "the drizzle table definitions: one column per line, the schema as PostgreSQL holds it",
  },
  {
    file: "packages/contracts/src/config/config.ts",
    name: "configOf",
    why: "the parsed variables mapped onto Config, one field per line, no logic beyond defaults",
  },
  {
    file: "services/api/src/metrics.ts",
    name: "createMetrics",
    why: "the metric definitions: name, help and labels of each, one after the other",
  },
];

/** Whole files exempt by name: fixtures are recorded data (expected answers), not logic. */
const ALLOWED_FILES: readonly { pattern: RegExp; why: string }[] = [
  { pattern: /\.fixtures\.ts$/, why: "recorded examples, data only" },
];

const root = join(import.meta.dirname, "..");

/** The non-test `.ts` files under `packages/*\/src` and `services/*\/src`, relative to the root. */
function sourceFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return name === "node_modules" ? [] : walk(path);
      return name.endsWith(".ts") && !name.endsWith(".test.ts") && !name.endsWith(".d.ts") ? [path] : [];
    });
  return ["packages", "services"]
    .flatMap((group) => readdirSync(join(root, group)).map((name) => join(root, group, name, "src")))
    .filter((dir) => statSync(dir, { throwIfNoEntry: false })?.isDirectory())
    .flatMap(walk)
    .map((file) => relative(root, file))
    .sort();
}

interface Oversize {
  readonly kind: "file" | "function";
  readonly file: string;
  /** The function's name (`Class.method`, the variable an arrow is assigned to), or "" for a file. */
  readonly name: string;
  /** 1-based line the function starts on (its first token, after any comment), or 1 for a file. */
  readonly line: number;
  readonly lines: number;
}

type FunctionNode = ts.SignatureDeclaration & { readonly body?: ts.Node };

/** Functions with a body: declarations, methods, accessors, constructors, function expressions, arrows. */
function isFunctionWithBody(node: ts.Node): node is FunctionNode {
  return (
    (ts.isFunctionDeclaration(node) ||
      ts.isMethodDeclaration(node) ||
      ts.isConstructorDeclaration(node) ||
      ts.isGetAccessorDeclaration(node) ||
      ts.isSetAccessorDeclaration(node) ||
      ts.isFunctionExpression(node) ||
      ts.isArrowFunction(node)) &&
    node.body !== undefined
  );
}

/** A readable name: the declaration's own, the variable or property it is assigned to, else `<anonymous>`. */
function functionName(node: FunctionNode, source: ts.SourceFile): string {
  const text = (name: ts.Node | undefined) => (name ? name.getText(source) : undefined);
  const own = ts.isConstructorDeclaration(node) ? "constructor" : text(node.name);
  const parent = node.parent;
  const assignedTo =
    ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)
      ? text(parent.name)
      : undefined;
  const name = own ?? assignedTo ?? "<anonymous>";
  const owner = ts.isClassLike(parent) ? text(parent.name) : undefined;
  return owner ? `${owner}.${name}` : name;
}

/** Lines as an editor numbers them: a final newline does not start another line. */
function lineCount(text: string): number {
  return text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
}

/** Everything in one source text over the limits, allow-list not applied. */
function oversized(file: string, text: string): Oversize[] {
  const found: Oversize[] = [];
  const fileLines = lineCount(text);
  if (fileLines > FILE_LIMIT) found.push({ kind: "file", file, name: "", line: 1, lines: fileLines });
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const lineOf = (position: number) => source.getLineAndCharacterOfPosition(position).line + 1;
  const visit = (node: ts.Node): void => {
    if (isFunctionWithBody(node)) {
      const line = lineOf(node.getStart(source));
      const lines = lineOf(node.getEnd()) - line + 1;
      if (lines > FUNCTION_LIMIT) found.push({ kind: "function", file, name: functionName(node, source), line, lines });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const describeOversize = (o: Oversize) =>
  o.kind === "file"
    ? `${o.file}: ${o.lines} lines (file limit ${FILE_LIMIT})`
    : `${o.file}:${o.line} ${o.name}: ${o.lines} lines (function limit ${FUNCTION_LIMIT})`;

const isAllowed = (o: Oversize) =>
  ALLOWED_FILES.some((a) => a.pattern.test(o.file)) ||
  (o.kind === "function" && ALLOWED_FUNCTIONS.some((a) => a.file === o.file && a.name === o.name));

describe("code size", () => {
  const files = sourceFiles();
  const all = files.flatMap((file) => oversized(file, readFileSync(join(root, file), "utf8")));

  it("finds the sources: every package and service", () => {
    for (const dir of ["packages/contracts", "packages/db", "packages/broker", "services/api", "services/dispatcher"]) {
      expect(files.some((f) => f.startsWith(`${dir}/src/`))).toBe(true);
    }
  });

  it(`has no file over ${FILE_LIMIT} lines and no function over ${FUNCTION_LIMIT}, bar declarative tables`, () => {
    expect(all.filter((o) => !isAllowed(o)).map(describeOversize)).toEqual([]);
  });

  it("allows only what still needs it", () => {
    const unused = ALLOWED_FUNCTIONS.filter((a) => !all.some((o) => o.file === a.file && o.name === a.name));
    expect(unused.map((a) => `${a.file} ${a.name}: within the limit now, remove it from ALLOWED_FUNCTIONS`)).toEqual(
      [],
    );
  });
});

describe("the measure", () => {
  const body = (n: number) => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join("\n");

  it("counts a function from its first token to its closing brace, and names it as it is called", () => {
    const text = [
      "/** A comment above is not counted. */",
      `export function long(): void {\n${body(59)}\n}`, // 61 lines
      `function short(): void {\n${body(58)}\n}`, // 60 lines
      `const arrow = () => {\n${body(59)}\n};`,
      `class Box {\n  #handle(): void {\n${body(59)}\n  }\n  get size(): number {\n${body(1)}\n    return 1;\n  }\n}`,
      `run(function () {\n${body(59)}\n});`,
    ].join("\n");
    const functions = oversized("x.ts", text).filter((o) => o.kind === "function");
    expect(functions.map((o) => `${o.name} ${o.lines}`)).toEqual([
      "long 61",
      "arrow 61",
      "Box.#handle 61",
      "<anonymous> 61",
    ]);
  });

  it("counts a file's lines as an editor does", () => {
    const lines = (n: number) => `${Array.from({ length: n }, () => "export {};").join("\n")}\n`;
    expect(oversized("f.ts", lines(FILE_LIMIT))).toEqual([]);
    expect(oversized("f.ts", lines(FILE_LIMIT + 1))).toEqual([
      { kind: "file", file: "f.ts", name: "", line: 1, lines: FILE_LIMIT + 1 },
    ]);
  });
});
