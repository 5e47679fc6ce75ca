// Where each parameter comes from. Scenario files record sources in two ways (see
// scenarios/china-2018.yaml): a comment on the line of a value or on the lines just before its
// key ("# docs/model.md §8: ...", "# assumption", "# calibrate: ..."), and `source` fields on
// behaviours, firm behaviours and targets. This reads both from the file's YAML syntax tree and
// maps them to field paths such as `observation.cameras.coverageUrban` or `behaviours[3].points`.
import { isMap, isPair, isScalar, isSeq, parseDocument, type Node } from "yaml";
import { pathString } from "../scenario/load.js";

export interface SourceNote {
  text: string;
  /** "own": on the field itself; "entry": on the enclosing entry (a flow map line, a list item, its `source` field). */
  from: "own" | "entry";
}

const clean = (c: string | null | undefined): string =>
  (c ?? "").split("\n").map((l) => l.trim()).filter(Boolean).join(" ");

/** Comments and `source` fields by field path (`a.b[2].c`), and the set of paths the file sets. */
export function scenarioSources(text: string): { notes: Map<string, SourceNote>; setInFile: Set<string> } {
  const notes = new Map<string, SourceNote>();
  const setInFile = new Set<string>();
  const doc = parseDocument(text);

  const visit = (node: Node | null | undefined, path: (string | number)[], inherited: string) => {
    if (!node) return;
    if (isMap(node)) {
      // A `source: "..."` field speaks for its whole entry (a behaviour, a target).
      const sourceField = node.items.find((p) => isScalar(p.key) && p.key.value === "source");
      const entryNote = [...new Set([inherited, clean(node.comment), isScalar(sourceField?.value) ? String(sourceField.value.value) : ""].filter(Boolean))].join("; ");
      node.items.forEach((pair, k) => {
        if (!isPair(pair) || !isScalar(pair.key)) return;
        const p = [...path, String(pair.key.value)];
        const before = clean((pair.key as Node).commentBefore) || (k === 0 ? clean(node.commentBefore) : "");
        const value = pair.value as Node | null;
        const own = [before, clean(value?.comment), isScalar(value) ? "" : clean(value?.commentBefore)].filter(Boolean).join(" ");
        record(p, own, entryNote, value);
        visit(value, p, own || entryNote);
      });
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const n = item as Node;
        const own = [clean(n.commentBefore), clean(n.comment)].filter(Boolean).join(" ");
        visit(n, [...path, i], own || inherited);
      });
    }
  };
  const record = (p: (string | number)[], own: string, entry: string, value: Node | null) => {
    const key = pathString(p);
    if (!isMap(value) && !isSeq(value)) setInFile.add(key);
    if (isSeq(value) && value.items.every((x) => isScalar(x))) setInFile.add(key);
    if (own) notes.set(key, { text: own, from: "own" });
    else if (entry && !isMap(value)) notes.set(key, { text: entry, from: "entry" });
  };
  visit(doc.contents as Node, [], "");
  return { notes, setInFile };
}
