import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { errorText } from "../../../kernel/errors.js";
import { planEgress } from "../../../firmware/egress/endpoints.js";
import { renderEgress } from "../../../firmware/egress/render.js";
import { stdio, type Io } from "../../output.js";

export interface EgressRenderOptions {
  config: string;
  out?: string;
  ssh?: boolean;
}

/**
 * `otgw egress render`: config → nftables script on stdout or --out (written atomically). Exit 1
 * with every problem on stderr, each naming its field; otgw-egress.service then loads the
 * fail-closed ruleset instead (docs/egress.md).
 */
export function egressRenderCommand(o: EgressRenderOptions, io: Io = stdio): number {
  let data: unknown;
  try {
    // YAML 1.2 parses JSON too; the full loader's schema is not applied (the file may be a template).
    data = parseYaml(readFileSync(o.config, "utf8"), { uniqueKeys: true });
  } catch (err) {
    io.err(`otgw egress: ${o.config}: cannot read the config: ${errorText(err)}`);
    return 1;
  }
  const res = planEgress(data);
  if (!res.ok) {
    io.err(`otgw egress: ${o.config}: ${res.problems.length} problem(s), no rules rendered:`);
    for (const p of res.problems) io.err(`  ${p}`);
    return 1;
  }
  for (const w of res.plan.warnings) io.err(`otgw egress: warning: ${w}`);
  const text = renderEgress(res.plan, { ssh: o.ssh === true, source: o.config });
  if (o.out === undefined) {
    process.stdout.write(text);
  } else {
    const tmp = `${o.out}.tmp`;
    writeFileSync(tmp, text, { mode: 0o644 });
    renameSync(tmp, o.out);
  }
  return 0;
}
