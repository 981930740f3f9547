import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { RuntimeError } from "./errors.js";

let cached: string | null = null;

/** The project's root directory (where package.json names "otgw"), from source or from dist/. */
export function repoRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "otgw") return (cached = dir);
    const up = dirname(dir);
    if (up === dir) throw new RuntimeError("PROJECT_ROOT_MISSING", "cannot find the otgw project root (package.json)");
    dir = up;
  }
}
