import { tracePrediction } from "../../../ingest/trace.js";

/**
 * `otgw ingest trace ID --db FILE`: the model and the verified inputs behind a prediction, with the
 * input hash recomputed. Exit 0 when every input is found and the hash matches, 4 otherwise.
 */
export function traceCommand(id: string, o: { db: string; inputs?: boolean }, out: (line: string) => void = (l) => console.log(l)): number {
  const t = tracePrediction(o.db, id);
  const summary = {
    id: t.id, prediction: t.prediction, model: t.model, inputSha256: t.inputSha256, recomputedSha256: t.recomputedSha256, match: t.match,
    inputs: t.inputs.length, missing: t.missing,
  };
  out(JSON.stringify(o.inputs ? { ...summary, records: t.inputs } : summary, null, 2));
  return t.match ? 0 : 4;
}
