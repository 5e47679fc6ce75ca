// The dashboard: runs, one run, one citizen, two runs compared. Routes live in the URL hash
// (#/run/<id>, #/run/<id>/citizen/<agent>, #/compare/<a>/<b>) so the server serves one page.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { RunsPage } from "./pages/Runs";
import { RunPage } from "./pages/Run";
import { CitizenPage } from "./pages/Citizen";
import { ComparePage } from "./pages/Compare";
import "./style.css";

function useHash(): string[] {
  const parse = () => location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const [parts, setParts] = useState(parse);
  useEffect(() => {
    const on = () => {
      setParts(parse());
      window.scrollTo(0, 0);
    };
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return parts;
}

export const href = (...parts: (string | number)[]) => `#/${parts.map((p) => encodeURIComponent(String(p))).join("/")}`;

function App() {
  const parts = useHash();
  let page;
  let section = "runs";
  if (parts[0] === "run" && parts[1] && parts[2] === "citizen") {
    page = <CitizenPage run={parts[1]} agent={parts[3] ? Number(parts[3]) : null} />;
    section = "citizen";
  } else if (parts[0] === "run" && parts[1]) {
    page = <RunPage run={parts[1]} />;
    section = "run";
  } else if (parts[0] === "compare") {
    page = <ComparePage a={parts[1] ?? null} b={parts[2] ?? null} />;
    section = "compare";
  } else page = <RunsPage />;
  const run = parts[0] === "run" ? parts[1] : null;
  return (
    <>
      <nav class="top">
        <a class="brand" href="#/">Credence</a>
        <span class="tag">synthetic citizens only</span>
        <a class={section === "runs" ? "on" : ""} href="#/">Runs</a>
        {run && <a class={section === "run" ? "on" : ""} href={href("run", run)}>Run</a>}
        {run && <a class={section === "citizen" ? "on" : ""} href={href("run", run, "citizen")}>Citizen</a>}
        <a class={section === "compare" ? "on" : ""} href="#/compare">Compare</a>
      </nav>
      <main>{page}</main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
