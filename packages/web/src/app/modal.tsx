import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

/**
 * A modal dialog on the browser's own <dialog>: it keeps focus inside,
 * closes on Escape, and gives focus back to where it was when it closes.
 */
export function Modal(props: { title: string; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    const before = document.activeElement as HTMLElement | null;
    if (!d.open) d.showModal();
    return () => {
      if (d.open) d.close();
      before?.focus?.();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      class={props.wide ? 'modal modal-wide' : 'modal'}
      aria-label={props.title}
      onCancel={(e) => {
        e.preventDefault();
        props.onClose();
      }}
    >
      <header class="modal-head">
        <h2>{props.title}</h2>
        <button type="button" class="icon" aria-label="Close" onClick={props.onClose}>
          ×
        </button>
      </header>
      {props.children}
    </dialog>
  );
}

/** A form's refusal, read out by screen readers; nothing when there is none. */
export function FormError(props: { error: string }) {
  if (!props.error) return null;
  return (
    <p class="form-error" role="alert">
      {props.error}
    </p>
  );
}

/** A dialog form's foot: Cancel, and the submit button with its label. */
export function FormFoot(props: { submit: ComponentChildren; onCancel: () => void; busy?: boolean; danger?: boolean; cancelFirst?: boolean }) {
  return (
    <footer class="modal-foot">
      <button type="button" onClick={props.onCancel} autoFocus={props.cancelFirst}>
        Cancel
      </button>
      <button type="submit" class={props.danger ? 'danger' : 'primary'} disabled={props.busy}>
        {props.submit}
      </button>
    </footer>
  );
}

/** A category picker: "(none)" and each name. */
export function CategorySelect(props: { names: string[]; value: string; onChange: (name: string) => void }) {
  return (
    <label>
      Category
      <select name="category" value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
        <option value="">(none)</option>
        {props.names.map((n) => (
          <option key={n} value={n}>
            {n}
          </option>
        ))}
      </select>
    </label>
  );
}
