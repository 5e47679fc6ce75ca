// The header of every card (chart or table): title, a note, and its controls and downloads.
import type { ComponentChildren } from "preact";

export function CardHeader(props: { title: string; note?: string; children?: ComponentChildren }) {
  return (
    <header>
      <div>
        <h3>{props.title}</h3>
        {props.note && <p class="note">{props.note}</p>}
      </div>
      <div class="actions">{props.children}</div>
    </header>
  );
}
