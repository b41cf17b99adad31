import { useState } from 'preact/hooks';
import type { Api } from './api.js';
import { formatBytes, linksOf } from './format.js';
import { CategorySelect, FormError, FormFoot, Modal } from './modal.js';
import { reportFailure } from './toasts.js';
import type { Category } from './types.js';

/**
 * Adding torrents: .torrent files dropped on the page or picked, magnet
 * links or URLs pasted (one a line, several at once), with a category, a
 * save folder, start stopped and sequential download. One torrents/add
 * call carries them all.
 */

function torrentFiles(list: FileList | null | undefined): File[] {
  return [...(list ?? [])].filter((f) => f.name.toLowerCase().endsWith('.torrent') || f.type === 'application/x-bittorrent');
}

export function AddDialog(props: { api: Api; categories: Record<string, Category>; initialFiles: File[]; onClose: () => void; onAdded: () => void }) {
  const [files, setFiles] = useState<File[]>(props.initialFiles);
  const [links, setLinks] = useState('');
  const [category, setCategory] = useState('');
  const [savepath, setSavepath] = useState('');
  const [stopped, setStopped] = useState(false);
  const [sequential, setSequential] = useState(false);
  const [dragging, setDragging] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const names = Object.keys(props.categories).sort();

  const addFiles = (more: File[]) => setFiles((before) => [...before, ...more.filter((f) => !before.some((b) => b.name === f.name && b.size === f.size))]);

  async function submit(e: Event) {
    e.preventDefault();
    const urls = linksOf(links);
    if (files.length === 0 && urls.length === 0) return setError('Pick or drop a .torrent file, or paste a magnet link or URL.');
    setBusy(true);
    setError('');
    try {
      const answer = await props.api.add({ files, urls, category, savepath, stopped, sequential });
      if (answer.trim() === 'Fails.') setError('The server added none of them: check the files and links.');
      else {
        props.onAdded();
        props.onClose();
      }
    } catch (err) {
      reportFailure('Adding failed', err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal title="Add torrents" onClose={props.onClose} wide>
      <form class="modal-body add-form" onSubmit={submit}>
        <div
          class={dragging ? 'dropzone dragging' : 'dropzone'}
          onDragOver={(e) => {
            e.preventDefault();
            setDragging(true);
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={(e) => {
            e.preventDefault();
            e.stopPropagation();
            setDragging(false);
            addFiles(torrentFiles(e.dataTransfer?.files));
          }}
        >
          <p>Drop .torrent files here, or</p>
          <label class="button">
            Choose files…
            <input
              class="visually-hidden"
              type="file"
              name="torrents"
              multiple
              accept=".torrent,application/x-bittorrent"
              onChange={(e) => {
                addFiles(torrentFiles(e.currentTarget.files));
                e.currentTarget.value = '';
              }}
            />
          </label>
          {files.length > 0 && (
            <ul class="file-chips">
              {files.map((f) => (
                <li key={`${f.name}/${f.size}`}>
                  {f.name} <span class="muted">{formatBytes(f.size)}</span>
                  <button type="button" class="icon" aria-label={`Do not add ${f.name}`} onClick={() => setFiles(files.filter((x) => x !== f))}>
                    ×
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
        <label>
          Magnet links or URLs, one a line
          <textarea name="urls" rows={3} spellcheck={false} placeholder="magnet:?xt=urn:btih:…" value={links} onInput={(e) => setLinks(e.currentTarget.value)} />
        </label>
        <div class="row">
          <CategorySelect names={names} value={category} onChange={setCategory} />
          <label>
            Save folder
            <input name="savepath" placeholder={category ? (props.categories[category]?.savePath ?? '') || 'the category’s folder' : 'the default folder'} value={savepath} onInput={(e) => setSavepath(e.currentTarget.value)} />
          </label>
        </div>
        <label class="check">
          <input type="checkbox" name="stopped" checked={stopped} onChange={(e) => setStopped(e.currentTarget.checked)} />
          Add stopped (do not start)
        </label>
        <label class="check">
          <input type="checkbox" name="sequentialDownload" checked={sequential} onChange={(e) => setSequential(e.currentTarget.checked)} />
          Download in sequential order
        </label>
        <FormError error={error} />
        <FormFoot submit="Add" onCancel={props.onClose} busy={busy} />
      </form>
    </Modal>
  );
}

/** Files dragged onto the page, for the add dialog; null when the drag holds no files. */
export function droppedTorrents(e: DragEvent): File[] | null {
  if (!e.dataTransfer || ![...e.dataTransfer.types].includes('Files')) return null;
  return torrentFiles(e.dataTransfer.files);
}
