// A card holding one Observable Plot chart, with SVG and PNG downloads.
import { useEffect, useRef } from "preact/hooks";
import type { ComponentChildren } from "preact";
import { downloadPng, downloadSvg } from "./download";
import { CardHeader } from "./CardHeader";

export function Chart(props: { title: string; note?: string; render: (width: number) => Element | null; deps: unknown[]; controls?: ComponentChildren; wide?: boolean }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const draw = () => {
      const node = props.render(Math.max(280, el.clientWidth));
      el.replaceChildren(...(node ? [node] : []));
    };
    draw();
    let last = el.clientWidth;
    const ro = new ResizeObserver(() => {
      if (Math.abs(el.clientWidth - last) > 20) {
        last = el.clientWidth;
        draw();
      }
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, props.deps);
  const node = () => host.current?.firstElementChild ?? null;
  return (
    <section class={`card chart${props.wide ? " wide" : ""}`} data-chart={props.title}>
      <CardHeader title={props.title} note={props.note}>
        {props.controls}
        <button class="ghost" title="Download as SVG" onClick={() => node() && downloadSvg(node()!, props.title)}>SVG</button>
        <button class="ghost" title="Download as PNG" onClick={() => node() && void downloadPng(node()!, props.title)}>PNG</button>
      </CardHeader>
      <div class="plot" ref={host} />
    </section>
  );
}
