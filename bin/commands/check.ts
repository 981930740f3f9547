import { loadConfig } from "../../firmware/config/load.js";
import { errorText } from "../../firmware/core/errors.js";
import { runChecks } from "../../provisioning/attest/checks.js";

/** `otgw check`: one line per check, OK / WARN / FAIL with what to do; exit 1 on any FAIL. */
export async function checkCommand(configFile: string): Promise<number> {
  let config;
  try {
    config = loadConfig(configFile).config;
  } catch (err) {
    console.log(`FAIL  config          ${errorText(err)}`);
    return 1;
  }
  console.log(`OK    config          ${configFile} (gateway ${config.gateway.id}, ${config.gateway.mode})`);
  const lines = await runChecks(config);
  for (const l of lines) console.log(`${l.status.padEnd(5)} ${l.name.padEnd(15)} ${l.detail}`);
  const failed = lines.filter((l) => l.status === "FAIL").length;
  console.log(failed === 0 ? "all checks passed" : `${failed} check(s) failed`);
  return failed === 0 ? 0 : 1;
}
