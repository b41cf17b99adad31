import { SettingsError, type FilePriority as SettingsFilePriority, type FleetConfigPatch, type ShareAction as SettingsShareAction, type TorrentSettingsPatch } from '@seedbox/cluster';
import {
  CategoryMode,
  FilePriority,
  QueueDirection,
  ShareAction,
  type FilePriorityChange,
  type FleetConfigPatch as ProtoConfigPatch,
  type TorrentSettingsPatch as ProtoPatch,
} from '@seedbox/proto';
import { ControlError, type QueueMove } from './backend.js';

/**
 * Patch messages from a request into the settings model's patches. This
 * checks the shape a request can get wrong on the wire (an enum value the
 * proto does not name, NaN, a file index past the list); the rules of the
 * values themselves (no negative limit, a category that exists) are
 * applySettings' in @seedbox/cluster, which the backend runs.
 */

const PRIORITY: Partial<Record<FilePriority, SettingsFilePriority>> = {
  [FilePriority.FILE_PRIORITY_SKIP]: 'skip',
  [FilePriority.FILE_PRIORITY_NORMAL]: 'normal',
  [FilePriority.FILE_PRIORITY_HIGH]: 'high',
};

const SHARE_ACTION: Partial<Record<ShareAction, SettingsShareAction>> = {
  [ShareAction.SHARE_ACTION_PAUSE]: 'pause',
  [ShareAction.SHARE_ACTION_REMOVE]: 'remove',
  [ShareAction.SHARE_ACTION_REMOVE_WITH_DATA]: 'remove-with-data',
};

const QUEUE_MOVE: Partial<Record<QueueDirection, QueueMove>> = {
  [QueueDirection.QUEUE_DIRECTION_TOP]: 'top',
  [QueueDirection.QUEUE_DIRECTION_BOTTOM]: 'bottom',
  [QueueDirection.QUEUE_DIRECTION_UP]: 'up',
  [QueueDirection.QUEUE_DIRECTION_DOWN]: 'down',
};

const CATEGORY_MODE: Partial<Record<CategoryMode, 'create' | 'edit' | 'upsert'>> = {
  [CategoryMode.CATEGORY_MODE_CREATE]: 'create',
  [CategoryMode.CATEGORY_MODE_EDIT]: 'edit',
  [CategoryMode.CATEGORY_MODE_UPSERT]: 'upsert',
};

function enumValue<E extends number, T>(table: Partial<Record<E, T>>, value: E, field: string, names: string): T {
  const v = table[value];
  if (v === undefined) throw new ControlError('invalid-argument', `${field} must be one of ${names} (got ${value})`);
  return v;
}

/** Doubles can arrive as NaN or infinities: no rule reads those, so they are refused here, naming the rule they would break. */
function finite(v: number | undefined, field: string): number | undefined {
  if (v !== undefined && !Number.isFinite(v)) throw new SettingsError('share-limit', `${field} must be a number (got ${v})`);
  return v;
}

/**
 * A TorrentSettingsPatch message as the model's patch. `files` maps an
 * index of Torrent.files to the metainfo file it shows (visibleFiles);
 * undefined when the file list is not known yet (a magnet), in which case
 * a patch with file priorities is refused.
 */
export function torrentPatchFromProto(p: ProtoPatch | undefined, files: number[] | undefined): TorrentSettingsPatch {
  if (p === undefined) return {};
  const patch: TorrentSettingsPatch = {};
  if (p.category !== undefined) patch.category = p.category;
  if (p.tags !== undefined) patch.tags = p.tags.tags;
  if (p.addTags.length > 0) patch.addTags = p.addTags;
  if (p.removeTags.length > 0) patch.removeTags = p.removeTags;
  if (p.downloadLimit !== undefined || p.uploadLimit !== undefined) {
    patch.limits = {};
    if (p.downloadLimit !== undefined) patch.limits.download = p.downloadLimit;
    if (p.uploadLimit !== undefined) patch.limits.upload = p.uploadLimit;
  }
  const ratio = finite(p.ratioLimit, 'ratio_limit');
  if (ratio !== undefined || p.seedingTimeLimit !== undefined || p.inactiveSeedingTimeLimit !== undefined) {
    patch.share = {};
    if (ratio !== undefined) patch.share.ratio = ratio;
    if (p.seedingTimeLimit !== undefined) patch.share.seedingMinutes = p.seedingTimeLimit;
    if (p.inactiveSeedingTimeLimit !== undefined) patch.share.inactiveMinutes = p.inactiveSeedingTimeLimit;
  }
  if (p.forceStart !== undefined) patch.forceStart = p.forceStart;
  if (p.sequential !== undefined) patch.sequential = p.sequential;
  if (p.firstLastPiece !== undefined) patch.firstLastPiece = p.firstLastPiece;
  if (p.files.length > 0) patch.files = fileChangesFromProto(p.files, files);
  return patch;
}

