#!/usr/bin/env node
/**
 * `otgw`: the one CLI for integrators, technicians and testers. Each command module is loaded
 * lazily, so `otgw config check` does not pull in MQTT, SQLite or node-opcua.
 */
import { Command } from "commander";
import { GatewayError, errorText } from "../kernel/errors.js";

const program = new Command();
program.name("otgw").description("Secure OT-to-cloud edge gateway").showHelpAfterError();

const config = program.command("config").description("gateway configuration");
config
  .command("check")
  .argument("<file>", "gateway config (YAML or JSON)")
  .description("validate a config file; exit 0 when good, non-zero with every problem listed")
  .action(async (file: string) => {
    const { configCheckCommand } = await import("./commands/config-check.js");
    process.exitCode = configCheckCommand(file);
  });

const audit = program.command("audit").description("audit log");
audit
  .command("verify")
  .argument("<file>", "audit log (JSONL)")
  .option("--public-key <pem>", "gateway public key (SPKI PEM) to check checkpoint signatures against")
  .description("verify the hash chain and signed checkpoints; names the first bad entry")
  .action(async (file: string, o: { publicKey?: string }) => {
    const { auditVerifyCommand } = await import("./commands/audit-verify.js");
    process.exitCode = auditVerifyCommand(file, o.publicKey);
  });

program
  .command("run")
  .requiredOption("-c, --config <file>", "gateway config")
  .option("--max-records <n>", "stop accepting readings after this many records, deliver, then exit", (v) => Number.parseInt(v, 10))
  .option("--commit-log <file>", "append `stream session seq` after each queue commit (crash tests; ids only, no payload)")
  .description("run the gateway until SIGINT/SIGTERM")
  .action(async (o: { config: string; maxRecords?: number; commitLog?: string }) => {
    const { runCommand } = await import("./commands/run.js");
    process.exitCode = await runCommand(o.config, o);
  });

// `otgw ingest --url …` runs the receiver (the default subcommand); `otgw ingest trace ID` inspects
// its evidence store.
const ingest = program.command("ingest").description("the verifying receiver");
ingest
  .command("run", { isDefault: true })
  .description("subscribe, verify, and keep the evidence (the default: `otgw ingest --url …`)")
  .requiredOption("--url <url>", "broker URL, e.g. mqtts://127.0.0.1:8883")
  .requiredOption("--ca <pem>", "CA that signed the broker certificate")
  .requiredOption("--cert <pem>", "receiver client certificate")
  .requiredOption("--key <pem>", "receiver client key")
  .requiredOption("--fleet-ca <pem>", "fleet CA that gateway certificates must chain to")
  .requiredOption("--recipient-key <pem>", "receiver's HPKE private key (P-256, PKCS#8 PEM)")
  .requiredOption("--db <file>", "evidence store (SQLite)")
  .option("--group <name>", "shared subscription group", "otgw-ingest")
  .option("--no-share", "one receiver on a plain persistent subscription (survives a mosquitto restart; see docs/ingest.md)")
  .option("--client-id <id>", "MQTT client id (unique per receiver instance)")
  .option("--crl <pem>", "fleet CRL (from `otgw ca revoke`): revoked gateways are refused")
  .action(async (o: import("./commands/ingest.js").IngestCliOptions) => {
    const { ingestCommand } = await import("./commands/ingest.js");
    process.exitCode = await ingestCommand(o);
  });
ingest
  .command("trace")
  .argument("<id>", "prediction id (32 hex)")
  .requiredOption("--db <file>", "receiver evidence store (SQLite)")
  .option("--inputs", "list every input record's location")
  .description("show the model and the verified input records behind a prediction, recomputing the input hash")
  .action(async (id: string, o: { db: string; inputs?: boolean }) => {
    const { traceCommand } = await import("./commands/trace.js");
    process.exitCode = traceCommand(id, o);
  });

const receiver = program.command("receiver").description("receiver keys");
receiver
  .command("keygen")
  .requiredOption("--out <dir>", "directory for receiver.key.pem (0600) and receiver.pub.pem")
  .description("create the receiver's HPKE key pair (P-256); gateways get the public half")
  .action(async (o: { out: string }) => {
    const { receiverKeygen } = await import("./commands/receiver.js");
    process.exitCode = receiverKeygen(o.out);
  });

const trust = program.command("trust").description("trust stores the technician controls");
trust
  .command("opcua")
  .argument("<action>", "list | trust | reject | remove")
  .argument("[thumbprint]", "SHA-1 thumbprint of the server certificate (from the error or `list`)")
  .requiredOption("-c, --config <file>", "gateway config (its OPC UA sources name the trust store)")
  .option("--file <cert>", "trust: add a server certificate from a PEM/DER file instead of a recorded thumbprint")
  .description("list, trust, reject or remove OPC UA server certificates")
  .action(async (action: string, thumbprint: string | undefined, o: { config: string; file?: string }) => {
    const { trustOpcuaCommand } = await import("./commands/trust.js");
    if (!["list", "trust", "reject", "remove"].includes(action)) {
      console.error(`otgw trust opcua: unknown action "${action}"; use list, trust, reject or remove`);
      process.exitCode = 2;
      return;
    }
    process.exitCode = trustOpcuaCommand(action as import("./commands/trust.js").TrustAction, thumbprint, o);
  });

