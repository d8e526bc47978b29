/**
 * The settings form: the values as typed (strings, so a half-typed number is kept as it is), the checks
 * Rust makes (quire-core settings.rs `Settings::problems`, mirrored so a mistake shows before Save), and
 * Rust's own messages placed next to the field they name.
 */
import type { GpuLayers, Settings, Theme } from '../ipc';

/** The numeric fields of the form. */
export type FieldKey =
  | 'temperature'
  | 'top_p'
  | 'max_tokens'
  | 'repeat_penalty'
  | 'top_k'
  | 'chunk_tokens'
  | 'chunk_overlap'
  | 'gpu_layers'
  | 'context_size'
  | 'threads';

export type GpuChoice = 'all' | 'none' | 'custom';

/** The form's values. */
export interface Draft {
  temperature: string;
  top_p: string;
  max_tokens: string;
  repeat_penalty: string;
  top_k: string;
  chunk_tokens: string;
  chunk_overlap: string;
  gpu: GpuChoice;
  /** The layer count, for `gpu: 'custom'`. */
  gpu_layers: string;
  context_size: string;
  threads: string;
  theme: Theme;
}

export type Problems = Partial<Record<FieldKey, string>>;

export function toDraft(s: Settings): Draft {
  const gpu = s.runtime.gpu_layers;
  return {
    temperature: String(s.generation.temperature),
    top_p: String(s.generation.top_p),
    max_tokens: String(s.generation.max_tokens),
    repeat_penalty: String(s.generation.repeat_penalty),
    top_k: String(s.retrieval.top_k),
    chunk_tokens: String(s.retrieval.chunk_tokens),
    chunk_overlap: String(s.retrieval.chunk_overlap),
    gpu: typeof gpu === 'number' ? 'custom' : gpu,
    gpu_layers: typeof gpu === 'number' ? String(gpu) : '',
    context_size: String(s.runtime.context_size),
    threads: String(s.runtime.threads),
    theme: s.appearance.theme,
  };
}

function number(text: string): number | null {
  const t = text.trim();
  if (t === '') return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

function whole(text: string): number | null {
  const n = number(text);
  return n !== null && Number.isInteger(n) ? n : null;
}

function between(text: string, min: number, max: number): string | undefined {
  const n = number(text);
  return n !== null && n >= min && n <= max ? undefined : `Enter a number from ${min} to ${max}.`;
}

function wholeBetween(text: string, min: number, max: number): string | undefined {
  const n = whole(text);
  return n !== null && n >= min && n <= max ? undefined : `Enter a whole number from ${min} to ${max}.`;
}

/** What is wrong with the form, by field (empty when it can be saved). */
export function validate(d: Draft): Problems {
  const p: Problems = {};
  p.temperature = between(d.temperature, 0, 2);
  const topP = number(d.top_p);
  if (topP === null || topP <= 0 || topP > 1) p.top_p = 'Enter a number above 0, at most 1.';
  p.max_tokens = wholeBetween(d.max_tokens, 16, 8192);
  p.repeat_penalty = between(d.repeat_penalty, 1, 2);
  p.top_k = wholeBetween(d.top_k, 1, 32);
  p.chunk_tokens = wholeBetween(d.chunk_tokens, 64, 512);
  const chunk = whole(d.chunk_tokens);
  const overlap = whole(d.chunk_overlap);
  if (overlap === null || overlap < 0) p.chunk_overlap = 'Enter a whole number of tokens, 0 or more.';
  else if (chunk !== null && overlap > Math.floor(chunk / 2))
    p.chunk_overlap = `At most half the chunk size: ${Math.floor(chunk / 2)} tokens.`;
  if (d.gpu === 'custom') p.gpu_layers = wholeBetween(d.gpu_layers, 0, 1000);
  p.context_size = wholeBetween(d.context_size, 512, 131072);
  p.threads = wholeBetween(d.threads, 0, 1024);
  for (const key of Object.keys(p) as FieldKey[]) if (p[key] === undefined) delete p[key];
  return p;
}

/** The settings the form describes, on top of `base` (whose model choices it keeps). Call on a valid draft. */
export function fromDraft(d: Draft, base: Settings): Settings {
  const gpu: GpuLayers = d.gpu === 'custom' ? Number(d.gpu_layers.trim()) : d.gpu;
  return {
    generation: {
      temperature: Number(d.temperature.trim()),
      top_p: Number(d.top_p.trim()),
      max_tokens: Number(d.max_tokens.trim()),
      repeat_penalty: Number(d.repeat_penalty.trim()),
    },
    retrieval: {
      top_k: Number(d.top_k.trim()),
      chunk_tokens: Number(d.chunk_tokens.trim()),
      chunk_overlap: Number(d.chunk_overlap.trim()),
    },
    runtime: {
      gpu_layers: gpu,
      context_size: Number(d.context_size.trim()),
      threads: Number(d.threads.trim()),
    },
    models: { ...base.models },
    appearance: { theme: d.theme },
  };
}

/** Whether two drafts describe the same settings (a number typed as "0.70" is the same as "0.7"). */
export function sameDraft(a: Draft, b: Draft): boolean {
  for (const key of Object.keys(a) as (keyof Draft)[]) {
    if (key === 'gpu_layers' && a.gpu !== 'custom' && b.gpu !== 'custom') continue;
    const x = a[key];
    const y = b[key];
    if (x === y) continue;
    const nx = number(x);
    const ny = number(y);
    if (nx === null || ny === null || nx !== ny) return false;
  }
  return true;
}

/** Whether saving `d` over `saved` changes how the library is chunked (Rust re-indexes it then). */
export function rechunks(d: Draft, saved: Settings): boolean {
  return (
    whole(d.chunk_tokens) !== saved.retrieval.chunk_tokens || whole(d.chunk_overlap) !== saved.retrieval.chunk_overlap
  );
}

/** How Rust's messages begin, per field (settings.rs `problems`). */
const SERVER_NAMES: [string, FieldKey][] = [
  ['Temperature', 'temperature'],
  ['Top-p', 'top_p'],
  ['Max tokens', 'max_tokens'],
  ['Repeat penalty', 'repeat_penalty'],
  ['Passages per answer', 'top_k'],
  ['Chunk size', 'chunk_tokens'],
  ['Chunk overlap', 'chunk_overlap'],
  ['Context size', 'context_size'],
  ['Threads', 'threads'],
  ['GPU layers', 'gpu_layers'],
];

/**
 * Splits an `invalid_input` message from `save_settings` (sentences, each naming a setting) into the
 * problems of the fields it names and the rest.
 */
export function serverProblems(message: string): { fields: Problems; rest: string } {
  const fields: Problems = {};
  const rest: string[] = [];
  for (const sentence of message.split(/(?<=\.)\s+(?=[A-Z])/)) {
    const text = sentence.trim();
    if (!text) continue;
    const match = SERVER_NAMES.find(([name]) => text.startsWith(name));
    if (match && fields[match[1]] === undefined) fields[match[1]] = text;
    else rest.push(text);
  }
  return { fields, rest: rest.join(' ') };
}
