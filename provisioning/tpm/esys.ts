import { createRequire } from "node:module";
import { errorText, TpmError } from "../../kernel/errors.js";

/**
 * The thin FFI layer over tpm2-tss (libtss2-esys, -tctildr, -mu) through koffi. Every TPM structure
 * crosses the boundary as TPM wire bytes: inputs are unmarshalled into scratch memory with Tss2_MU_*
 * and outputs marshalled back and freed at once (FACTS: copy before Esys_Free), so no C struct
 * layout is declared here and the rest of the code works on bytes (see wire.ts).
 *
 * ESAPI contexts are not thread-safe: every call of one context is serialized through `run`.
 */

type KoffiFn = ((...args: unknown[]) => number) & { async: (...args: unknown[]) => void };
interface KoffiLib { func(definition: string): KoffiFn }
interface Koffi { load(path: string): KoffiLib }

const require = createRequire(import.meta.url);

export const ESYS_TR_NONE = 0xfff;
export const ESYS_TR_PASSWORD = 0x0ff;
export const ESYS_TR_RH_OWNER = 0x101;
export const ESYS_TR_RH_ENDORSEMENT = 0x10b;
const SCRATCH = 4096;

/** The TPM structures that cross the FFI boundary. */
export type Tpm2bType = "TPM2B_PUBLIC" | "TPM2B_PRIVATE" | "TPMT_SIGNATURE" | "TPM2B_DIGEST" | "TPMT_SIG_SCHEME" | "TPMT_TK_HASHCHECK"
  | "TPM2B_ID_OBJECT" | "TPM2B_ENCRYPTED_SECRET" | "TPM2B_NAME" | "TPM2B_NV_PUBLIC" | "TPM2B_MAX_NV_BUFFER" | "TPMT_SYM_DEF"
  | "TPM2B_DATA" | "TPML_PCR_SELECTION" | "TPM2B_ATTEST" | "TPML_DIGEST" | "TPML_DIGEST_VALUES";
const TYPES: readonly Tpm2bType[] = ["TPM2B_PUBLIC", "TPM2B_PRIVATE", "TPMT_SIGNATURE", "TPM2B_DIGEST", "TPMT_SIG_SCHEME", "TPMT_TK_HASHCHECK",
  "TPM2B_ID_OBJECT", "TPM2B_ENCRYPTED_SECRET", "TPM2B_NAME", "TPM2B_NV_PUBLIC", "TPM2B_MAX_NV_BUFFER", "TPMT_SYM_DEF",
  "TPM2B_DATA", "TPML_PCR_SELECTION", "TPM2B_ATTEST", "TPML_DIGEST", "TPML_DIGEST_VALUES"];

interface Bindings {
  tctiInit: KoffiFn; tctiFinalize: KoffiFn; esysInit: KoffiFn; esysFinalize: KoffiFn; free: KoffiFn;
  fn: Record<string, KoffiFn>;
  marshal: Record<string, KoffiFn>;
  unmarshal: Record<string, KoffiFn>;
}

let bound: Bindings | undefined;

