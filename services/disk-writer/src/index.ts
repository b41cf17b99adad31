/** @seedbox/disk-writer: verifies pieces and writes them to the shared volume (the files themselves are @seedbox/storage). */
export * from './piece-sink.js';
export { DiskWriter, type DiskWriterOptions } from './disk-writer.js';
export { WriteFigures, counted, type WriteFiguresView } from './write-figures.js';
export * from './service.js';
