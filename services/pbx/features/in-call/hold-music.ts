/**
 * What a held or transferred caller hears, played by the PBX on that caller's leg: music on hold
 * (one decoded stream per class, `services/media/moh/`, fanned out to every listener on the shared
 * 20 ms media clock) or the national ringback tone.
 *
 * Classes come from the store (playlists of uploaded files under <dataDir>/moh/) and are re-read at each hold,
 * so `pbxctl moh add` reaches calls without a restart. Until a class named `default` is uploaded,
 * `default` is a built-in tune generated here.
 *
 * The phone hears our leg's own RTP stream while the music plays (its own SSRC, first packet with
 * the marker bit) and the far phone's stream again after: a clean source change (docs/decisions.md).
 */
import path from 'node:path';
import type { Logger } from '../../../log.js';
import type { MediaLeg, MediaOutput } from '../../../media/engine.js';
import { MusicOnHold } from '../../../media/moh/moh.js';
import type { Country } from '../../../media/tones/table.js';
import { DEFAULT_MOH_CLASS, type MohRepository } from '../../../store/in-call-schema.js';
import type { MediaClock } from '../media-clock.js';
import { Player, playTo } from '../player.js';
import { builtInTune, mohDir } from './moh-files.js';

export { builtInTune };

export interface HoldMusicDeps {
  clock: MediaClock;
  logger: Logger;
  repository: Pick<MohRepository, 'list'>;
  dataDir: string;
  country: Country;
}

/** Stops what a leg hears (and gives the leg back to its bridge). */
export type StopPlaying = () => void;

export class HoldMusic {
  readonly #deps: HoldMusicDeps;
  readonly #moh = new MusicOnHold();
  /** class → the stored file version loaded */
  readonly #loaded = new Map<string, string>();
  #listeners = 0;
  #unsubscribe: (() => void) | null = null;

  constructor(deps: HoldMusicDeps) {
    this.#deps = deps;
    this.#moh.addClass(DEFAULT_MOH_CLASS, builtInTune());
  }

  /** Loads classes added or changed since the last look (pbxctl runs in another process). */
  async refresh(): Promise<void> {
    const rows = this.#deps.repository.list();
    for (const row of rows) {
      // A class is a playlist: any file added, removed or replaced changes its version.
      const version = row.files.map((f) => `${f.file}@${f.createdAt}@${f.seconds}`).join('|');
      if (this.#loaded.get(row.name) === version) continue;
      try {
        await this.#moh.loadClass(row.name, row.files.map((f) => path.join(mohDir(this.#deps.dataDir), f.file)));
        this.#loaded.set(row.name, version);
      } catch (error) {
        this.#deps.logger.warn({ err: String(error), mohClass: row.name }, 'music-on-hold class could not be loaded');
      }
    }
    const names = new Set(rows.map((r) => r.name));
    for (const name of [...this.#loaded.keys()]) {
      if (names.has(name)) continue;
      this.#loaded.delete(name);
      if (name === DEFAULT_MOH_CLASS) this.#moh.addClass(DEFAULT_MOH_CLASS, builtInTune());
      else this.#moh.unload(name);
    }
  }

  has(name: string): boolean {
    return this.#moh.get(name) !== undefined;
  }

  /** Music of class `name` (the default class when it is not loaded) on `leg`, until stopped. */
  playMusic(leg: MediaLeg, name: string): StopPlaying {
    const className = this.has(name) ? name : DEFAULT_MOH_CLASS;
    const output = leg.attach({});
    const subscription = this.#moh.hold(className, (frame) => output.sendAudio(frame));
    this.#listen(+1);
    this.#deps.logger.info({ leg: leg.name, port: leg.localPort, mohClass: className }, 'music on hold');
    return this.#stopper(leg, () => {
      subscription.release();
      this.#listen(-1);
    });
  }

  /** The national ringback tone on `leg` (a caller being transferred), until stopped. */
  playRingback(leg: MediaLeg): StopPlaying {
    const output: MediaOutput = leg.attach({});
    const player = new Player();
    // Longer than any recall time; stopped when the transfer ends.
    player.play({ kind: 'tone', country: this.#deps.country, tone: 'ringback', ms: 3_600_000 });
    const stop = playTo(this.#deps.clock, player, output);
    return this.#stopper(leg, stop);
  }

  #stopper(leg: MediaLeg, release: () => void): StopPlaying {
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      release();
      if (!leg.closed) leg.detach();
    };
  }

  /** The classes advance on the media clock only while someone listens. */
  #listen(delta: number): void {
    this.#listeners += delta;
    if (this.#listeners > 0 && this.#unsubscribe === null) this.#unsubscribe = this.#deps.clock.subscribe(() => this.#moh.tick());
    else if (this.#listeners <= 0 && this.#unsubscribe !== null) {
      this.#unsubscribe();
      this.#unsubscribe = null;
      this.#listeners = 0;
    }
  }

  close(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
  }
}
