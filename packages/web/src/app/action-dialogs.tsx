import { useState } from 'preact/hooks';
import { formatLimit, parseKiBps, toKiBps } from './format.js';
import { CategorySelect, FormError, FormFoot, Modal } from './modal.js';
import type { Category, Torrent } from './types.js';

/** The dialogs of the list's actions: remove (with or without the data), set category, set limits. */

function what(torrents: Torrent[]): string {
  return torrents.length === 1 ? `“${torrents[0]!.name}”` : `${torrents.length} torrents`;
}

export function RemoveDialog(props: { torrents: Torrent[]; onClose: () => void; onConfirm: (deleteFiles: boolean) => void }) {
  const [deleteFiles, setDeleteFiles] = useState(false);
  return (
    <Modal title="Remove torrents" onClose={props.onClose}>
      <form
        method="dialog"
        class="modal-body"
        onSubmit={(e) => {
          e.preventDefault();
          props.onConfirm(deleteFiles);
        }}
      >
        <p>Remove {what(props.torrents)} from the list?</p>
        <label class="check">
          <input type="checkbox" name="deleteFiles" checked={deleteFiles} onChange={(e) => setDeleteFiles(e.currentTarget.checked)} />
          Also delete the downloaded files
        </label>
        <FormFoot submit={deleteFiles ? 'Remove with data' : 'Remove'} onCancel={props.onClose} danger cancelFirst />
      </form>
    </Modal>
  );
}

export function CategoryDialog(props: { torrents: Torrent[]; categories: Record<string, Category>; onClose: () => void; onConfirm: (category: string) => void }) {
  const names = Object.keys(props.categories).sort();
  const common = props.torrents.every((t) => t.category === props.torrents[0]?.category) ? (props.torrents[0]?.category ?? '') : '';
  const [category, setCategory] = useState(common);
  return (
    <Modal title="Set category" onClose={props.onClose}>
      <form
        class="modal-body"
        onSubmit={(e) => {
          e.preventDefault();
          props.onConfirm(category);
        }}
      >
        <p>Category of {what(props.torrents)}:</p>
        <CategorySelect names={names} value={category} onChange={setCategory} />
        {names.length === 0 && <p class="hint">No category exists yet: create them in the settings.</p>}
        <FormFoot submit="Set" onCancel={props.onClose} />
      </form>
    </Modal>
  );
}

export function LimitsDialog(props: { torrents: Torrent[]; onClose: () => void; onConfirm: (download: number, upload: number) => void }) {
  const first = props.torrents[0];
  const [down, setDown] = useState(first ? toKiBps(first.dl_limit) : '');
  const [up, setUp] = useState(first ? toKiBps(first.up_limit) : '');
  const [error, setError] = useState('');
  return (
    <Modal title="Set speed limits" onClose={props.onClose}>
      <form
        class="modal-body"
        onSubmit={(e) => {
          e.preventDefault();
          const d = parseKiBps(down);
          const u = parseKiBps(up);
          if (d === undefined || u === undefined) return setError('A limit is a number of KiB/s, 0 or empty for none.');
          props.onConfirm(d, u);
        }}
      >
        <p>
          Limits of {what(props.torrents)}
          {props.torrents.length === 1 && first ? ` (now ↓ ${formatLimit(first.dl_limit)}, ↑ ${formatLimit(first.up_limit)})` : ''}. Empty or 0: no limit.
        </p>
        <label>
          Download limit (KiB/s)
          <input name="download" inputMode="numeric" value={down} onInput={(e) => setDown(e.currentTarget.value)} />
        </label>
        <label>
          Upload limit (KiB/s)
          <input name="upload" inputMode="numeric" value={up} onInput={(e) => setUp(e.currentTarget.value)} />
        </label>
        <FormError error={error} />
        <FormFoot submit="Set" onCancel={props.onClose} />
      </form>
    </Modal>
  );
}
