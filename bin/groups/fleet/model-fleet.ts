import type { Command } from "commander";
import { intOption, NON_NEGATIVE, POSITIVE } from "../../options.js";
import { modelGroup } from "../gateway/model.js";

/** `otgw model keygen | train | sign` (fleet: the model registry's side). */
export function register(program: Command): void {
  const model = modelGroup(program);
  model.command("keygen").requiredOption("--out <dir>", "directory for model-signer.key.pem (0600) and .pub.pem")
    .description("create a model-signing key pair (registry side; gateways trust the public half)")
    .action(async (o: { out: string }) => {
      const { modelKeygen } = await import("../../commands/fleet/model-fleet.js");
      process.exitCode = modelKeygen(o.out);
    });
  model.command("train").requiredOption("-c, --config <file>", "gateway config with a sim source (healthy data, faults removed)")
    .requiredOption("--out <dir>", "writes model.json and provenance.json").option("--name <name>", "model name", "rotating-equipment")
    .addOption(intOption("--version <n>", "model version (monotonic integer)", POSITIVE, 1))
    .addOption(intOption("--seconds <s>", "healthy seconds to train on", POSITIVE, 1800))
    .addOption(intOption("--start-ms <ms>", "epoch ms of the training data", NON_NEGATIVE)).option("--job-id <id>", "training job id")
    .description("train the robust-residual anomaly model from the simulated plant")
    .action(async (o: import("../../commands/fleet/model-fleet.js").TrainOptions) => {
      const { modelTrain } = await import("../../commands/fleet/model-fleet.js");
      process.exitCode = modelTrain(o);
    });
  model.command("sign").requiredOption("--artefact <file>", "model.json").requiredOption("--provenance <file>", "provenance.json (the in-toto predicate)")
    .requiredOption("--key <pem>", "model-signing private key").requiredOption("--out <file>", "bundle to write")
    .description("sign a model bundle (DSSE envelope over an in-toto statement)")
    .action(async (o: import("../../commands/fleet/model-fleet.js").SignOptions) => {
      const { modelSign } = await import("../../commands/fleet/model-fleet.js");
      process.exitCode = modelSign(o);
    });
}
