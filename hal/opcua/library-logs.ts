/**
 * node-opcua prints its own warnings and errors on stdout, which must stay machine-readable (the
 * demo's JSON summary line, CLI output). Sent to stderr instead, once per process, as soon as
 * node-opcua is loaded by the adapter or by the development OPC UA server.
 */
let routed = false;

export function routeNodeOpcuaLogs(ua: Pick<typeof import("node-opcua"), "setWarningLogger" | "setErrorLogger">): void {
  if (routed) return;
  routed = true;
  const toStderr = (...args: unknown[]): void => {
    // The first argument is node-opcua's caller context; the rest is its message.
    process.stderr.write(`node-opcua: ${args.slice(1).map((a) => (typeof a === "string" ? a : String(a))).join(" ")}\n`);
  };
  ua.setWarningLogger(toStderr);
  ua.setErrorLogger(toStderr);
}
