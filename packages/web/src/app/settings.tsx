import { useEffect, useState } from 'preact/hooks';
import type { Api } from './api.js';
import { CategoriesSettings } from './categories.js';
import { FormError, FormFoot, Modal } from './modal.js';
import { DHT_FIELD, ENCRYPTION_FIELD, fromForm, SECTIONS, toForm, type FieldSpec, type FormValues } from './preferences-form.js';
import { attempt, notify, reportFailure } from './toasts.js';
import type { Category, Preferences } from './types.js';

/**
 * The settings: app/preferences (speed limits and the alternative pair,
 * queueing, seeding rules, DHT, encryption) saved with app/setPreferences,
 * and the categories, which are saved one by one.
 */

function Field(props: { spec: FieldSpec; values: FormValues; set: (key: string, v: string | boolean) => void }) {
  const { spec, values, set } = props;
  const v = values[spec.key];
  if (spec.kind === 'bool') {
    return (
      <label class="check">
        <input type="checkbox" name={spec.key} checked={v === true} onChange={(e) => set(spec.key, e.currentTarget.checked)} />
        {spec.label}
      </label>
    );
  }
  const disabled = spec.enabledBy !== undefined && values[spec.enabledBy] !== true;
  return (
    <label class={disabled ? 'disabled' : undefined}>
      {spec.label}
      {spec.kind === 'choice' ? (
        <select name={spec.key} value={String(v ?? spec.choices?.[0]?.value ?? '')} onChange={(e) => set(spec.key, e.currentTarget.value)}>
          {(spec.choices ?? []).map((a) => (
            <option key={a.value} value={String(a.value)}>
              {a.label}
            </option>
          ))}
        </select>
      ) : (
        <input name={spec.key} inputMode={spec.kind === 'float' ? 'decimal' : 'numeric'} disabled={disabled} value={String(v ?? '')} onInput={(e) => set(spec.key, e.currentTarget.value)} />
      )}
      {spec.hint && <small class="hint">{spec.hint}</small>}
    </label>
  );
}

export function Settings(props: { api: Api; categories: Record<string, Category>; onClose: () => void; onSaved: () => void }) {
  const { api } = props;
  const [loaded, setLoaded] = useState<Preferences | undefined>(undefined);
  const [values, setValues] = useState<FormValues>({});
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api.preferences().then(
      (p) => {
        setLoaded(p);
        setValues(toForm(p));
      },
      (e: unknown) => {
        reportFailure('Reading the settings failed', e);
        props.onClose();
      },
    );
  }, []);

  async function save(e: Event) {
    e.preventDefault();
    if (!loaded) return;
    const result = fromForm(values, loaded);
    if (!result.ok) return setError(result.error);
    setError('');
    if (Object.keys(result.changes).length === 0) return props.onClose();
    setBusy(true);
    const ok = await attempt('Saving the settings failed', () => api.setPreferences(result.changes));
    setBusy(false);
    if (ok) {
      notify('Settings saved', 'info');
      props.onSaved();
      props.onClose();
    }
  }

  return (
    <Modal title="Settings" onClose={props.onClose} wide>
      <div class="modal-body settings">
        {!loaded ? (
          <p class="muted">Loading…</p>
        ) : (
          <form onSubmit={save} aria-label="Preferences">
            {SECTIONS.map((s) => (
              <fieldset key={s.title}>
                <legend>{s.title}</legend>
                <div class="fields">
                  {s.fields.map((f) => (
                    <Field key={f.key} spec={f} values={values} set={(k, v) => setValues({ ...values, [k]: v })} />
                  ))}
                </div>
              </fieldset>
            ))}
            <fieldset>
              <legend>Peer discovery and encryption</legend>
              <div class="fields">
                <Field spec={DHT_FIELD} values={values} set={(k, v) => setValues({ ...values, [k]: v })} />
                <label class="check disabled">
                  <input type="checkbox" name="pex" checked={loaded.pex === true} disabled />
                  Peer exchange (PeX)
                </label>
                <Field spec={ENCRYPTION_FIELD} values={values} set={(k, v) => setValues({ ...values, [k]: v })} />
              </div>
              <small class="hint">
                DHT on: every public torrent is looked up and announced on the DHT by the tracker-clients. Off: no torrent is looked up or announced there, though the DHT node keeps answering
                other nodes until the processes restart with SEEDBOX_DHT=false. Private torrents never go on the DHT, and peer exchange (not a switch here) is always on for public torrents and
                never for private ones. Encryption (MSE/PE) applies to new connections on every worker; connections already open keep theirs.
              </small>
            </fieldset>
            <FormError error={error} />
            <FormFoot submit="Save" onCancel={props.onClose} busy={busy} />
          </form>
        )}
        <CategoriesSettings api={api} categories={props.categories} onChanged={props.onSaved} />
      </div>
    </Modal>
  );
}
