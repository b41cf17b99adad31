import { describe, expect, it } from 'vitest';
import { fromForm, toForm } from '../src/app/preferences-form.js';
import type { Preferences } from '../src/app/types.js';

const prefs: Partial<Preferences> = {
  dl_limit: 0,
  up_limit: 102_400,
  alt_dl_limit: 10_240,
  alt_up_limit: 0,
  queueing_enabled: true,
  max_active_downloads: 3,
  max_active_uploads: -1,
  max_active_torrents: 5,
  dont_count_slow_torrents: false,
  slow_torrent_dl_rate_threshold: 2,
  slow_torrent_ul_rate_threshold: 2,
  slow_torrent_inactive_timer: 60,
  max_ratio_enabled: false,
  max_ratio: -1,
  max_seeding_time_enabled: true,
  max_seeding_time: 1440,
  max_inactive_seeding_time_enabled: false,
  max_inactive_seeding_time: -1,
  max_ratio_act: 0,
  dht: true,
  encryption: 0,
};

describe('the settings form', () => {
  it('shows speeds in KiB/s, none as empty, a disabled share limit empty', () => {
    const v = toForm(prefs);
    expect(v).toMatchObject({ dl_limit: '', up_limit: '100', alt_dl_limit: '10', queueing_enabled: true, max_active_uploads: '-1', max_ratio: '', max_seeding_time: '1440', max_ratio_act: '0', dht: true, encryption: '0' });
  });

  it('sends nothing when nothing changed', () => {
    expect(fromForm(toForm(prefs), prefs)).toEqual({ ok: true, changes: {} });
  });

  it('sends what changed, speeds back in bytes per second', () => {
    const v = { ...toForm(prefs), dl_limit: '50', up_limit: '', max_active_downloads: '1', max_ratio_act: '3', encryption: '1' };
    expect(fromForm(v, prefs)).toEqual({ ok: true, changes: { dl_limit: 51_200, up_limit: 0, max_active_downloads: 1, max_ratio_act: 3, encryption: 1 } });
  });

  it('sends DHT switched off, and on again, only when it changed', () => {
    expect(fromForm({ ...toForm(prefs), dht: false }, prefs)).toEqual({ ok: true, changes: { dht: false } });
    const off = { ...prefs, dht: false };
    expect(toForm(off)).toMatchObject({ dht: false });
    expect(fromForm({ ...toForm(off), dht: true }, off)).toEqual({ ok: true, changes: { dht: true } });
    expect(fromForm(toForm(off), off)).toEqual({ ok: true, changes: {} });
  });

  it('a share limit switched on goes with its value; switched on without one is refused', () => {
    expect(fromForm({ ...toForm(prefs), max_ratio_enabled: true, max_ratio: '1.5' }, prefs)).toEqual({ ok: true, changes: { max_ratio_enabled: true, max_ratio: 1.5 } });
    expect(fromForm({ ...toForm(prefs), max_ratio_enabled: true }, prefs)).toEqual({ ok: false, error: 'Ratio: give a value' });
    // Switched off: the value box is not read.
    expect(fromForm({ ...toForm(prefs), max_seeding_time_enabled: false, max_seeding_time: 'junk' }, prefs)).toEqual({ ok: true, changes: { max_seeding_time_enabled: false } });
    // Switched on again with the value it had: both are sent.
    const off = { ...prefs, max_seeding_time_enabled: false };
    expect(fromForm({ ...toForm(off), max_seeding_time_enabled: true }, off)).toEqual({ ok: true, changes: { max_seeding_time_enabled: true, max_seeding_time: 1440 } });
  });

  it('refuses text that is not a number, fractions of counts and negative speeds, naming the field', () => {
    expect(fromForm({ ...toForm(prefs), max_active_torrents: 'many' }, prefs)).toEqual({ ok: false, error: 'Active torrents at most: many is not a number' });
    expect(fromForm({ ...toForm(prefs), max_active_torrents: '2.5' }, prefs)).toEqual({ ok: false, error: 'Active torrents at most: give a whole number' });
    expect(fromForm({ ...toForm(prefs), up_limit: '-5' }, prefs)).toEqual({ ok: false, error: 'Upload (KiB/s): a limit cannot be negative' });
  });
});
