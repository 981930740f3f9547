/** The list of `otgw`'s command groups, apart from otgw.ts so that tests can build the whole CLI in-process. */
import type { GroupEntry } from "./registry.js";

/**
 * Every group, tagged with where it runs. Gateway groups (shipped on the gateway image): run, service,
 * check, config, provision, identity, trust, audit, egress, update, and model verify/install/list. Fleet: ca and
 * model keygen/train/sign (the model registry's side). Receiver: ingest, receiver. Dev: demo, dev up. `needs`
 * names the folders outside the gateway's that a group's commands load (bin/registry.ts).
 */
export const GROUPS: readonly GroupEntry[] = [
  { name: "run", deployable: "gateway", module: "./groups/gateway/run.js" },
  { name: "service", deployable: "gateway", module: "./groups/gateway/service.js" },
  { name: "check", deployable: "gateway", module: "./groups/gateway/check.js" },
  { name: "config", deployable: "gateway", module: "./groups/gateway/config.js" },
  { name: "provision", deployable: "gateway", module: "./groups/gateway/provision.js" },
  { name: "identity", deployable: "gateway", module: "./groups/gateway/identity.js" },
  { name: "trust", deployable: "gateway", module: "./groups/gateway/trust.js" },
  { name: "audit", deployable: "gateway", module: "./groups/gateway/audit.js" },
  { name: "egress", deployable: "gateway", module: "./groups/gateway/egress.js" },
  { name: "update", deployable: "gateway", module: "./groups/gateway/update.js" },
  { name: "model", subcommands: ["verify", "install", "list"], deployable: "gateway", module: "./groups/gateway/model.js" },
  { name: "ca", deployable: "fleet", module: "./groups/fleet/ca.js", needs: ["fleet"] },
  { name: "model", subcommands: ["keygen", "train", "sign"], deployable: "fleet", module: "./groups/fleet/model-fleet.js", needs: ["fleet"] },
  { name: "ingest", deployable: "receiver", module: "./groups/receiver/ingest.js", needs: ["ingest", "envelope/verify"] },
  { name: "receiver", deployable: "receiver", module: "./groups/receiver/receiver.js", needs: ["ingest"] },
  { name: "demo", deployable: "dev", module: "./groups/dev/demo.js", needs: ["devkit", "fleet", "ingest", "envelope/verify"] },
  { name: "dev", deployable: "dev", module: "./groups/dev/dev.js", needs: ["devkit", "fleet", "ingest", "envelope/verify"] },
];
