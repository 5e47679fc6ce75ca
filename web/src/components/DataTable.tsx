// A table with a CSV download of exactly what it shows (raw values, not the formatted text).
import type { ComponentChildren } from "preact";
import { downloadCsv } from "./download";
import { CardHeader } from "./CardHeader";

export interface Column<R> {
  key: string;
  label: string;
  format?: (v: any, row: R) => ComponentChildren;
  align?: "left" | "right";
}

export function DataTable<R extends Record<string, any>>(props: { title: string; note?: string; columns: Column<R>[]; rows: R[]; onRow?: (r: R) => void; id?: string; empty?: string; wide?: boolean }) {
  const { columns, rows } = props;
  return (
    <section class={`card table${props.wide ? " wide" : ""}`} id={props.id} data-table={props.title}>
      <CardHeader title={props.title} note={props.note}>
        <button class="ghost" title="Download as CSV" onClick={() => downloadCsv([...new Set(columns.filter((c) => c.label).map((c) => c.key))], rows, props.title)}>CSV</button>
      </CardHeader>
      <div class="scroll">
        <table>
          <thead>
            <tr>{columns.map((c) => <th class={c.align === "right" ? "num" : ""}>{c.label}</th>)}</tr>
          </thead>
          <tbody>
            {rows.length === 0 && (
              <tr><td colSpan={columns.length} class="empty">{props.empty ?? "Nothing to show."}</td></tr>
            )}
            {rows.map((r) => (
              <tr class={props.onRow ? "clickable" : ""} onClick={props.onRow ? () => props.onRow!(r) : undefined}>
                {columns.map((c) => <td class={c.align === "right" ? "num" : ""}>{c.format ? c.format(r[c.key], r) : String(r[c.key] ?? "")}</td>)}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
