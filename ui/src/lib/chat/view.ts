/** What the conversation pane shows: saved messages and the answer being written, in one shape. */
import type { Citation, Message, RerankStatus, Source } from '../ipc';
import { citationFromSource } from './format';
import type { Dropped, LiveAnswer } from './session.svelte';

/** What an answer shows, saved or still being written. */
export interface AnswerView {
  content: string;
  /** The citations chips may point at. */
  citations: Citation[];
  sources: Source[];
  rerank: RerankStatus | null;
  notice: string | null;
  notInLibrary: boolean;
  /** Quire matched the citations to the answer (the model cited nothing). */
  attributed: boolean;
  dropped: Dropped | null;
  model: string | null;
}

export function savedAnswer(message: Message, dropped: Dropped | null): AnswerView {
  return {
    content: message.content,
    citations: message.citations ?? [],
    sources: message.sources ?? [],
    rerank: message.rerank ?? null,
    notice: message.notice,
    notInLibrary: message.not_in_library === true,
    attributed: message.attributed === true,
    dropped,
    model: message.model,
  };
}

/** While an answer is written, its chips point at the sources the model was given. */
export function liveAnswer(live: LiveAnswer): AnswerView {
  const sources = live.sources ?? [];
  const dropped = live.dropped.sources > 0 || live.dropped.history > 0 ? live.dropped : null;
  return {
    content: live.text,
    citations: sources.map(citationFromSource),
    sources,
    rerank: live.rerank,
    notice: null,
    notInLibrary: false,
    attributed: false,
    dropped,
    model: null,
  };
}

/** An answer stopped before its first word (Rust saved nothing): it stays on screen as stopped. */
export function stoppedEarly(): AnswerView {
  return {
    content: '',
    citations: [],
    sources: [],
    rerank: null,
    notice: 'stopped before the answer began',
    notInLibrary: false,
    attributed: false,
    dropped: null,
    model: null,
  };
}
