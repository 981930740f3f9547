/**
 * A node-opcua server for the adapter tests, the bench and the demo (the reference OPC UA stack; the client side under test is
 * our adapter). SignAndEncrypt only for sessions, with the three policies the gateway supports; it
 * accepts any client certificate (server-side trust is not what these tests examine). Its own
 * certificate is generated at first start in `pkiDir` and reused across restarts.
 */
import { join } from "node:path";
import {
  DataType, DataValue, MessageSecurityMode, OPCUACertificateManager, OPCUAServer, SecurityPolicy, StatusCodes, Variant, nodesets,
  setDebugLogger, setErrorLogger, setWarningLogger,
} from "node-opcua";
import { routeNodeOpcuaLogs } from "../../hal/opcua/library-logs.js";

// node-opcua checks RSA PKCS#1 v1.5 asynchronously when it loads and may warn: into the structured log now.
routeNodeOpcuaLogs({ setWarningLogger, setErrorLogger, setDebugLogger });

export interface TestOpcuaServer {
  server: OPCUAServer;
  endpointUrl: string;
  /** DER of the server's application certificate (the leaf). */
  certificate: Buffer;
  stop(): Promise<void>;
}

/** Source timestamp the Vibration variable reports: fixed ms plus picoseconds (see the timestamp test). */
export const VIB_TS_MS = 1_700_000_000_123;
export const VIB_PICOSECONDS = 123_456_780;

/** `benchItems` adds that many Double variables ns=1;s=Bench.V<i> whose value changes on every read. */
/** Who may open a session: anonymous (default), or only these username/password pairs and X.509 user certificates. */
export interface OpcuaServerUsers {
  passwords?: Record<string, string>;
  /** Accept X.509 user tokens (any certificate: the tests examine the client side). */
  certificates?: boolean;
}

export async function startOpcuaServer(port: number, pkiDir: string, generation = 1, benchItems = 0, users?: OpcuaServerUsers): Promise<TestOpcuaServer> {
  const serverCertificateManager = new OPCUACertificateManager({ rootFolder: pkiDir, automaticallyAcceptUnknownCertificate: true });
  await serverCertificateManager.initialize();
  const server = new OPCUAServer({
    port,
    resourcePath: "/UA/otgw-test",
    serverCertificateManager,
    securityModes: [MessageSecurityMode.SignAndEncrypt],
    securityPolicies: [SecurityPolicy.Basic256Sha256, SecurityPolicy.Aes128_Sha256_RsaOaep, SecurityPolicy.Aes256_Sha256_RsaPss],
    allowAnonymous: users === undefined,
    ...(users?.passwords ? { userManager: { isValidUser: (name: string, password: string) => users.passwords?.[name] === password } } : {}),
    ...(users?.certificates
      ? { userCertificateManager: new OPCUACertificateManager({ rootFolder: join(pkiDir, "users"), automaticallyAcceptUnknownCertificate: true }) }
      : {}),
    nodeset_filename: [nodesets.standard],
    buildInfo: { productName: "otgw-test-server", buildNumber: String(generation) },
  });
  await server.initialize();
  const ns = server.engine.addressSpace!.getOwnNamespace();
  const objects = server.engine.addressSpace!.rootFolder.objects;
  let n = 0;
  const tick = setInterval(() => n++, 20);
  tick.unref();
  const variable = (id: string, get: () => DataValue) =>
    ns.addVariable({ organizedBy: objects, nodeId: `s=${id}`, browseName: id, dataType: "Double", minimumSamplingInterval: 10, value: { timestamped_get: get } });
  variable("Pump1.Vibration", () => new DataValue({
    value: new Variant({ dataType: DataType.Double, value: generation * 1_000_000 + n }),
    statusCode: StatusCodes.Good, sourceTimestamp: new Date(VIB_TS_MS), sourcePicoseconds: VIB_PICOSECONDS,
  }));
  variable("Pump1.Temperature", () => new DataValue({
    value: new Variant({ dataType: DataType.Double, value: 41.5 + (n % 2) }), statusCode: StatusCodes.UncertainLastUsableValue, sourceTimestamp: new Date(),
  }));
  variable("Pump1.Pressure", () => new DataValue({
    value: new Variant({ dataType: DataType.Double, value: 0 }), statusCode: StatusCodes.BadSensorFailure, sourceTimestamp: new Date(),
  }));
  // Plausible readings of a press drive for the demo (the tests use the Pump1 variables above).
  variable("Press1.Vibration", () => new DataValue({
    value: new Variant({ dataType: DataType.Double, value: 2.8 + 0.3 * Math.sin(n / 25) + 0.05 * Math.sin(n * 1.7) }), statusCode: StatusCodes.Good, sourceTimestamp: new Date(),
  }));
  variable("Press1.BearingTemp", () => new DataValue({
    value: new Variant({ dataType: DataType.Double, value: 47 + 1.5 * Math.sin(n / 200) }), statusCode: StatusCodes.Good, sourceTimestamp: new Date(),
  }));
  let k = 0;
  for (let i = 0; i < benchItems; i++) {
    variable(`Bench.V${i}`, () => new DataValue({ value: new Variant({ dataType: DataType.Double, value: k++ }), statusCode: StatusCodes.Good, sourceTimestamp: new Date() }));
  }
  await server.start();
  const endpointUrl = `opc.tcp://127.0.0.1:${port}/UA/otgw-test`;
  const chain = server.getCertificateChain() as unknown as Buffer | Buffer[];
  const certificate = Buffer.from(Array.isArray(chain) ? chain[0]! : chain);
  return {
    server, endpointUrl, certificate,
    stop: async () => {
      clearInterval(tick);
      await server.shutdown(0);
      await serverCertificateManager.dispose();
    },
  };
}
