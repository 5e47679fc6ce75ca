import type { ComponentChildren } from "preact";

export function Status(props: { error?: string | null; loading?: boolean; children?: ComponentChildren }) {
  if (props.error) return <div class="card error" role="alert">{props.error}</div>;
  if (props.loading) return <div class="loading">Loading…</div>;
  return <>{props.children}</>;
}
