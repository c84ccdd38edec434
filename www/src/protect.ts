// `guard.protect(target)`: checks every file chosen in the file inputs of a form (or of a
// container, or one input) and stops a matching file from being submitted.
//
// - On selection: each file is checked in the guard's worker; the input is `aria-busy` while
//   it is checked, and one status element (a polite live region, created next to the input
//   with its space reserved so that messages never move the page) says what happened.
// - A blocked file is removed from the input (so even `form.submit()` cannot send it), the
//   input is marked `aria-invalid` and described by the message, which is announced
//   assertively. Submitting the form is refused until another file is chosen; the attempt
//   moves focus to the input.
// - Submitting while checks run waits for them, then submits (`requestSubmit`) if allowed.
// - Events on the input, bubbling and composed: `schoon:checking` ({ file }), `schoon:clean`,
//   `schoon:blocked`, `schoon:error` ({ file, result }). `schoon:blocked` and `schoon:error`
//   are cancelable: `preventDefault()` replaces the built-in message with the host's own.

import type { CheckResult } from './options.js';

/** The guard as `protect` needs it. */
interface Checker {
  check(file: Blob, options?: { signal?: AbortSignal }): Promise<CheckResult>;
  readonly options: { readonly failMode: 'open' | 'closed' };
}

/** The texts `protect` shows; each gets the file (and the result). */
export interface GuardMessages {
  checking(file: File): string;
  clean(file: File, result: CheckResult): string;
  blocked(file: File, result: CheckResult): string;
  /** A check that failed while the fail mode lets the upload through. */
  errorAllowed(file: File, result: CheckResult): string;
  /** A check that failed while the fail mode blocks the upload. */
  errorBlocked(file: File, result: CheckResult): string;
}

/** Options of `guard.protect()`. */
export interface ProtectOptions {
  /** Where messages go (default: a `<div class="schoon-status">` inserted after the input). */
  statusElement?: HTMLElement;
  /** Remove a blocked file from the input (default `true`). With `false` the input gets a
   * custom validity error instead, which blocks native submission but not `form.submit()`. */
  clearBlocked?: boolean;
  /** Replace some or all texts (English by default). */
  messages?: Partial<GuardMessages>;
}

/** What `protect` returns. */
export interface Protection {
  /** Resolves when every chosen file is checked: `true` when all of them may be uploaded. */
  settled(): Promise<boolean>;
  /** Removes the listeners (the status elements stay). */
  release(): void;
}

export const DEFAULT_MESSAGES: GuardMessages = {
  checking: (file) => `Checking ${file.name}…`,
  clean: (file) => `${file.name} checked.`,
  blocked: (file) =>
    `${file.name} cannot be uploaded: it matches a known child sexual abuse image. It has been removed.`,
  errorAllowed: (file) => `${file.name} could not be checked; it will be uploaded anyway.`,
  errorBlocked: (file) => `${file.name} could not be checked, so it cannot be uploaded now. Please try again later.`,
};

interface InputState {
  controller: AbortController | undefined;
  pending: Promise<boolean> | undefined;
  /** A file was blocked and nothing else has been chosen since. */
  blocked: boolean;
  status: HTMLElement;
}

let nextId = 1;

function resolveTarget(target: Element | string): Element {
  const el = typeof target === 'string' ? document.querySelector(target) : target;
  if (!el) throw new TypeError(`protect: no element matches '${String(target)}'`);
  return el;
}

function isFileInput(el: EventTarget | null): el is HTMLInputElement {
  return el instanceof HTMLInputElement && el.type === 'file';
}

