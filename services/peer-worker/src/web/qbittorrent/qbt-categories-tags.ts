import { checkTag } from '@seedbox/cluster';
import { json, text } from '../web-request.js';
import { MAX_LOOSE_TAGS, type QbtCall, type QbtHandler } from './qbt-context.js';
import { asQbtError, backendCall, QbtError } from './qbt-error.js';
import { requireText } from './qbt-params.js';
import { categoriesView, tagsView } from './qbt-torrents.js';

/**
 * Categories (the fleet's config) and tags (which live on torrents here)
 * as torrents/categories, createCategory, editCategory, removeCategories,
 * tags, createTags and deleteTags answer them. A category's folder is
 * relative to the data folder or absolute inside it; qBittorrent's
 * refusals of a name or an existing category are 409.
 */

function categoryName(call: QbtCall): string {
  const name = requireText(call.params, 'category');
  if (name === '') throw new QbtError('bad-params', 'Category cannot be empty');
  return name;
}

export const categories: QbtHandler = async ({ app }) => json(200, categoriesView(await backendCall(() => app.ctx.backend.config()), app.ctx.dataDir));

export const createCategory: QbtHandler = async (call) => {
  const name = categoryName(call);
  await backendCall(() => call.app.ctx.backend.putCategory(name, call.params.text('savePath') ?? '', 'create'));
  return text(200, '');
};

export const editCategory: QbtHandler = async (call) => {
  const name = categoryName(call);
  const savePath = requireText(call.params, 'savePath');
  await backendCall(() => call.app.ctx.backend.putCategory(name, savePath, 'edit'));
  return text(200, '');
};

/** `categories`: one name per line. Torrents in a removed category are left without one. */
export const removeCategories: QbtHandler = async (call) => {
  const names = requireText(call.params, 'categories')
    .split('\n')
    .map((n) => n.replace(/\r$/, ''))
    .filter((n) => n !== '');
  if (names.length > 0) await backendCall(() => call.app.ctx.backend.removeCategories(names));
  return text(200, '');
};

export const tags: QbtHandler = async ({ app }) => json(200, tagsView(await backendCall(() => app.ctx.backend.list()), app.looseTags));

function tagList(call: QbtCall): string[] {
  try {
    return requireText(call.params, 'tags')
      .split(',')
      .filter((t) => t.trim() !== '')
      .map(checkTag);
  } catch (e) {
    return asQbtError(e);
  }
}

/**
 * Tags live on torrents in this backend, so a tag made here before any
 * torrent has it is kept by this process only (see QbtApp.looseTags) and
 * listed until a torrent carries it or it is deleted.
 */
export const createTags: QbtHandler = async (call) => {
  const wanted = tagList(call);
  const inUse = new Set(tagsView(await backendCall(() => call.app.ctx.backend.list()), []));
  for (const t of wanted) {
    if (inUse.has(t) || call.app.looseTags.has(t)) continue;
    if (call.app.looseTags.size >= MAX_LOOSE_TAGS) throw new QbtError('conflict', `at most ${MAX_LOOSE_TAGS} tags can exist on no torrent; put some on torrents or delete them`);
    call.app.looseTags.add(t);
  }
  return text(200, '');
};

/** Deletes the tags from every torrent that has one, as qBittorrent's removeTag does. */
export const deleteTags: QbtHandler = async (call) => {
  const gone = tagList(call);
  for (const t of gone) call.app.looseTags.delete(t);
  const records = await backendCall(() => call.app.ctx.backend.list());
  for (const r of records) {
    if (r.settings.tags.some((t) => gone.includes(t))) await backendCall(() => call.app.ctx.backend.update(r.infoHashHex, { removeTags: gone }));
  }
  return text(200, '');
};