const model = program.command("model").description("signed edge model bundles (docs/model-bundle.md)");
model.command("keygen").requiredOption("--out <dir>", "directory for model-signer.key.pem (0600) and .pub.pem")
  .description("create a model-signing key pair (registry side; gateways trust the public half)")
  .action(async (o: { out: string }) => {
    const { modelKeygen } = await import("./commands/model.js");
    process.exitCode = modelKeygen(o.out);
  });
model.command("train").requiredOption("-c, --config <file>", "gateway config with a sim source (healthy data, faults removed)")
  .requiredOption("--out <dir>", "writes model.json and provenance.json").option("--name <name>", "model name", "rotating-equipment")
  .option("--version <n>", "model version (monotonic integer)", "1").option("--seconds <s>", "healthy seconds to train on", "1800")
  .option("--start-ms <ms>", "epoch ms of the training data").option("--job-id <id>", "training job id")
  .description("train the robust-residual anomaly model from the simulated plant")
  .action(async (o: import("./commands/model.js").TrainOptions) => {
    const { modelTrain } = await import("./commands/model.js");
    process.exitCode = modelTrain(o);
  });
model.command("sign").requiredOption("--artefact <file>", "model.json").requiredOption("--provenance <file>", "provenance.json (the in-toto predicate)")
  .requiredOption("--key <pem>", "model-signing private key").requiredOption("--out <file>", "bundle to write")
  .description("sign a model bundle (DSSE envelope over an in-toto statement)")
  .action(async (o: import("./commands/model.js").SignOptions) => {
    const { modelSign } = await import("./commands/model.js");
    process.exitCode = modelSign(o);
  });
model.command("verify").argument("<bundle>").requiredOption("--trusted <pem...>", "trusted signer public key(s)")
  .description("check a bundle's signature, signer and digest (registry/CI side)")
  .action(async (bundle: string, o: { trusted: string[] }) => {
    const { modelVerify } = await import("./commands/model.js");
    process.exitCode = modelVerify(bundle, o.trusted);
  });
model.command("install").argument("<bundle>").requiredOption("-c, --config <file>", "gateway config (models section)")
  .description("verify (signature, signer, digest, anti-rollback) and activate a bundle; audited; run with the gateway stopped")
  .action(async (bundle: string, o: { config: string }) => {
    const { modelInstall } = await import("./commands/model.js");
    process.exitCode = await modelInstall(bundle, o.config);
  });
model.command("list").requiredOption("-c, --config <file>", "gateway config").description("accepted bundles and the active one")
  .action(async (o: { config: string }) => {
    const { modelList } = await import("./commands/model.js");
    process.exitCode = modelList(o.config);
  });

const egress = program.command("egress").description("network egress allowlist (nftables; docs/egress.md)");
egress
  .command("render")
  .requiredOption("-c, --config <file>", "gateway config or the integrator's template (YAML or JSON)")
  .option("--out <file>", "write the ruleset here (atomically) instead of stdout")
  .option("--ssh", "admit inbound SSH on tcp/22 (images built with key-only SSH)")
  .description("render the nftables ruleset (table inet otgw_egress); exit 1 naming each bad field")
  .action(async (o: import("./commands/egress-render.js").EgressRenderOptions) => {
    const { egressRenderCommand } = await import("./commands/egress-render.js");
    process.exitCode = egressRenderCommand(o);
  });

program
  .command("demo")
  .description("throwaway CA, a locked-down mosquitto, the receiver and a gateway on the simulated plant")
  .option("--messages <n>", "stop after N published messages and print a JSON summary line", (v) => Number.parseInt(v, 10))
  .option("--out <dir>", "working directory for the demo's keys, broker and stores", "demo-out")
  .option("--quiet", "do not print live readings")
  .action(async (o: { messages?: number; out: string; quiet?: boolean }) => {
    const { demoCommand } = await import("./commands/demo.js");
    process.exitCode = await demoCommand(o);
  });

// --- identity: fleet CA + EST, provisioning, health check (docs/identity.md) ---
const collect = (v: string, prev: string[]): string[] => [...prev, v];
const ca = program.command("ca").description("fleet CA and EST server (run by the fleet operator)");
ca.command("init")
  .requiredOption("--dir <dir>", "directory for the CA (created; never overwritten)")
  .option("--name <cn>", "CA common name", "otgw fleet CA")
  .option("--days <n>", "CA validity in days", "3650")
  .option("--cert-days <n>", "gateway certificate lifetime in days (short-lived)", "7")
  .option("--crl-days <n>", "CRL validity in days", "2")
  .option("--server-name <name>", "DNS name or IP of the EST server (repeatable)", collect, [])
  .option("--ek-root <pem>", "trusted TPM manufacturer root/intermediate certificates (repeatable)", collect, [])
  .description("create the fleet CA, the EST server certificate and an empty CRL")
  .action(async (o: import("./commands/ca.js").CaInitCliOptions) => {
    const { caInitCommand } = await import("./commands/ca.js");
    process.exitCode = await caInitCommand(o);
  });