export function protect(guard: Checker, target: Element | string, options: ProtectOptions): Protection {
  const root = resolveTarget(target);
  const messages: GuardMessages = { ...DEFAULT_MESSAGES, ...options.messages };
  const clearBlocked = options.clearBlocked ?? true;
  const states = new Map<HTMLInputElement, InputState>();
  const inputs = (): HTMLInputElement[] =>
    isFileInput(root) ? [root] : [...root.querySelectorAll<HTMLInputElement>('input[type=file]')];

  const statusFor = (input: HTMLInputElement): HTMLElement => {
    if (options.statusElement) return options.statusElement;
    const el = document.createElement('div');
    el.className = 'schoon-status';
    el.id = `schoon-status-${nextId++}`;
    el.setAttribute('role', 'status');
    el.setAttribute('aria-live', 'polite');
    // Space for two lines from the start: messages appear without moving what follows.
    el.style.minHeight = '3em';
    input.insertAdjacentElement('afterend', el);
    return el;
  };

  const stateOf = (input: HTMLInputElement): InputState => {
    let s = states.get(input);
    if (!s) {
      s = { controller: undefined, pending: undefined, blocked: false, status: statusFor(input) };
      states.set(input, s);
      const ids = new Set((input.getAttribute('aria-describedby') ?? '').split(/\s+/).filter(Boolean));
      if (!s.status.id) s.status.id = `schoon-status-${nextId++}`;
      ids.add(s.status.id);
      input.setAttribute('aria-describedby', [...ids].join(' '));
    }
    return s;
  };
  // Reserve the space (and describe the inputs) now, not when the first message appears.
  for (const input of inputs()) stateOf(input);

  const say = (s: InputState, text: string, urgent: boolean) => {
    s.status.setAttribute('aria-live', urgent ? 'assertive' : 'polite');
    s.status.dataset.state = urgent ? 'alert' : 'status';
    s.status.textContent = text;
  };

  const emit = (input: HTMLInputElement, type: string, detail: object, cancelable: boolean): boolean =>
    input.dispatchEvent(new CustomEvent(type, { bubbles: true, composed: true, cancelable, detail }));

  const removeFiles = (input: HTMLInputElement, remove: Set<File>) => {
    const keep = [...(input.files ?? [])].filter((f) => !remove.has(f));
    if (typeof DataTransfer === 'function') {
      try {
        const dt = new DataTransfer();
        for (const f of keep) dt.items.add(f);
        input.files = dt.files;
        return;
      } catch {
        // Fall through: clear the whole selection.
      }
    }
    input.value = '';
  };

  const select = (input: HTMLInputElement) => {
    const s = stateOf(input);
    s.controller?.abort();
    s.blocked = false;
    input.setCustomValidity('');
    input.removeAttribute('aria-invalid');
    const files = [...(input.files ?? [])];
    if (files.length === 0) {
      s.pending = undefined;
      say(s, '', false);
      return;
    }
    const controller = new AbortController();
    s.controller = controller;
    input.setAttribute('aria-busy', 'true');
    say(s, files.length === 1 ? messages.checking(files[0] as File) : files.map(messages.checking).join(' '), false);
    for (const file of files) emit(input, 'schoon:checking', { file }, false);
    s.pending = (async () => {
      let results: CheckResult[];
      try {
        results = await Promise.all(files.map((f) => guard.check(f, { signal: controller.signal })));
      } catch (e) {
        if (controller.signal.aborted) return false; // superseded by a newer selection
        throw e;
      }
      if (s.controller !== controller) return false;
      input.removeAttribute('aria-busy');
      const refused = new Set<File>();
      const alerts: string[] = [];
      const notes: string[] = [];
      results.forEach((result, i) => {
        const file = files[i] as File;
        if (result.verdict === 'clean') {
          emit(input, 'schoon:clean', { file, result }, false);
          const text = messages.clean(file, result);
          if (text) notes.push(text);
          return;
        }
        const type = result.verdict === 'blocked' ? 'schoon:blocked' : 'schoon:error';
        const builtin = emit(input, type, { file, result }, true);
        if (!result.allowed) refused.add(file);
        if (!builtin) return;
        if (result.verdict === 'blocked') alerts.push(messages.blocked(file, result));
        else if (result.allowed) notes.push(messages.errorAllowed(file, result));
        else alerts.push(messages.errorBlocked(file, result));
      });
      if (refused.size > 0) {
        s.blocked = true;
        input.setAttribute('aria-invalid', 'true');
        if (clearBlocked) removeFiles(input, refused);
        else input.setCustomValidity(alerts.join(' ') || 'This file cannot be uploaded.');
      }
      say(s, [...alerts, ...notes].join(' '), alerts.length > 0);
      return refused.size === 0;
    })();
    s.pending.catch(() => undefined);
  };

  const onChange = (event: Event) => {
    if (isFileInput(event.target) && (root === event.target || root.contains(event.target))) select(event.target);
  };

  const form = root instanceof HTMLFormElement ? root : (root.closest('form') ?? root.querySelector('form'));
  let resubmitting = false;
  const onSubmit = (event: SubmitEvent) => {
    if (resubmitting) return;
    const mine = inputs().filter((i) => i.form === form || !form);
    const blocked = mine.find((i) => states.get(i)?.blocked);
    if (blocked) {
      event.preventDefault();
      event.stopImmediatePropagation();
      blocked.focus();
      return;
    }
    const pending = mine.map((i) => states.get(i)?.pending).filter((p): p is Promise<boolean> => p !== undefined);
    if (pending.length === 0) return;
    // Checks still running (or done): hold the submission until all are settled.
    let settledNow = true;
    for (const i of mine) if (i.getAttribute('aria-busy') === 'true') settledNow = false;
    if (settledNow) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    const submitter = event.submitter;
    void Promise.all(pending).then((oks) => {
      const still = mine.find((i) => states.get(i)?.blocked);
      if (still || oks.includes(false)) {
        still?.focus();
        return;
      }
      // `requestSubmit` dispatches `submit` synchronously (after validation): let that one pass.
      resubmitting = true;
      try {
        if (submitter && form?.contains(submitter)) form.requestSubmit(submitter as HTMLElement);
        else form?.requestSubmit();
      } finally {
        resubmitting = false;
      }
    });
  };

  root.addEventListener('change', onChange, { capture: true });
  form?.addEventListener('submit', onSubmit as EventListener, { capture: true });

  return {
    async settled() {
      const oks = await Promise.all(inputs().map((i) => states.get(i)?.pending ?? Promise.resolve(true)));
      return oks.every(Boolean) && !inputs().some((i) => states.get(i)?.blocked);
    },
    release() {
      root.removeEventListener('change', onChange, { capture: true });
      form?.removeEventListener('submit', onSubmit as EventListener, { capture: true });
      for (const s of states.values()) s.controller?.abort();
    },
  };
}
