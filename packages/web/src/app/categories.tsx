import { useState } from 'preact/hooks';
import type { Api } from './api.js';
import { attempt } from './toasts.js';
import type { Category } from './types.js';

/** Categories and their save folders: create, change the folder, remove (torrents/createCategory, editCategory, removeCategories). */

function CategoryRow(props: { api: Api; category: Category; onChanged: () => void }) {
  const { api, category } = props;
  const [path, setPath] = useState(category.savePath);
  const changed = path !== category.savePath;
  return (
    <li class="category-row">
      <span class="category-name">{category.name}</span>
      <input aria-label={`Save folder of ${category.name}`} value={path} placeholder="the default folder" onInput={(e) => setPath(e.currentTarget.value)} />
      <button type="button" disabled={!changed} onClick={async () => (await attempt(`Changing ${category.name} failed`, () => api.editCategory(category.name, path))) && props.onChanged()}>
        Save
      </button>
      <button type="button" class="danger" onClick={async () => (await attempt(`Removing ${category.name} failed`, () => api.removeCategories([category.name]))) && props.onChanged()}>
        Remove
      </button>
    </li>
  );
}

export function CategoriesSettings(props: { api: Api; categories: Record<string, Category>; onChanged: () => void }) {
  const { api } = props;
  const [name, setName] = useState('');
  const [path, setPath] = useState('');
  const list = Object.values(props.categories).sort((a, b) => a.name.localeCompare(b.name));

  async function create(e: Event) {
    e.preventDefault();
    if (name.trim() === '') return;
    if (await attempt(`Creating ${name.trim()} failed`, () => api.createCategory(name.trim(), path.trim()))) {
      setName('');
      setPath('');
      props.onChanged();
    }
  }

  return (
    <fieldset class="categories">
      <legend>Categories</legend>
      {list.length === 0 ? (
        <p class="muted">No categories yet.</p>
      ) : (
        <ul>
          {list.map((c) => (
            <CategoryRow key={`${c.name}\n${c.savePath}`} api={api} category={c} onChanged={props.onChanged} />
          ))}
        </ul>
      )}
      <form class="category-new" onSubmit={create} aria-label="New category">
        <input name="category" aria-label="New category name" placeholder="New category" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <input name="savePath" aria-label="Its save folder" placeholder="Save folder (optional)" value={path} onInput={(e) => setPath(e.currentTarget.value)} />
        <button type="submit">Create</button>
      </form>
    </fieldset>
  );
}
