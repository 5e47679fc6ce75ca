// The shapes the dashboard server sends and the page reads: one definition for both sides
// (the web app imports this file for its types only; it must stay free of imports).

export interface BundledScenario {
  file: string;
  name: string;
  title: string;
  population: number;
  days: number;
  secrecy: string;
}

export interface RunListing {
  id: string;
  status: "complete" | "incomplete" | "running";
  reason?: string;
  name: string;
  title?: string;
  population: number;
  days: number;
  seed: number;
  createdAt: string;
  headline: Record<string, number>;
}

/** A run started from the page, with its progress. */
export interface Job {
  id: string;
  run: string;
  scenario: string;
  population: number;
  days: number;
  seed: number;
  status: "running" | "writing" | "complete" | "failed" | "cancelled";
  progress: { day: number; days: number; date: string; phase: string; elapsedSeconds: number } | null;
  error?: string;
}
