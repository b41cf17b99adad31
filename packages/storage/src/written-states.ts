import type { FileStats } from './sha1-hasher.js';

/**
 * Each file's state (size, modification time, blocks) as a write of ours
 * left it: the hash thread fstats each file it writes, right after the
 * bytes are down (TargetsWritten.stats). The resume data keeps these, so
 * saving it after a download need not stat every file by path: for 10,000
 * files that was ~90 ms between the last piece and the exit, one lookup of
 * every path in the kernel.
 *
 * A state is kept only from a write that had the file to itself from start
 * to answer. Two writes to one file at once may land in different threads
 * in any order, so neither's fstat is known to follow the other's bytes;
 * such a file, and one being written now, has no state here and is
 * stat'ed as before. A state kept too old (the file changed since) makes
 * the next start check the file's pieces again, which is slower and never
 * wrong: resume data is trusted only when every file still matches it.
 */
export class WrittenStates {
  /** Writes under way, by file. */
  private readonly writing = new Map<number, number>();
  /** Files with two writes under way at once since they last had none. */
  private readonly overlapped = new Set<number>();
  private readonly states = new Map<number, FileStats>();

  /** A write to the file starts: what is known of it ends here. */
  begin(file: number): void {
    const n = (this.writing.get(file) ?? 0) + 1;
    this.writing.set(file, n);
    this.states.delete(file);
    if (n > 1) this.overlapped.add(file);
  }

  /** It ended; `state` is the file as it left it, when it wrote. */
  end(file: number, state: FileStats | undefined): void {
    const n = (this.writing.get(file) ?? 1) - 1;
    if (state && !this.overlapped.has(file)) this.states.set(file, state);
    if (n > 0) {
      this.writing.set(file, n);
    } else {
      this.writing.delete(file);
      this.overlapped.delete(file);
    }
  }

  /** Forgets every state kept (writes under way still count): the disk is to be looked at afresh. */
  forget(): void {
    this.states.clear();
  }

  /** The file as our last write left it, if that is known and nothing writes it now. */
  get(file: number): FileStats | undefined {
    return this.writing.has(file) ? undefined : this.states.get(file);
  }
}