ca.command("serve")
  .requiredOption("--dir <dir>", "fleet CA directory")
  .option("--host <ip>", "listen address", "127.0.0.1")
  .option("--port <n>", "listen port", "8443")
  .description("run the EST server (RFC 7030 + TPM attestation) until SIGINT/SIGTERM")
  .action(async (o: { dir: string; host: string; port: string }) => {
    const { caServeCommand } = await import("./commands/ca.js");
    process.exitCode = await caServeCommand(o);
  });
ca.command("revoke")
  .argument("<gatewayId>", "gateway to revoke")
  .requiredOption("--dir <dir>", "fleet CA directory")
  .option("--forget", "also free the id for a replacement board")
  .description("revoke every certificate of a gateway and publish the CRL")
  .action(async (id: string, o: { dir: string; forget?: boolean }) => {
    const { caRevokeCommand } = await import("./commands/ca.js");
    process.exitCode = await caRevokeCommand(id, o);
  });
ca.command("list")
  .requiredOption("--dir <dir>", "fleet CA directory")
  .description("the inventory: gateways, EKs, keys, certificates")
  .action(async (o: { dir: string }) => {
    const { caListCommand } = await import("./commands/ca.js");
    process.exitCode = caListCommand(o);
  });
program
  .command("provision")
  .requiredOption("--id <gatewayId>", "this gateway's id (CN of its certificate)")
  .requiredOption("--est <url>", "EST server, e.g. https://ca.example.net:8443")
  .option("--ca-fingerprint <sha256>", "fleet CA fingerprint from the fleet operator (trust bootstrap)")
  .option("--est-ca <pem>", "fleet CA certificate file (instead of --ca-fingerprint)")
  .option("--tcti <tcti>", "TPM access", "device:/dev/tpmrm0")
  .requiredOption("--template <config>", "the integrator's config to complete")
  .requiredOption("--out <file>", "config to write (YAML or JSON)")
  .option("--state-dir <dir>", "state directory (default: the template's)")
  .option("--uplink <url>", "broker URL (default: the template's)")
  .option("--uplink-ca <pem>", "CA of the broker's certificate (default: the template's, else the fleet CA)")
  .option("--receiver-key <pem>", "receiver public key (default: the template's)")
  .option("--key-name <name>", "key name", "gateway")
  .description("create the TPM key, attest, enroll over EST and write the config")
  .action(async (o: import("./commands/provision.js").ProvisionOptions) => {
    const { provisionCommand } = await import("./commands/provision.js");
    process.exitCode = await provisionCommand(o);
  });
program
  .command("check")
  .option("-c, --config <file>", "gateway config", "/var/lib/otgw/config.yaml")
  .option("--template <file>", "the integrator's template (for the `otgw provision` hint)", "/etc/otgw/config.yaml")
  .description("TPM, key, certificate, chain, CRL, broker, clock, disk, queue: OK or what to do; exit 2 when unprovisioned")
  .action(async (o: { config: string; template: string }) => {
    const { checkCommand } = await import("./commands/check.js");
    process.exitCode = await checkCommand(o.config, o.template);
  });
program
  .command("service")
  .option("-c, --config <file>", "the provisioned config", "/var/lib/otgw/config.yaml")
  .option("--template <file>", "the integrator's template (for the `otgw provision` hint)", "/etc/otgw/config.yaml")
  .option("--poll-ms <ms>", "also look for the provisioned config this often", (v) => Number.parseInt(v, 10), 2000)
  .description("what otgw.service runs: wait while unprovisioned, then run the gateway; sd_notify readiness and watchdog")
  .action(async (o: import("./commands/service.js").ServiceOptions) => {
    const { serviceCommand } = await import("./commands/service.js");
    process.exitCode = await serviceCommand(o);
  });
const identity = program.command("identity").description("this gateway's identity");
for (const [name, what] of [["show", "key, certificate and days left"], ["renew", "new certificate for the same key (EST simplereenroll)"], ["rotate", "new TPM key, attested, enrolled; old kept as .prev"]] as const) {
  identity.command(name)
    .requiredOption("-c, --config <file>", "gateway config")
    .description(what)
    .action(async (o: { config: string }) => {
      const m = await import("./commands/identity.js");
      process.exitCode = name === "show" ? await m.identityShowCommand(o.config) : await m.identityRenewCommand(o.config, name);
    });
}

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof GatewayError) console.error(`otgw: ${err.message} [${err.code}]`);
  else console.error(`otgw: ${errorText(err)}`);
  process.exitCode = 1;
});