/** File priority changes by metainfo index; see torrentPatchFromProto for `files`. */
export function fileChangesFromProto(changes: FilePriorityChange[], files: number[] | undefined): NonNullable<TorrentSettingsPatch['files']> {
  if (files === undefined) throw new ControlError('invalid-argument', 'file priorities need the file list, which a magnet URI does not have yet: set them with SetTorrent once its metadata is in');
  return changes.map((change, n) => ({
    priority: enumValue(PRIORITY, change.priority, `files[${n}].priority`, 'FILE_PRIORITY_SKIP, FILE_PRIORITY_NORMAL, FILE_PRIORITY_HIGH'),
    indices: change.indices.map((i) => {
      const meta = files[i];
      if (meta === undefined) throw new SettingsError('file-index', `file ${i} does not exist: the torrent has files 0 to ${files.length - 1}`);
      return meta;
    }),
  }));
}

/** Whether a patch message changes nothing (AddTorrent then skips it). */
export function torrentPatchIsEmpty(p: TorrentSettingsPatch): boolean {
  return Object.keys(p).length === 0;
}

export function configPatchFromProto(p: ProtoConfigPatch | undefined): FleetConfigPatch {
  if (p === undefined) return {};
  const patch: FleetConfigPatch = {};
  const pair = (download: number | undefined, upload: number | undefined) =>
    download === undefined && upload === undefined ? undefined : { ...(download !== undefined && { download }), ...(upload !== undefined && { upload }) };
  const speed = pair(p.downloadLimit, p.uploadLimit);
  if (speed) patch.speed = speed;
  const altSpeed = pair(p.altDownloadLimit, p.altUploadLimit);
  if (altSpeed) patch.altSpeed = altSpeed;
  if (p.altSpeedEnabled !== undefined) patch.altSpeedEnabled = p.altSpeedEnabled;
  const queue = {
    ...(p.queueingEnabled !== undefined && { enabled: p.queueingEnabled }),
    ...(p.maxActiveDownloads !== undefined && { maxActiveDownloads: p.maxActiveDownloads }),
    ...(p.maxActiveSeeds !== undefined && { maxActiveSeeds: p.maxActiveSeeds }),
    ...(p.maxActiveTorrents !== undefined && { maxActiveTorrents: p.maxActiveTorrents }),
    ...(p.ignoreSlowTorrents !== undefined && { ignoreSlow: p.ignoreSlowTorrents }),
    ...(p.slowDownloadRate !== undefined && { slowDownloadRate: p.slowDownloadRate }),
    ...(p.slowUploadRate !== undefined && { slowUploadRate: p.slowUploadRate }),
    ...(p.slowSeconds !== undefined && { slowSeconds: p.slowSeconds }),
  };
  if (Object.keys(queue).length > 0) patch.queue = queue;
  const ratio = finite(p.ratioLimit, 'ratio_limit');
  const share = {
    ...(ratio !== undefined && { ratio }),
    ...(p.seedingTimeLimit !== undefined && { seedingMinutes: p.seedingTimeLimit }),
    ...(p.inactiveSeedingTimeLimit !== undefined && { inactiveMinutes: p.inactiveSeedingTimeLimit }),
  };
  if (Object.keys(share).length > 0) patch.share = share;
  if (p.shareAction !== ShareAction.SHARE_ACTION_UNSPECIFIED) {
    patch.shareAction = enumValue(SHARE_ACTION, p.shareAction, 'share_action', 'SHARE_ACTION_PAUSE, SHARE_ACTION_REMOVE, SHARE_ACTION_REMOVE_WITH_DATA');
  }
  if (p.seedReplicas !== undefined) patch.seedReplicas = p.seedReplicas;
  if (p.privateSeedReplicas !== undefined) patch.privateSeedReplicas = p.privateSeedReplicas;
  return patch;
}

export function queueMoveFromProto(d: QueueDirection): QueueMove {
  return enumValue(QUEUE_MOVE, d, 'direction', 'QUEUE_DIRECTION_TOP, QUEUE_DIRECTION_BOTTOM, QUEUE_DIRECTION_UP, QUEUE_DIRECTION_DOWN');
}

export function categoryModeFromProto(m: CategoryMode): 'create' | 'edit' | 'upsert' {
  return enumValue(CATEGORY_MODE, m, 'mode', 'CATEGORY_MODE_CREATE, CATEGORY_MODE_EDIT, CATEGORY_MODE_UPSERT');
}
