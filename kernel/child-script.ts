import { fileURLToPath } from "node:url";

/**
 * Node arguments that run the sibling script `name` (without extension) of the module at `from`
 * the way the current process runs: from TypeScript sources (keeping --import/--loader flags such as
 * tsx) or from compiled JavaScript in dist/.
 */
export function scriptArgs(name: string, from: string): string[] {
  const file = fileURLToPath(new URL(`./${name}${from.endsWith(".ts") ? ".ts" : ".js"}`, from));
  const loaders: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    if ((a === "--import" || a === "--require" || a === "--loader") && argv[i + 1]) loaders.push(a, argv[++i] ?? "");
    else if (/^--(import|require|loader)=/.test(a)) loaders.push(a);
  }
  return [...loaders, file];
}