const ESYS_FUNCS = [
  "uint32_t Esys_CreatePrimary(void *ctx, uint32_t primary, uint32_t s1, uint32_t s2, uint32_t s3, void *inSensitive, void *inPublic, void *outsideInfo, void *pcr, _Out_ uint32_t *handle, _Out_ void **outPublic, void *cd, void *ch, void *ct)",
  "uint32_t Esys_Create(void *ctx, uint32_t parent, uint32_t s1, uint32_t s2, uint32_t s3, void *inSensitive, void *inPublic, void *outsideInfo, void *pcr, _Out_ void **outPrivate, _Out_ void **outPublic, void *cd, void *ch, void *ct)",
  "uint32_t Esys_Load(void *ctx, uint32_t parent, uint32_t s1, uint32_t s2, uint32_t s3, void *inPrivate, void *inPublic, _Out_ uint32_t *handle)",
  "uint32_t Esys_Sign(void *ctx, uint32_t key, uint32_t s1, uint32_t s2, uint32_t s3, void *digest, void *scheme, void *validation, _Out_ void **signature)",
  "uint32_t Esys_FlushContext(void *ctx, uint32_t handle)",
  "uint32_t Esys_ActivateCredential(void *ctx, uint32_t activate, uint32_t key, uint32_t s1, uint32_t s2, uint32_t s3, void *blob, void *secret, _Out_ void **certInfo)",
  "uint32_t Esys_StartAuthSession(void *ctx, uint32_t tpmKey, uint32_t bind, uint32_t s1, uint32_t s2, uint32_t s3, void *nonceCaller, uint8_t type, void *symmetric, uint16_t authHash, _Out_ uint32_t *session)",
  "uint32_t Esys_PolicySecret(void *ctx, uint32_t auth, uint32_t session, uint32_t s1, uint32_t s2, uint32_t s3, void *nonceTPM, void *cpHash, void *policyRef, int32_t expiration, void *timeout, void *ticket)",
  "uint32_t Esys_TR_FromTPMPublic(void *ctx, uint32_t tpmHandle, uint32_t s1, uint32_t s2, uint32_t s3, _Out_ uint32_t *object)",
  "uint32_t Esys_TR_Close(void *ctx, _Inout_ uint32_t *object)",
  "uint32_t Esys_NV_ReadPublic(void *ctx, uint32_t index, uint32_t s1, uint32_t s2, uint32_t s3, _Out_ void **nvPublic, void *nvName)",
  "uint32_t Esys_NV_Read(void *ctx, uint32_t auth, uint32_t index, uint32_t s1, uint32_t s2, uint32_t s3, uint16_t size, uint16_t offset, _Out_ void **data)",
  "uint32_t Esys_Quote(void *ctx, uint32_t key, uint32_t s1, uint32_t s2, uint32_t s3, void *qualifyingData, void *scheme, void *pcrSelect, _Out_ void **quoted, _Out_ void **signature)",
  "uint32_t Esys_PCR_Read(void *ctx, uint32_t s1, uint32_t s2, uint32_t s3, void *pcrSelect, _Out_ uint32_t *updateCounter, _Out_ void **selectionOut, _Out_ void **values)",
  "uint32_t Esys_PCR_Extend(void *ctx, uint32_t pcr, uint32_t s1, uint32_t s2, uint32_t s3, void *digests)",
  "uint32_t Esys_GetRandom(void *ctx, uint32_t s1, uint32_t s2, uint32_t s3, uint16_t bytes, _Out_ void **random)",
];

function bind(): Bindings {
  if (bound) return bound;
  // tpm2-tss logs every TPM error to stderr itself; otgw reports them (with a fix) through TpmError.
  process.env.TSS2_LOG ??= "all+none";
  let koffi: Koffi;
  try {
    koffi = require("koffi") as Koffi;
  } catch (err) {
    throw new TpmError("TPM_FFI_MISSING", `cannot load koffi (${(err as Error).message}): run \`npm ci\` in the otgw directory`);
  }
  const open = (name: string): KoffiLib => {
    try {
      return koffi.load(name);
    } catch (err) {
      throw new TpmError("TPM_LIB_MISSING", `cannot load ${name} (${(err as Error).message}): install tpm2-tss (apt-get install libtss2-esys-3.0.2-0 libtss2-tctildr0 libtss2-mu0, or libtss2-dev)`);
    }
  };
  const esys = open("libtss2-esys.so.0");
  const tctildr = open("libtss2-tctildr.so.0");
  const mu = open("libtss2-mu.so.0");
  const fn: Record<string, KoffiFn> = {};
  for (const def of ESYS_FUNCS) {
    const name = /Esys_\w+/.exec(def)?.[0] ?? "";
    fn[name] = esys.func(def);
  }
  const marshal: Record<string, KoffiFn> = {};
  const unmarshal: Record<string, KoffiFn> = {};
  for (const t of TYPES) {
    marshal[t] = mu.func(`uint32_t Tss2_MU_${t}_Marshal(void *src, _Out_ uint8_t *buf, size_t size, _Inout_ size_t *offset)`);
    unmarshal[t] = mu.func(`uint32_t Tss2_MU_${t}_Unmarshal(uint8_t *buf, size_t size, _Inout_ size_t *offset, void *dest)`);
  }
  bound = {
    tctiInit: tctildr.func("uint32_t Tss2_TctiLdr_Initialize(const char *conf, _Out_ void **tcti)"),
    tctiFinalize: tctildr.func("void Tss2_TctiLdr_Finalize(_Inout_ void **tcti)"),
    esysInit: esys.func("uint32_t Esys_Initialize(_Out_ void **ctx, void *tcti, void *abi)"),
    esysFinalize: esys.func("void Esys_Finalize(_Inout_ void **ctx)"),
    free: esys.func("void Esys_Free(void *ptr)"),
    fn, marshal, unmarshal,
  };
  return bound;
}

