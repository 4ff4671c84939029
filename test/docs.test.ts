import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The Markdown files hold together: every relative link points at a file that exists and, with a
 * `#fragment`, at a heading of that file; the README stays a front door. (The examples of docs/api.md
 * are executed by scripts/docs-curl-check.mjs; the variables table is checked by deploy.test.ts.)
 */

const root = join(import.meta.dirname, "..");
const SKIPPED_DIRECTORIES = new Set(["node_modules", "dist", ".git"]);
/** What would point a reader outside the repository: the original's spec and conventions, the shared folder. */
const OUTSIDE = /\bSPEC\b|DESIGN\.md|\/work\/shared|\.\.\/shared\//;

function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return SKIPPED_DIRECTORIES.has(name) ? [] : markdownFiles(path);
    return name.endsWith(".md") ? [path] : [];
  });
}

/** The text outside fenced code blocks and inline code, where Markdown links live. */
function prose(markdown: string): string {
  return markdown.replace(/^ *```[\s\S]*?^ *```/gm, "").replace(/`[^`\n]*`/g, "");
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  const headings = markdown.replace(/^ *```[\s\S]*?^ *```/gm, "").matchAll(/^#{1,6} +(.+?) *#* *$/gm);
  for (const [, heading = ""] of headings) {
    const text = heading.replace(/\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/<[^>]+>/g, "");
    const slug = text
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
      .replaceAll(" ", "-");
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    result.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return result;
}

interface Link {
  readonly file: string;
  readonly target: string;
}

function relativeLinks(file: string): Link[] {
  const links = [...prose(readFileSync(file, "utf8")).matchAll(/\]\(([^)\s]+)(?: "[^"]*")?\)/g)];
  return links
    .map((m) => m[1] ?? "")
    .filter((target) => !/^[a-z][a-z+.-]*:/i.test(target))
    .map((target) => ({ file, target }));
}

/** Why a link does not resolve, or undefined when it does. */
function brokenBecause({ file, target }: Link): string | undefined {
  const [path = "", fragment] = target.split("#");
  const resolved = path === "" ? file : join(dirname(file), decodeURIComponent(path));
  if (!existsSync(resolved)) return "no such file";
  if (fragment === undefined) return undefined;
  if (!resolved.endsWith(".md")) return "a #fragment on a file that is not Markdown";
  return anchors(readFileSync(resolved, "utf8")).has(fragment) ? undefined : "no such heading";
}

const files = markdownFiles(root);
const name = (file: string) => relative(root, file);

describe("the documentation", () => {
  it("is found: the README and every page of docs/", () => {
    const names = files.map(name);
    expect(names).toContain("README.md");
    expect(names.filter((n) => n.startsWith("docs/")).length).toBeGreaterThanOrEqual(9);
  });

  it("links only to files and headings that exist", () => {
    const links = files.flatMap(relativeLinks);
    expect(links.length).toBeGreaterThan(20);
    const broken = links.flatMap((link) => {
      const why = brokenBecause(link);
      return why ? [`${name(link.file)}: (${link.target}) ${why}`] : [];
    });
    expect(broken).toEqual([]);
  });

  it("links the README to every page of docs/", () => {
    const linked = new Set(relativeLinks(join(root, "README.md")).map((l) => l.target.split("#")[0]));
    const pages = files.map(name).filter((n) => n.startsWith("docs/"));
    expect(pages.filter((page) => !linked.has(page))).toEqual([]);
  });

  it("keeps the README a front door of at most 150 lines", () => {
    expect(readFileSync(join(root, "README.md"), "utf8").split("\n").length).toBeLessThanOrEqual(150);
  });

  it("cites nothing outside the repository", () => {
    const citing = files.filter((file) => OUTSIDE.test(readFileSync(file, "utf8"))).map(name);
    expect(citing).toEqual([]);
  });
});

/** Source files whose comments may cite the docs. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return SKIPPED_DIRECTORIES.has(entry) ? [] : sourceFiles(path);
    return /\.(ts|mjs|js|sql|sh)$/.test(entry) && !entry.endsWith(".d.ts") ? [path] : [];
  });
}

/** The headings of a page as written, without inline-code marks, lower case. */
function headingTexts(markdown: string): Set<string> {
  const headings = markdown.replace(/^ *```[\s\S]*?^ *```/gm, "").matchAll(/^#{1,6} +(.+?) *#* *$/gm);
  return new Set([...headings].map(([, text = ""]) => text.replaceAll("`", "").trim().toLowerCase()));
}

/** A heading of the page that is `cited`, or `cited` followed by a colon ("Limits" names "Limits: `POST /limit/{channel}`…"). */
function hasHeading(markdown: string, cited: string): boolean {
  const wanted = cited.replaceAll("`", "").trim().toLowerCase();
  return [...headingTexts(markdown)].some((text) => text === wanted || text.startsWith(`${wanted}:`));
}

describe("code comments", () => {
  it("cite nothing outside the repository", () => {
    const roots = ["packages", "services", "scripts", "test", ".ci"].map((d) => join(root, d)).filter(existsSync);
    const citing = roots
      .flatMap(sourceFiles)
      .filter((f) => f !== import.meta.filename && OUTSIDE.test(readFileSync(f, "utf8")))
      .map(name);
    expect(citing).toEqual([]);
  });

  it('cite docs pages and headings that exist: (docs/page.md, "Heading")', () => {
    const broken: string[] = [];
    const roots = ["packages", "services", "scripts", "test", ".ci"].map((d) => join(root, d)).filter(existsSync);
    for (const file of roots.flatMap(sourceFiles).filter((f) => f !== import.meta.filename)) {
      // A citation may run over comment lines: join them first.
      const text = readFileSync(file, "utf8").replace(/\n\s*(?:\*|\/\/|--|#)\s*/g, " ");
      for (const m of text.matchAll(/\bdocs\/([\w-]+\.md)(?:,\s*"([^"]+)")?/g)) {
        const [, page = "", heading] = m;
        const path = join(root, "docs", page);
        if (!existsSync(path)) broken.push(`${name(file)}: docs/${page} does not exist`);
        else if (heading !== undefined && !hasHeading(readFileSync(path, "utf8"), heading)) {
          broken.push(`${name(file)}: docs/${page} has no heading "${heading}"`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});

describe("the anchor rule", () => {
  it("follows GitHub's: punctuation dropped, spaces as hyphens, repeats numbered", () => {
    const headings = "# The guarantee: at least once\n## `GET /otp/{id}` and /target\n## Logs\n## Logs\n";
    expect([...anchors(headings)]).toEqual(["the-guarantee-at-least-once", "get-otpid-and-target", "logs", "logs-1"]);
  });
});
