// `<schoon-upload>`: a light-DOM wrapper that protects the file inputs inside it (no shadow
// DOM: the inputs stay ordinary form controls, styled and submitted by the page).
//
//   <schoon-upload filter-url="/schoon/filter" public-key="6992b9aa…" confirm-url="/v1/confirm">
//     <input type="file" name="photo" accept="image/*">
//   </schoon-upload>
//
// Attributes: filter-url, public-key (required), confirm-url, fail-mode ('open' | 'closed'),
// decoder ('auto' | 'wasm' | 'platform'). Or set `element.guard` to a guard made with
// `createGuard` before the element is connected (to share one guard between elements).

import { createGuard, type Guard } from './guard.js';
import type { DecoderMode, FailMode, GuardOptions } from './options.js';
import type { Protection } from './protect.js';

/** The element class; registered by `defineSchoonUpload()`. */
export function schoonUploadClass(): CustomElementConstructor {
  return class SchoonUpload extends HTMLElement {
    guard: Guard | undefined;
    #protection: Protection | undefined;

    connectedCallback(): void {
      if (this.#protection) return;
      if (!this.guard) {
        const filterUrl = this.getAttribute('filter-url');
        const publicKey = this.getAttribute('public-key');
        if (!filterUrl || !publicKey) {
          throw new TypeError('<schoon-upload> needs filter-url and public-key attributes (or a guard property)');
        }
        const options: GuardOptions = { filterUrl, publicKey };
        const confirmUrl = this.getAttribute('confirm-url');
        if (confirmUrl) options.confirmUrl = confirmUrl;
        const failMode = this.getAttribute('fail-mode');
        if (failMode) options.failMode = failMode as FailMode;
        const decoder = this.getAttribute('decoder');
        if (decoder) options.decoder = decoder as DecoderMode;
        this.guard = createGuard(options);
      }
      void this.guard.filter(); // fetch and verify the filter before the first file
      this.#protection = this.guard.protect(this);
    }

    disconnectedCallback(): void {
      this.#protection?.release();
      this.#protection = undefined;
    }

    /** Resolves when every chosen file is checked: `true` when all may be uploaded. */
    settled(): Promise<boolean> {
      return this.#protection?.settled() ?? Promise.resolve(true);
    }
  };
}

/** Registers `<schoon-upload>` (idempotent). */
export function defineSchoonUpload(name = 'schoon-upload'): void {
  if (typeof customElements !== 'undefined' && !customElements.get(name)) {
    customElements.define(name, schoonUploadClass());
  }
}