/** A TPM response code with the command that returned it. 0x902: out of object memory (flush). */
export class TpmCommandError extends TpmError {
  constructor(readonly command: string, readonly rc: number, hint: string) {
    super("TPM_COMMAND", `${command} failed with TPM response 0x${rc.toString(16)}${hint ? `: ${hint}` : ""}`);
  }
}

function hintFor(rc: number): string {
  const low = rc & 0xfff;
  if (low === 0x902) return "the TPM is out of object memory (transient objects not flushed; use a resource manager such as /dev/tpmrm0)";
  if ((rc & 0xffff0000) === 0xa0000) return "the TPM could not be reached through the TCTI: check identity.tpm.tcti and that the TPM (or swtpm) is running";
  if (low === 0x1df || low === 0x19c || low === 0x18b) return "the key blob was not made by this TPM (a copied state directory cannot be used on another TPM)";
  return "";
}

/** One open ESAPI context on one TCTI. */
export class Esys {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(private readonly b: Bindings, private ctx: unknown, private tcti: unknown, readonly tctiConf: string) {}

  /** Opens `tcti` (e.g. `device:/dev/tpmrm0`, `swtpm:host=127.0.0.1,port=2321`). */
  static open(tctiConf: string): Esys {
    const b = bind();
    const tcti: unknown[] = [null];
    const rc1 = b.tctiInit(tctiConf, tcti);
    if (rc1 !== 0) throw new TpmError("TPM_UNREACHABLE", `cannot open the TPM through TCTI "${tctiConf}" (0x${rc1.toString(16)}): check identity.tpm.tcti, that the device exists and is readable by this user (group tss), or that swtpm runs`);
    const ctx: unknown[] = [null];
    const rc2 = b.esysInit(ctx, tcti[0], null);
    if (rc2 !== 0) {
      b.tctiFinalize(tcti);
      throw new TpmError("TPM_UNREACHABLE", `Esys_Initialize on "${tctiConf}" failed (0x${rc2.toString(16)}): is a TPM 2.0 answering there?`);
    }
    return new Esys(b, ctx[0], tcti[0], tctiConf);
  }

  /** Runs `task` after every earlier call on this context has finished. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.queue.then(task, task);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Calls an ESAPI function on a worker thread (the event loop stays free while a chip works). */
  call(name: string, ...args: unknown[]): Promise<void> {
    if (this.closed) return Promise.reject(new TpmError("TPM_CLOSED", "the TPM context is closed"));
    const f = this.b.fn[name];
    if (!f) return Promise.reject(new TpmError("TPM_FFI_MISSING", `no binding for ${name} in the loaded tpm2-tss libraries`));
    return new Promise((resolve, reject) => {
      f.async(this.ctx, ...args, (err: unknown, rc: number) => {
        if (err) reject(err instanceof Error ? err : new Error(errorText(err)));
        else if (rc !== 0) reject(new TpmCommandError(name, rc, hintFor(rc)));
        else resolve();
      });
    });
  }

  /** TPM wire bytes -> scratch memory holding the C structure (input to an ESAPI call). */
  toNative(type: Tpm2bType, wire: Uint8Array): Buffer {
    const dest = Buffer.alloc(SCRATCH);
    const off = [0];
    const rc = this.b.unmarshal[type]?.(Buffer.from(wire), wire.length, off, dest) ?? -1;
    if (rc !== 0) throw new TpmCommandError(`Tss2_MU_${type}_Unmarshal`, rc, "malformed TPM structure");
    return dest;
  }

  /** An ESAPI-allocated structure (from an _Out_ pointer) -> TPM wire bytes; frees the original. */
  fromNative(type: Tpm2bType, ptr: unknown): Buffer {
    try {
      const buf = Buffer.alloc(SCRATCH);
      const off = [0];
      const rc = this.b.marshal[type]?.(ptr, buf, buf.length, off) ?? -1;
      if (rc !== 0) throw new TpmCommandError(`Tss2_MU_${type}_Marshal`, rc, "");
      return Buffer.from(buf.subarray(0, Number(off[0])));
    } finally {
      this.b.free(ptr);
    }
  }

  /** Forgets an ESYS_TR (a TR for an NV index or persistent handle; not a TPM command). */
  closeTr(tr: number): void {
    if (!this.closed) this.b.fn.Esys_TR_Close?.(this.ctx, [tr]);
  }

  /** Finalizes ESAPI and the TCTI after pending calls. */
  async close(): Promise<void> {
    await this.run(() => Promise.resolve());
    if (this.closed) return;
    this.closed = true;
    this.b.esysFinalize([this.ctx]);
    this.b.tctiFinalize([this.tcti]);
    this.ctx = null;
    this.tcti = null;
  }
}
