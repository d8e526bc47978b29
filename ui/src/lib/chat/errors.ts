/** What the chat says when an answer fails, and which action fixes it (from the error's `kind`). */
import type { IpcErrorShape } from '../ipc';

/** The actions an answer's error can offer. */
export type FixAction = 'models' | 'retry' | 'library';

export interface AnswerProblem {
  /** One short sentence: what happened. */
  title: string;
  /** More detail: the error's own message, or what to do. */
  detail: string;
  /** The actions to offer, the one most likely to help first. */
  actions: FixAction[];
}

const MODEL_KINDS = new Set(['model', 'model_missing']);
const WORKER_KINDS = new Set(['worker', 'worker_crashed', 'worker_timeout']);

/** The message as a sentence: Rust's messages often end without a full stop. */
function sentence(message: string): string {
  const text = message.trim();
  return /[.!?…]$/.test(text) ? text : `${text}.`;
}

/** Describes a failed answer for the person asking, with the actions that fix it. */
export function describeAnswerError(error: IpcErrorShape): AnswerProblem {
  if (error.kind === 'model_missing') {
    return { title: 'No model is ready to answer', detail: error.message, actions: ['models', 'retry'] };
  }
  if (MODEL_KINDS.has(error.kind)) {
    return { title: 'The model could not answer', detail: error.message, actions: ['models', 'retry'] };
  }
  if (WORKER_KINDS.has(error.kind)) {
    return {
      title: 'The model stopped unexpectedly',
      detail: error.kind === 'worker_timeout' ? error.message : `${sentence(error.message)} Your question was not lost.`,
      actions: ['retry'],
    };
  }
  if (error.kind === 'no_backend') {
    return { title: 'Quire is not running as an app', detail: error.message, actions: [] };
  }
  return { title: 'The answer failed', detail: error.message, actions: ['retry'] };
}
