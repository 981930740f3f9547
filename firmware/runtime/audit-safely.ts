import { errorText } from "../../kernel/errors.js";
import type { Logger } from "../../kernel/log.js";
import type { AuditLog } from "../audit/audit-log.js";

/**
 * Appends an audit entry without letting an unwritable audit log (e.g. a full disk) stop the data
 * path: the failure is logged instead. `audit` may be undefined while the gateway is being wired
 * (collaborators that report into the log exist before it is opened).
 */
export function auditSafely(audit: AuditLog | undefined, log: Logger, type: string, data: Parameters<AuditLog["append"]>[1]): void {
  try {
    audit?.append(type, data);
  } catch (err) {
    log.error({ type, err: errorText(err) }, "audit entry could not be written");
  }
}
